/** Scopes of policy versions and targets of overrides: `global`, `tenant:<id>`, `user:<id>`. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { isUuid } from '../util/uuid.ts';

const SCOPE = /^(global|(tenant|user):[A-Za-z0-9_-]{1,64})$/;

/** The shape of a scope; `user:` must name a user id (a UUID). Existence is `requireScope`'s job. */
export function parseScope(text: string | undefined, flag = '--scope'): string {
  const scope = text ?? 'global';
  if (!SCOPE.test(scope)) {
    throw new UsageError(`${flag} ${quote(scope)}: use global, tenant:<id> or user:<user id>`);
  }
  if (scope.startsWith('user:')) {
    const id = scope.slice('user:'.length);
    if (!isUuid(id)) throw new UsageError(`${flag} ${quote(scope)}: a user id is a UUID`);
    return `user:${id.toLowerCase()}`;
  }
  return scope;
}

/** A user id that must exist (`policy resolve --user`, `user:` targets): exit 2 otherwise. */
export async function requireUserId(db: Kysely<Database>, text: string, what = 'user'): Promise<string> {
  if (!isUuid(text)) throw new UsageError(`${what} ${quote(text)} is not a user id (a UUID)`);
  const id = text.toLowerCase();
  const found = await db.selectFrom('users').select('id').where('id', '=', id).executeTakeFirst();
  if (!found) throw new NotFoundError(`no user ${id}`, { hint: 'see `sumda user show <id or e-mail>`' });
  return id;
}

/**
 * A scope an operator is about to write to (an override's target, a version's scope): well formed,
 * and a `user:` scope names a user that exists — an override for nobody would sit there, live and
 * audited, changing nothing.
 */
export async function requireScope(db: Kysely<Database>, text: string, flag = '--scope'): Promise<string> {
  const scope = parseScope(text, flag);
  if (scope.startsWith('user:')) await requireUserId(db, scope.slice('user:'.length), `${flag} user`);
  return scope;
}
