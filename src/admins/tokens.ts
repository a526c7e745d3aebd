/**
 * Operator tokens: how an operator proves who they are over a database login shared with others
 * (README "Trust model"). A token is 32 random bytes, shown once; the database stores its SHA-256
 * and checks it itself (migrations/0020_operator_tokens.ts): the CLI puts the token in its
 * sessions' `sumda.operator_token` setting, and an audit row naming any operator other than the
 * token's is refused by a trigger. Tokens expire (at most a year) and can be revoked; disabling an
 * account voids its tokens.
 *
 * Why a token and not the operator's password: the database cannot verify a scrypt hash, and a
 * check made only by the CLI proves nothing to whoever holds the URL and skips the CLI.
 *
 * Glossary: *proven* — the database says which operator this session is (admin.session_operator()):
 * its mapped login (`login`) or a live token (`token`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, PermissionDeniedError, PgCode, pgCode, UsageError } from '../errors.ts';
import { type Actor, resolveActor } from './actor.ts';
import { authorize } from './permissions.ts';

/** Every token starts with this, so a token pasted where it should not be is recognisable (and redacted). */
export const TOKEN_PREFIX = 'sumda_tok_';
export const TOKEN_PATTERN = /^sumda_tok_[A-Za-z0-9_-]{43}$/;
/** The database refuses a longer lifetime (operator_tokens_lifetime_check). */
export const MAX_TOKEN_DAYS = 366;
const SETTING = 'sumda.operator_token';

export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** What the database stores and compares: sha256 of the token's UTF-8 text. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The session setting the CLI sets on each of its connections, and the database reads. */
export function tokenSettingSql(token: string) {
  return sql`select set_config(${SETTING}, ${token}, false)`;
}

export interface ProvenOperator {
  adminId: string;
  identity: 'login' | 'token';
  tokenId: string | null;
}

/** Which operator the database says this session is, or null. */
export async function provenOperator(db: Kysely<Database>): Promise<ProvenOperator | null> {
  const res = await sql<{ admin_id: string; identity: 'login' | 'token'; token_id: string | null }>`
    select admin_id, identity, token_id from admin.session_operator() limit 1`.execute(db);
  const row = res.rows[0];
  return row ? { adminId: row.admin_id, identity: row.identity, tokenId: row.token_id } : null;
}

/** The actor a token proves, checked by the database on a connection that carries it. */
export async function actorForToken(db: Kysely<Database>, token: string): Promise<Actor | null> {
  if (!TOKEN_PATTERN.test(token)) return null;
  return db.connection().execute(async (conn) => {
    await tokenSettingSql(token).execute(conn);
    const proven = await provenOperator(conn);
    if (proven?.identity !== 'token') return null;
    const row = await conn
      .selectFrom('admin.admins')
      .select('email')
      .where('id', '=', proven.adminId)
      .executeTakeFirstOrThrow();
    return resolveActor(conn, row.email);
  });
}

export interface IssueTokenInput {
  email: string;
  days: number;
  label: string | null;
  reason: string | null;
}

export interface IssuedToken {
  id: string;
  email: string;
  expiresAt: Date;
  label: string | null;
  /** Shown once; only its hash is stored. */
  token: string;
}

function sameOperator(op: Operation, email: string): boolean {
  return op.actor !== null && op.actor.email.toLowerCase() === email.toLowerCase();
}

