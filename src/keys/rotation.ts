/**
 * Key rotation: which key seals how many diary entries, and re-encrypting the entries sealed with
 * older keys under the active one, one batch at a time — for the `keys.reencrypt` job and for
 * `sumda keys rotate --inline`, through the same `reencryptBatch`.
 *
 * Glossary
 * - *active key*: the first key of SUMDA_ENCRYPTION_KEYS. It seals new text and is the target of a rotation.
 * - *old key*: configured after the active one; it still opens entries but seals nothing new.
 * - *unconfigured key*: an id in `diary_entries.content_key_id` that no configured key has. Its entries
 *   cannot be opened (by this process) until the key is put back.
 * - *rotation*: one `sumda keys rotate`, identified by its admin.audit_log row, which names the target
 *   key. The work left is always "entries whose content_key_id is not the active id", so a rotation is
 *   resumable by construction: whoever stopped, wherever, the next batch simply picks up what is left.
 * - *skipped entry*: one that failed to open during a rotation (tampered, or sealed for another row,
 *   or its key is gone). It is recorded once in sumda.rotation_skips (the rotation's audit id, the
 *   entry) — and logged in admin.error_logs for operators, a log nothing decides by — and not tried
 *   again in that rotation; the next `sumda keys rotate` is a new rotation and tries it once more.
 *
 * Plaintext exists only inside `reencryptBatch`, between open() and seal(), and never leaves it:
 * results, logs, error rows, audit rows and job outputs carry ids, key ids and counts.
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, type OperationWithActor, writeAudit } from '../audit/index.ts';
import { billingKeysByKey, billingKeysLeft, resealBillingKeys } from '../billing/keys.ts';
import { DecryptionError, type Keyring, reseal } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { recordError } from '../errorlog.ts';
import { SumdaError, UsageError } from '../errors.ts';
import { enqueue, type PgBoss } from '../queue/boss.ts';
import { deadLetterName, QUEUES } from '../queue/catalog.ts';
import { isNoQueueSchema, QUERIES } from '../queue/plans.ts';
import { seoulDate } from '../time/calendar.ts';

export const ROTATE_ACTION = 'keys.rotate';
/** The re-encryption chain is one job at a time: the queue is stately, and every job uses this key. */
export const REENCRYPT_SINGLETON = 'rotation';
/** pg-boss's error code for a send to a queue that was never created. */
const QUEUE_NOT_FOUND = 'PGBOSS_QUEUE_NOT_FOUND';
/** Batch size of `keys rotate` and of the job when none is given. */
export const DEFAULT_BATCH_SIZE = 500;
/** Entries locked by other transactions (the app writing) are skipped; look again after this long. */
const LOCKED_RETRY_SECONDS = 5;
/** Same pattern as SUMDA_ENCRYPTION_KEYS ids (src/config): 1–32 ASCII characters in the header. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

export type KeyState = 'active' | 'old' | 'unconfigured';

export interface KeyUsage {
  keyId: string;
  state: KeyState;
  entries: number;
}

/** Entries per content_key_id: one grouped query on the indexed generated column. */
export async function entriesByKey(db: Kysely<Database>): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('diary_entries')
    .select((eb) => ['content_key_id', eb.fn.countAll<number>().as('entries')])
    .groupBy('content_key_id')
    .execute();
  return new Map(rows.map((r) => [r.content_key_id, Number(r.entries)]));
}

/** Every configured key in configuration order (active first), then the unconfigured ones that seal entries. */
export function keyUsage(keyring: Keyring, counts: ReadonlyMap<string, number>): KeyUsage[] {
  const configured: KeyUsage[] = [...keyring.keys.keys()].map((keyId) => ({
    keyId,
    state: keyId === keyring.active.id ? 'active' : 'old',
    entries: counts.get(keyId) ?? 0,
  }));
  const unconfigured: KeyUsage[] = [...counts]
    .filter(([keyId]) => !keyring.keys.has(keyId))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([keyId, entries]) => ({ keyId, state: 'unconfigured', entries }));
  return [...configured, ...unconfigured];
}

export interface Rotation {
  /** The audit row of the `keys rotate` that started it. */
  id: number;
  at: Date;
  actor: string | null;
  /** The key it re-encrypts to. */
  target: string;
}

