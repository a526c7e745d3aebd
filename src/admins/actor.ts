/**
 * The operator behind a command. Every mutating command names its actor (SUMDA_ACTOR or --as),
 * resolved here against admin.admins; a disabled or unknown account is refused.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { PermissionDeniedError, UsageError } from '../errors.ts';

export const ROLES = ['operator', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  id: string;
  email: string;
  role: Role;
}

export async function resolveActor(db: Kysely<Database>, email: string): Promise<Actor> {
  const row = await db
    .selectFrom('admin.admins')
    .select(['id', 'email', 'role', 'disabled_at'])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .executeTakeFirst();
  if (!row) {
    throw new UsageError(`no operator account ${email}`, {
      hint: 'list accounts with `sumda admin list`; the first admin is created with `sumda admin create --bootstrap`',
    });
  }
  if (row.disabled_at) throw new PermissionDeniedError(`operator account ${email} is disabled`);
  return { id: row.id, email: row.email, role: row.role };
}

/** The operator a database login is mapped to (`sumda admin grant-login`), if any. */
export async function actorForLogin(
  db: Kysely<Database>,
  login: string,
): Promise<(Actor & { disabled: boolean }) | null> {
  const row = await db
    .selectFrom('admin.admins')
    .select(['id', 'email', 'role', 'disabled_at'])
    .where('db_login', '=', login)
    .executeTakeFirst();
  return row ? { id: row.id, email: row.email, role: row.role, disabled: row.disabled_at !== null } : null;
}