/** Issues a token: any operator for themselves, an admin for anyone. The database re-checks who asks. */
export async function issueToken(
  db: Kysely<Database>,
  op: Operation,
  input: IssueTokenInput,
): Promise<IssuedToken> {
  if (!Number.isInteger(input.days) || input.days < 1 || input.days > MAX_TOKEN_DAYS) {
    throw new UsageError(`--expires: a token lives 1 to ${MAX_TOKEN_DAYS} days`);
  }
  if (input.label !== null && (input.label.length < 1 || input.label.length > 100)) {
    throw new UsageError('--label: 1 to 100 characters');
  }
  if (!sameOperator(op, input.email))
    await authorize(db, op, 'admin.token_issue', { type: 'admin', id: input.email });
  const token = newToken();
  return db.transaction().execute(async (trx) => {
    const target = await resolveActor(trx, input.email);
    const expires = await sql<{ at: Date }>`
      select now() + make_interval(days => ${input.days}) as at`.execute(trx);
    const expiresAt = expires.rows[0]!.at;
    let id: string;
    try {
      const res = await sql<{ id: string }>`
        select admin.issue_operator_token(${target.id}::uuid, ${tokenHash(token)}, ${expiresAt}::timestamptz,
                                          ${input.label}, ${op.actor?.id ?? null}::uuid) as id`.execute(trx);
      id = res.rows[0]!.id;
    } catch (error) {
      if (pgCode(error) === PgCode.insufficientPrivilege)
        throw new PermissionDeniedError((error as Error).message);
      throw error;
    }
    await writeAudit(trx, op, {
      action: 'admin.token_issue',
      targetType: 'admin',
      targetId: target.id,
      after: { token_id: id, expires_at: expiresAt, label: input.label },
      reason: input.reason,
    });
    return { id, email: target.email, expiresAt, label: input.label, token };
  });
}

export interface TokenRow {
  id: string;
  email: string;
  label: string | null;
  created_at: Date;
  created_by: string | null;
  expires_at: Date;
  revoked_at: Date | null;
  last_used_at: Date | null;
  state: 'live' | 'expired' | 'revoked';
}

/** Tokens (never their hashes), newest first; live only unless `all`. */
export async function listTokens(
  db: Kysely<Database>,
  options: { email?: string; all?: boolean } = {},
): Promise<TokenRow[]> {
  let query = db
    .selectFrom('admin.operator_tokens as t')
    .innerJoin('admin.admins as a', 'a.id', 't.admin_id')
    .leftJoin('admin.admins as c', 'c.id', 't.created_by')
    .select([
      't.id',
      'a.email',
      't.label',
      't.created_at',
      'c.email as created_by',
      't.expires_at',
      't.revoked_at',
      't.last_used_at',
      sql<TokenRow['state']>`case when t.revoked_at is not null then 'revoked'
        when t.expires_at <= now() then 'expired' else 'live' end`.as('state'),
    ])
    .orderBy('t.created_at', 'desc')
    .orderBy('t.id');
  if (options.email) query = query.where(sql<boolean>`lower(a.email) = ${options.email.toLowerCase()}`);
  if (!options.all)
    query = query.where('t.revoked_at', 'is', null).where('t.expires_at', '>', sql<Date>`now()`);
  return query.execute();
}

/** Revokes a token: its own operator or an admin. Revoking twice is a no-op that says so. */
export async function revokeToken(
  db: Kysely<Database>,
  op: Operation,
  id: string,
  reason: string | null,
): Promise<{ id: string; email: string; revoked: boolean }> {
  const token = await db
    .selectFrom('admin.operator_tokens as t')
    .innerJoin('admin.admins as a', 'a.id', 't.admin_id')
    .select(['t.id', 'a.email', 't.admin_id'])
    .where(sql<boolean>`t.id::text = ${id}`)
    .executeTakeFirst();
  if (!token)
    throw new NotFoundError(`no operator token ${id}`, { hint: 'list them with `sumda admin token list`' });
  if (!sameOperator(op, token.email))
    await authorize(db, op, 'admin.token_revoke', { type: 'admin', id: token.admin_id });
  return db.transaction().execute(async (trx) => {
    const state = await trx
      .selectFrom('admin.operator_tokens')
      .select('revoked_at')
      .where('id', '=', token.id)
      .executeTakeFirstOrThrow();
    if (state.revoked_at) return { id: token.id, email: token.email, revoked: false };
    // The audit row first: revoking the very token that proves this session would leave the row
    // unproven (the database checks the proof when the row is inserted).
    await writeAudit(trx, op, {
      action: 'admin.token_revoke',
      targetType: 'admin',
      targetId: token.admin_id,
      after: { token_id: token.id },
      reason,
    });
    try {
      await sql`select admin.revoke_operator_token(${token.id}::uuid, ${op.actor?.id ?? null}::uuid)`.execute(
        trx,
      );
    } catch (error) {
      if (pgCode(error) === PgCode.insufficientPrivilege)
        throw new PermissionDeniedError((error as Error).message);
      throw error;
    }
    return { id: token.id, email: token.email, revoked: true };
  });
}
