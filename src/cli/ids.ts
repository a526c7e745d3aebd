/**
 * Ids as operators type them: tables show the first 8 characters of a UUID (`--wide` shows it whole),
 * so the commands that take those ids accept a unique prefix of 8 or more characters, and `user`
 * arguments an e-mail too.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { isUuid } from '../util/uuid.ts';

const PREFIX = /^[0-9a-f]{8}[0-9a-f-]{0,27}$/i;

const TABLES = {
  slip: { table: 'admin.slip_conditions', hint: 'see `sumda slip list --status all --wide`' },
  user: { table: 'public.users', hint: 'a user id (or its first 8+ characters) or an e-mail' },
} as const;

/** A full id, from a UUID or a unique prefix of one (8+ characters). */
export async function resolveId(
  db: Kysely<Database>,
  kind: keyof typeof TABLES,
  text: string,
): Promise<string> {
  if (isUuid(text)) return text.toLowerCase();
  const { table, hint } = TABLES[kind];
  if (!PREFIX.test(text)) {
    throw new UsageError(`${kind} ${quote(text)} is not an id (a UUID, or its first 8+ characters)`, {
      hint,
    });
  }
  const rows = await sql<{ id: string }>`
    select id::text as id from ${sql.table(table)} where id::text like ${`${text.toLowerCase()}%`} limit 2`.execute(
    db,
  );
  if (rows.rows.length === 0) throw new NotFoundError(`no ${kind} ${text}`, { hint });
  if (rows.rows.length > 1) {
    throw new UsageError(`${kind} ${text} is ambiguous: more than one id starts with it`, {
      hint: 'give more characters, or the whole id (--wide shows them)',
    });
  }
  return rows.rows[0]!.id;
}

/** A user by id, id prefix or e-mail (case-insensitive, as users.email is unique). */
export async function resolveUser(db: Kysely<Database>, text: string): Promise<string> {
  if (!text.includes('@')) return resolveId(db, 'user', text);
  const row = await db
    .selectFrom('users')
    .select('id')
    .where(sql<string>`lower(email)`, '=', text.toLowerCase())
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no user with e-mail ${quote(text)}`);
  return row.id;
}
