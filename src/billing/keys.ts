/**
 * Billing keys at rest. A Toss billing key can charge a card without the user, so it is a secret
 * like diary text: sealed with the keyring (AES-256-GCM, the subscription id as context, so a
 * sealed key cannot be moved to another subscription), unique by its SHA-256 digest, and shown to
 * operators only as its last four characters.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { DecryptionError, type Keyring, open, reseal, seal } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { recordError } from '../errorlog.ts';

export interface SealedBillingKey {
  billing_key_enc: Buffer;
  billing_key_digest: Buffer;
  billing_key_hint: string;
}

function context(subscriptionId: string): string {
  return `billing-key:${subscriptionId}`;
}

export function billingKeyDigest(billingKey: string): Buffer {
  return createHash('sha256').update(billingKey, 'utf8').digest();
}

export function sealBillingKey(
  keyring: Keyring,
  subscriptionId: string,
  billingKey: string,
): SealedBillingKey {
  return {
    billing_key_enc: seal(keyring, billingKey, context(subscriptionId)),
    billing_key_digest: billingKeyDigest(billingKey),
    billing_key_hint: billingKey.slice(-4),
  };
}

export function openBillingKey(keyring: Keyring, subscriptionId: string, sealed: Buffer): string {
  return open(keyring, sealed, context(subscriptionId));
}

/** How an operator sees a billing key: never whole. */
export function maskBillingKey(hint: string | null): string {
  return hint ? `****${hint}` : '(none)';
}

/** The id of the key sealing a subscription's billing key, read from the ciphertext header in SQL. */
const SEALING_KEY_ID = sql<string>`convert_from(substring(s.billing_key_enc from 3 for get_byte(s.billing_key_enc, 1)), 'UTF8')`;

/** A billing key this rotation could not open: recorded in the subscription's history, passed over after. */
function notSkipped(rotationId: number | null) {
  return sql<boolean>`not exists (
    select 1 from public.subscription_history h
    where h.subscription_id = s.id and h.event = 'operator_alert'
      and h.detail->>'problem' = 'billing key cannot be opened' and h.detail->>'rotation' = ${String(rotationId ?? 0)})`;
}

/** Sealed billing keys per sealing key id (what `keys status` and a rotation count besides diary entries). */
export async function billingKeysByKey(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await sql<{ key_id: string; n: number }>`
    select ${SEALING_KEY_ID} as key_id, count(*)::int as n
    from public.subscriptions s where s.billing_key_enc is not null group by 1`.execute(db);
  return new Map(rows.rows.map((r) => [r.key_id, r.n]));
}

/** Billing keys not yet under the active key that this rotation has not given up on. */
export async function billingKeysLeft(
  db: Kysely<Database>,
  activeKeyId: string,
  rotationId: number | null,
): Promise<number> {
  const row = await sql<{ n: number }>`
    select count(*)::int as n from public.subscriptions s
    where s.billing_key_enc is not null and ${SEALING_KEY_ID} <> ${activeKeyId} and ${notSkipped(rotationId)}`.execute(
    db,
  );
  return row.rows[0]?.n ?? 0;
}

export interface BillingResealResult {
  /** Billing keys re-sealed under the active key. */
  done: number;
  /** Billing keys that failed to open (tampered): an operator alert each, passed over by this rotation. */
  skipped: number;
  /** Rows looked at: a full batch means there may be more. */
  selected: number;
}

/**
 * Part of a key rotation's batch (`keys.reencrypt`), in its transaction: up to `limit` billing
 * keys not sealed with the active key, locked FOR UPDATE SKIP LOCKED (a renewal holding the row
 * is left for the next batch), re-sealed with the subscription id as context. The digest and the
 * hint do not change: the key itself does not. A key that fails to open is recorded once per
 * rotation (subscription history, an operator alert; error_logs names the key id only) and
 * passed over; the renewal of that subscription will fail the same way until a card is re-issued.
 */
export async function resealBillingKeys(
  trx: Kysely<Database>,
  keyring: Keyring,
  options: { limit: number; rotationId: number | null; requestId?: string | null },
): Promise<BillingResealResult> {
  const rows = await sql<{ id: string; billing_key_enc: Buffer; key_id: string }>`
    select s.id, s.billing_key_enc, ${SEALING_KEY_ID} as key_id
    from public.subscriptions s
    where s.billing_key_enc is not null and ${SEALING_KEY_ID} <> ${keyring.active.id} and ${notSkipped(options.rotationId)}
    order by s.id
    limit ${options.limit}
    for update of s skip locked`.execute(trx);
  const ids: string[] = [];
  const sealed: Buffer[] = [];
  let skipped = 0;
  for (const row of rows.rows) {
    try {
      const fresh = reseal(keyring, row.billing_key_enc, context(row.id));
      if (fresh) {
        ids.push(row.id);
        sealed.push(fresh);
      }
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      skipped += 1;
      await trx
        .insertInto('subscription_history')
        .values({
          subscription_id: row.id,
          event: 'operator_alert',
          detail: JSON.stringify({
            problem: 'billing key cannot be opened',
            rotation: String(options.rotationId ?? 0),
            key_id: row.key_id,
          }),
        })
        .execute();
      await recordError(trx, {
        service: 'billing',
        severity: 'error',
        refId: row.id,
        message: `keys.reencrypt could not re-seal the billing key: ${error.message}`,
        context: {
          rotation: String(options.rotationId ?? 0),
          key_id: row.key_id,
          target_key_id: keyring.active.id,
          request_id: options.requestId ?? null,
        },
      });
    }
  }
  if (ids.length > 0) {
    await sql`
      update public.subscriptions s set billing_key_enc = v.enc
      from unnest(${ids}::uuid[], ${sealed}::bytea[]) as v(id, enc)
      where s.id = v.id`.execute(trx);
  }
  return { done: ids.length, skipped, selected: rows.rows.length };
}