/** The latest rotation (its audit row), if any: what the job re-encrypts to and which failures count. */
export async function latestRotation(db: Kysely<Database>): Promise<Rotation | undefined> {
  const row = await db
    .selectFrom('admin.audit_log')
    .select(['id', 'at', 'actor_email', sql<string | null>`after->>'activeKeyId'`.as('target')])
    .where('action', '=', ROTATE_ACTION)
    .where('outcome', '=', 'success')
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row?.target) return undefined;
  return { id: row.id, at: new Date(row.at), actor: row.actor_email, target: row.target };
}

export interface ReencryptJobs {
  /** Waiting to run (created, or retrying after a failure). */
  queued: number;
  active: number;
  /** Failed past the retry limit, parked in keys.reencrypt.dead for an operator. */
  deadLettered: number;
}

export async function reencryptJobs(db: Kysely<Database>): Promise<ReencryptJobs> {
  const name = QUEUES.keysReencrypt.name;
  const jobs: ReencryptJobs = { queued: 0, active: 0, deadLettered: 0 };
  const rows = await QUERIES.stateCounts(name, deadLetterName(name))
    .execute(db)
    .catch((error: unknown) => {
      // No pg-boss schema yet (no worker has started, migrate ran with --skip-queues): no jobs.
      if (isNoQueueSchema(error)) return { rows: [] };
      throw error;
    });
  for (const r of rows.rows) {
    if (r.name !== name) jobs.deadLettered += r.n;
    else if (r.state === 'active') jobs.active += r.n;
    else jobs.queued += r.n;
  }
  return jobs;
}

/** Entries of a rotation recorded as failed to open that are still not under its key. */
async function skippedEntries(db: Kysely<Database>, rotation: Rotation | undefined): Promise<number> {
  if (!rotation) return 0;
  const row = await sql<{ n: number }>`
    select count(*)::int as n
    from sumda.rotation_skips s
    join public.diary_entries d on d.id = s.diary_id
    where s.rotation_id = ${rotation.id} and d.content_key_id <> ${rotation.target}`.execute(db);
  return row.rows[0]?.n ?? 0;
}

export interface KeyStatus {
  activeKeyId: string;
  keys: KeyUsage[];
  total: number;
  /** Entries not sealed with the active key: what a rotation still has to do. */
  pending: number;
  /** Entries under unconfigured keys: they cannot be opened here. */
  unopenable: number;
  /** Entries the latest rotation skipped (failed to open); `keys rotate` again retries them. */
  skipped: number;
  rotation: Rotation | null;
  jobs: ReencryptJobs;
  /**
   * Sealed billing keys per key id (the rotation re-seals them too): an old key can be removed only
   * when neither entries nor billing keys are left under it.
   */
  billingKeys: Record<string, number>;
}

export async function keyStatus(db: Kysely<Database>, keyring: Keyring): Promise<KeyStatus> {
  const keys = keyUsage(keyring, await entriesByKey(db));
  const rotation = await latestRotation(db);
  const sum = (list: KeyUsage[]) => list.reduce((n, k) => n + k.entries, 0);
  return {
    activeKeyId: keyring.active.id,
    keys,
    total: sum(keys),
    pending: sum(keys.filter((k) => k.state !== 'active')),
    unopenable: sum(keys.filter((k) => k.state === 'unconfigured')),
    skipped: rotation?.target === keyring.active.id ? await skippedEntries(db, rotation) : 0,
    rotation: rotation ?? null,
    jobs: await reencryptJobs(db),
    billingKeys: Object.fromEntries(await billingKeysByKey(db)),
  };
}

export interface RotationPlan {
  activeKeyId: string;
  keys: KeyUsage[];
  /** Entries not sealed with the active key. */
  toReencrypt: number;
  /** Key ids that seal entries or billing keys but are not configured. */
  missing: string[];
  /** Billing keys not sealed with the active key: re-sealed by the same batches. */
  billingKeys: number;
}

export async function planRotation(db: Kysely<Database>, keyring: Keyring): Promise<RotationPlan> {
  const keys = keyUsage(keyring, await entriesByKey(db));
  const billing = await billingKeysByKey(db);
  const missing = keys.filter((k) => k.state === 'unconfigured').map((k) => k.keyId);
  for (const keyId of billing.keys()) {
    if (!keyring.keys.has(keyId) && !missing.includes(keyId)) missing.push(keyId);
  }
  return {
    activeKeyId: keyring.active.id,
    keys,
    toReencrypt: keys.filter((k) => k.state !== 'active').reduce((n, k) => n + k.entries, 0),
    missing,
    billingKeys: [...billing].filter(([keyId]) => keyId !== keyring.active.id).reduce((n, [, c]) => n + c, 0),
  };
}

