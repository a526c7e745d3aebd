/**
 * Key check values (sumda.key_checks, migrations/0023): one per SUMDA_ENCRYPTION_KEYS id, so a
 * wrong key configured under a known id is named and refused (exit 4) before anything is opened or
 * sealed with it — instead of every entry "failing to open" one by one, or a rotation re-encrypting
 * nothing and calling it done.
 *
 * Glossary: *check value* — the first 16 bytes of HMAC-SHA256(key, KEY_CHECK_LABEL): equal for the
 * same key, different for any other, and says nothing about the key itself.
 *
 * An id seen for the first time is recorded by whoever may (the worker, an admin command); if the
 * database already holds entries sealed under that id, the newest one must authenticate under the
 * configured key first, so a wrong key is not recorded as the right one.
 */
import { createHmac } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Config } from '../config/index.ts';
import { authenticates, type Keyring } from '../crypto/index.ts';
import { type LoadedKeyring, loadKeyring } from '../crypto/keyring.ts';
import type { Database } from '../db/types.ts';
import { DriftError, PgCode, pgCode } from '../errors.ts';
import type { Logger } from '../log.ts';

export const KEY_CHECK_LABEL = 'sumda key check v1';
const CHECK_BYTES = 16;

export function keyCheckValue(key: Buffer): Buffer {
  return createHmac('sha256', key).update(KEY_CHECK_LABEL).digest().subarray(0, CHECK_BYTES);
}

/** A configured key is not the key its id stood for. Exit 4. */
export class KeyMismatchError extends DriftError {
  readonly keyIds: string[];
  constructor(keyIds: string[]) {
    const named = keyIds.map((id) => `key ${id}`).join(', ');
    super(
      `SUMDA_ENCRYPTION_KEYS: ${named} ${keyIds.length === 1 ? 'is not the key' : 'are not the keys'} this database knows under ${keyIds.length === 1 ? 'that id' : 'those ids'} (the key check value differs); nothing was opened or written`,
      {
        hint: 'put the right key back under that id (a new key always gets a new id; `sumda keys generate <new-id>`)',
      },
    );
    this.keyIds = keyIds;
  }
}

async function recorded(db: Kysely<Database>, ids: string[]): Promise<Map<string, Buffer>> {
  if (ids.length === 0) return new Map();
  // The sumda schema is bookkeeping outside the generated types: plain SQL.
  const rows = await sql<{ key_id: string; check_value: Buffer }>`
    select key_id, check_value from sumda.key_checks where key_id = any(${ids}::text[])`.execute(db);
  return new Map(rows.rows.map((r) => [r.key_id, r.check_value]));
}

/** The newest entry sealed under `keyId` opens with the configured key; true when there is none to try. */
async function newestEntryOpens(db: Kysely<Database>, keyring: Keyring, keyId: string): Promise<boolean> {
  try {
    const row = await db
      .selectFrom('diary_entries')
      .select(['content_enc', 'user_id'])
      .where('content_key_id', '=', keyId)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? authenticates(keyring, row.content_enc, row.user_id) : true;
  } catch (error) {
    // A role that cannot read ciphertext (an operator) cannot try it; the check values decide.
    if (pgCode(error) === PgCode.insufficientPrivilege) return true;
    throw error;
  }
}

export interface KeyCheckResult {
  /** Ids whose check value this call recorded. */
  recorded: string[];
  /** Ids with no check value yet that this role may not record (a later worker or admin will). */
  unrecorded: string[];
}

/**
 * Checks every configured key against its id's check value, recording the ids seen for the first
 * time where this role may. Throws KeyMismatchError naming every wrong id.
 */
export async function verifyKeyring(db: Kysely<Database>, keyring: Keyring): Promise<KeyCheckResult> {
  const ids = [...keyring.keys.keys()];
  const known = await recorded(db, ids);
  const wrong: string[] = [];
  const fresh: string[] = [];
  for (const id of ids) {
    const expected = known.get(id);
    const actual = keyCheckValue(keyring.keys.get(id)!.key);
    if (expected) {
      if (!expected.equals(actual)) wrong.push(id);
    } else if (await newestEntryOpens(db, keyring, id)) fresh.push(id);
    else wrong.push(id);
  }
  if (wrong.length > 0) throw new KeyMismatchError(wrong);
  if (fresh.length === 0) return { recorded: [], unrecorded: [] };
  try {
    const values = fresh.map((id) => sql`(${id}, ${keyCheckValue(keyring.keys.get(id)!.key)})`);
    await sql`insert into sumda.key_checks (key_id, check_value) values ${sql.join(values)}
              on conflict (key_id) do nothing`.execute(db);
  } catch (error) {
    if (pgCode(error) === PgCode.insufficientPrivilege) return { recorded: [], unrecorded: fresh };
    throw error;
  }
  // Another process may have recorded an id first, with another key: compare with what stands.
  const now = await recorded(db, fresh);
  const lost = fresh.filter((id) => !now.get(id)?.equals(keyCheckValue(keyring.keys.get(id)!.key)));
  if (lost.length > 0) throw new KeyMismatchError(lost);
  return { recorded: fresh, unrecorded: [] };
}

/** The configured keyring, checked against this database's key check values: what every command and worker that opens or seals text uses. */
export async function loadCheckedKeyring(
  config: Config,
  log: Logger,
  db: Kysely<Database>,
): Promise<LoadedKeyring> {
  const loaded = await loadKeyring(config, log);
  await verifyKeyring(db, loaded.keyring);
  return loaded;
}

/** For tests and `sql` users: the check value as the database stores it, by id. */
export async function keyChecks(db: Kysely<Database>): Promise<Record<string, string>> {
  const rows = await sql<{ key_id: string; hex: string }>`
    select key_id, encode(check_value, 'hex') as hex from sumda.key_checks order by key_id`.execute(db);
  return Object.fromEntries(rows.rows.map((r) => [r.key_id, r.hex]));
}