/** A rotation starts only when every key that seals entries can open them. */
export function assertRotatable(plan: RotationPlan): void {
  if (plan.missing.length === 0) return;
  const sealing = plan.keys.filter((k) => k.state === 'unconfigured');
  const detail = [
    ...sealing.map((k) => `${k.keyId} (${k.entries} entries)`),
    ...plan.missing.filter((id) => !sealing.some((k) => k.keyId === id)).map((id) => `${id} (billing keys)`),
  ].join(', ');
  throw new UsageError(
    `refusing to rotate: entries are sealed with keys that are not configured: ${detail}`,
    {
      hint: `add ${plan.missing.join(', ')} to SUMDA_ENCRYPTION_KEYS after the active key, then run keys rotate again`,
    },
  );
}

export interface StartedRotation {
  rotationId: number;
  activeKeyId: string;
  toReencrypt: number;
  /** The job this rotation enqueued; null when one was already waiting (it carries on) or with --inline. */
  jobId: string | null;
  /** A re-encryption job was already queued; no second one was added. */
  alreadyQueued: boolean;
}

/**
 * Records the rotation (audit row, action keys.rotate, key ids and counts only) and, unless the
 * batches run inline, enqueues the first keys.reencrypt job in the same transaction.
 */
export async function startRotation(
  db: Kysely<Database>,
  boss: PgBoss | null,
  op: Operation,
  plan: RotationPlan,
  options: { batchSize: number; inline: boolean },
): Promise<StartedRotation> {
  assertRotatable(plan);
  if (!options.inline && !boss) throw new SumdaError('startRotation: a job needs a pg-boss instance');
  const target = { type: 'encryption_key', id: plan.activeKeyId };
  return mutate(
    db,
    op,
    ROTATE_ACTION,
    async (trx) => {
      const rotationId = await writeAudit(trx, op, {
        action: ROTATE_ACTION,
        targetType: target.type,
        targetId: target.id,
        after: {
          activeKeyId: plan.activeKeyId,
          toReencrypt: plan.toReencrypt,
          entriesByKey: Object.fromEntries(plan.keys.map((k) => [k.keyId, k.entries])),
          batchSize: options.batchSize,
          mode: options.inline ? 'inline' : 'job',
        },
      });
      let jobId: string | null = null;
      if (!options.inline) {
        jobId = await enqueue(
          boss!,
          'keysReencrypt',
          { batchSize: options.batchSize, requestId: op.requestId },
          { trx, singletonKey: REENCRYPT_SINGLETON },
        ).catch((error: unknown) => {
          if ((error as { code?: string }).code !== QUEUE_NOT_FOUND) throw error;
          throw new SumdaError(
            `the job queue ${QUEUES.keysReencrypt.name} is not installed; nothing was changed`,
            {
              hint: 'start a worker once (it installs the queues), or rotate with --inline',
            },
          );
        });
      }
      return {
        rotationId,
        activeKeyId: plan.activeKeyId,
        toReencrypt: plan.toReencrypt,
        jobId,
        alreadyQueued: !options.inline && jobId === null,
      };
    },
    target,
  );
}

/** Checks the actor before anything is counted or confirmed (a refusal is audited). */
export function authorizeRotation(db: Kysely<Database>, op: Operation): Promise<OperationWithActor> {
  return authorize(db, op, ROTATE_ACTION);
}

export interface BatchOptions {
  batchSize: number;
  /**
   * Keyset cursor: only entries with a larger id. A hint that saves rescanning the entries already
   * done; never needed for correctness, because a sweep that ends is followed by one from the start.
   */
  after?: string | null;
  requestId?: string | null;
  /**
   * Called inside the batch's transaction when work is left: the job enqueues its successor here,
   * so a batch and the job that continues it commit together.
   */
  onMore?: (trx: Kysely<Database>, next: { after: string | null; delaySeconds: number }) => Promise<void>;
}

export interface BatchResult {
  rotationId: number | null;
  activeKeyId: string;
  /** Entries re-encrypted by this batch. */
  done: number;
  /** Billing keys (src/billing/keys.ts) re-sealed by this batch: the same keyring seals them. */
  billingKeys: number;
  /** Entries that failed to open, recorded in sumda.rotation_skips (and logged). */
  skipped: number;
  /** Whether another batch is needed. */
  more: boolean;
  /** Where the next batch starts (the keyset cursor); null = from the first id. */
  after: string | null;
  /** When more is due: 0 = at once; otherwise entries were locked by other writers, look again later. */
  delaySeconds: number;
  /** Entries left (not under the active key, not skipped): counted when a sweep ends, null mid-sweep. */
  remaining: number | null;
}

function skippedCondition(rotationId: number | null) {
  return sql<boolean>`not exists (
    select 1 from sumda.rotation_skips s where s.rotation_id = ${rotationId ?? 0} and s.diary_id = d.id)`;
}

/**
 * The keyset walk must follow the primary key. Planner statistics are often stale during a
 * rotation (analyzed when nearly every entry was under one key), and then the planner expects
 * almost nothing to match and picks a sequential scan plus a sort for every batch: 4x slower at
 * 260k entries. These settings end with the batch's transaction (set_config(…, true) = SET LOCAL).
 */
async function planByPrimaryKey(trx: Kysely<Database>, on: boolean): Promise<void> {
  const value = on ? 'off' : 'on';
  await sql`select set_config('enable_seqscan', ${value}, true), set_config('enable_bitmapscan', ${value}, true),
                   set_config('enable_sort', ${value}, true)`.execute(trx);
}

async function countLeft(db: Kysely<Database>, activeKeyId: string, rotationId: number | null) {
  const row = await db
    .selectFrom('diary_entries as d')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('d.content_key_id', '<>', activeKeyId)
    .where(skippedCondition(rotationId))
    .executeTakeFirstOrThrow();
  return Number(row.n) + (await billingKeysLeft(db, activeKeyId, rotationId));
}

/**
 * One batch: up to `batchSize` entries not sealed with the active key, in id order from the cursor,
 * locked FOR UPDATE SKIP LOCKED (two workers never fight over rows, and rows the app is writing are
 * left for later), each resealed with its owner's user id as context and written back in one
 * transaction (content_key_id follows from the header). Safe to run twice: an entry done is no
 * longer selected.
 */
export async function reencryptBatch(
  db: Kysely<Database>,
  keyring: Keyring,
  options: BatchOptions,
): Promise<BatchResult> {
  const activeKeyId = keyring.active.id;
  const rotation = await latestRotation(db);
  // A worker still on the old configuration would "re-encrypt" new entries back to the old key.
  if (rotation && rotation.target !== activeKeyId) {
    throw new SumdaError(
      `this process seals with key ${activeKeyId}, but the latest rotation (audit #${rotation.id}) re-encrypts to ${rotation.target}`,
      {
        hint: 'give every worker the SUMDA_ENCRYPTION_KEYS of the rotation (new key first), then restart it',
      },
    );
  }
  const rotationId = rotation?.id ?? null;
  const after = options.after ?? null;
  return db.transaction().execute(async (trx) => {
    await planByPrimaryKey(trx, true);
    let query = trx
      .selectFrom('diary_entries as d')
      .select(['d.id', 'd.user_id', 'd.content_enc', 'd.content_key_id'])
      .where('d.content_key_id', '<>', activeKeyId)
      .where(skippedCondition(rotationId))
      .orderBy('d.id')
      .limit(options.batchSize)
      .forUpdate('d')
      .skipLocked();
    if (after) query = query.where('d.id', '>', after);
    const rows = await query.execute();

    const ids: string[] = [];
    const sealed: Buffer[] = [];
    let skipped = 0;
    for (const row of rows) {
      try {
        const fresh = reseal(keyring, row.content_enc, row.user_id);
        if (fresh) {
          ids.push(row.id);
          sealed.push(fresh);
        }
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        skipped += 1;
        await sql`
          insert into sumda.rotation_skips (rotation_id, diary_id, key_id)
          values (${rotationId ?? 0}, ${row.id}, ${row.content_key_id})
          on conflict do nothing`.execute(trx);
        // DecryptionError messages name the key id only, never any text.
        await recordError(trx, {
          service: 'diary',
          severity: 'error',
          refId: row.id,
          message: `keys.reencrypt skipped the entry: ${error.message}`,
          context: {
            rotation: String(rotationId ?? 0),
            key_id: row.content_key_id,
            target_key_id: activeKeyId,
            request_id: options.requestId ?? null,
          },
        });
      }
    }
    if (ids.length > 0) {
      await sql`
        update public.diary_entries d set content_enc = v.content_enc
        from unnest(${ids}::uuid[], ${sealed}::bytea[]) as v(id, content_enc)
        where d.id = v.id`.execute(trx);
    }

    // Billing keys are sealed with the same keyring: each batch re-seals up to a batch of them too.
    await planByPrimaryKey(trx, false);
    const billing = await resealBillingKeys(trx, keyring, {
      limit: options.batchSize,
      rotationId,
      requestId: options.requestId ?? null,
    });

    const last = rows.at(-1)?.id ?? null;
    let result: Pick<BatchResult, 'more' | 'after' | 'delaySeconds' | 'remaining'>;
    if (rows.length === options.batchSize) {
      result = { more: true, after: last, delaySeconds: 0, remaining: null };
    } else if (billing.selected === options.batchSize) {
      // The diary entries are done but a full batch of billing keys was: there may be more.
      result = { more: true, after: null, delaySeconds: 0, remaining: null };
    } else if (after) {
      // The end of a sweep from a cursor: one more from the first id catches entries that were
      // locked, or written behind the cursor, meanwhile.
      result = { more: true, after: null, delaySeconds: 0, remaining: null };
    } else {
      // A sweep from the first id found less than a batch: what is left is locked by other writers.
      const remaining = await countLeft(trx, activeKeyId, rotationId);
      result = {
        more: remaining > 0,
        after: null,
        delaySeconds: remaining > 0 ? LOCKED_RETRY_SECONDS : 0,
        remaining,
      };
    }
    if (result.more && options.onMore)
      await options.onMore(trx, { after: result.after, delaySeconds: result.delaySeconds });
    return {
      rotationId,
      activeKeyId,
      done: ids.length,
      skipped: skipped + billing.skipped,
      billingKeys: billing.done,
      ...result,
    };
  });
}

export interface InlineResult {
  rotationId: number | null;
  activeKeyId: string;
  batches: number;
  done: number;
  /** Billing keys re-sealed. */
  billingKeys: number;
  skipped: number;
  /** Entries left when the run stopped (0 when finished). */
  remaining: number;
  /** Stopped early: interrupted, or entries stayed locked by other writers. */
  stopped: 'interrupted' | 'locked' | null;
  ms: number;
}

/**
 * `keys rotate --inline`: the job's batches, one after another in this process, until nothing is
 * left. Stops between batches when `signal` aborts; what is left is simply picked up by the next
 * run or by the job.
 */
export async function reencryptAll(
  db: Kysely<Database>,
  keyring: Keyring,
  options: {
    batchSize: number;
    requestId?: string;
    signal?: AbortSignal;
    onBatch?: (batch: BatchResult) => void;
  },
): Promise<InlineResult> {
  const started = performance.now();
  let after: string | null = null;
  let batches = 0;
  let done = 0;
  let billingKeys = 0;
  let skipped = 0;
  let stopped: InlineResult['stopped'] = null;
  let last: BatchResult | undefined;
  for (;;) {
    if (options.signal?.aborted) {
      stopped = 'interrupted';
      break;
    }
    last = await reencryptBatch(db, keyring, {
      batchSize: options.batchSize,
      after,
      requestId: options.requestId ?? null,
    });
    batches += 1;
    done += last.done;
    billingKeys += last.billingKeys;
    skipped += last.skipped;
    after = last.after;
    options.onBatch?.(last);
    if (!last.more) break;
    if (last.delaySeconds > 0) {
      // Locked by other writers: the job waits and tries again; a command should not wait forever.
      stopped = 'locked';
      break;
    }
  }
  const remaining = stopped === null ? 0 : await countLeft(db, keyring.active.id, last?.rotationId ?? null);
  return {
    rotationId: last?.rotationId ?? null,
    activeKeyId: keyring.active.id,
    batches,
    done,
    billingKeys,
    skipped,
    remaining,
    stopped,
    ms: performance.now() - started,
  };
}

/** Today in Asia/Seoul as YYYYMMDD: the default id of a new key. */
export function defaultKeyId(now: Date = new Date()): string {
  return `k${seoulDate(now).replaceAll('-', '')}`;
}

export function assertKeyId(id: string, configured: readonly string[] = []): void {
  if (!KEY_ID.test(id)) throw new UsageError(`--id ${JSON.stringify(id)}: 1-32 of [A-Za-z0-9_-]`);
  if (configured.includes(id)) {
    throw new UsageError(`key id ${id} is already configured in SUMDA_ENCRYPTION_KEYS`, {
      hint: 'every key needs an id of its own: the id in a ciphertext names the key that opens it',
    });
  }
}
