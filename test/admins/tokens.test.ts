/**
 * Operators who share a database login prove who they are with a token, and the database checks
 * it: with raw SQL over the shared login, an audit row naming an operator is refused unless the
 * session carries that operator's live token; tokens can be issued and revoked only through the
 * definer functions, and their hashes cannot be read. Through the CLI: no token → exit 6 and a
 * denied row; a token → the actor is its operator (`--as` may not contradict), recorded as `token`;
 * a revoked, expired or disabled operator's token proves nothing.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { disableAdmin } from '../../src/admins/index.ts';
import { actorForToken, issueToken, revokeToken, tokenSettingSql } from '../../src/admins/tokens.ts';
import type { Db } from '../../src/db/connect.ts';
import { redactText } from '../../src/util/redact.ts';
import { createUser, testKeys, writeDiary } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dbAs, dropLogins, urlAs } from '../support/logins.ts';
import { errorLines, operation, seedTeam, type Team } from './support.ts';

const database = useTestDatabase();
const INSUFFICIENT_PRIVILEGE = '42501';
let team: Team;
let shared: string;
let sharedDb: Db;
const tokens: Record<string, string> = {};
const tokenIds: Record<string, string> = {};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  // One login for the whole ops team, in the admins' group: the situation tokens are for.
  shared = await createLogin('sumda_admin', 'shared');
  sharedDb = dbAs(database.url, shared);
  for (const [name, actor] of [
    ['jun', team.operator],
    ['mina', team.manager],
  ] as const) {
    const issued = await issueToken(database.db, operation(team.admin), {
      email: actor.email,
      days: 30,
      label: `${name} laptop`,
      reason: 'onboarding',
    });
    tokens[name] = issued.token;
    tokenIds[name] = issued.id;
  }
});

afterAll(async () => {
  await sharedDb?.destroy();
  await dropLogins([shared]);
});

/** An audit row written with raw SQL over the shared login, optionally carrying a token. */
function rawAudit(
  actor: { id: string; email: string; role: string } | null,
  identity: string | null,
  token?: string,
) {
  return sharedDb.connection().execute(async (conn) => {
    await tokenSettingSql(token ?? '').execute(conn);
    await sql`insert into admin.audit_log (actor_id, actor_email, actor_role, action, actor_identity, chain_seq, prev_hash, row_hash)
              values (${actor?.id ?? null}, ${actor?.email ?? null}, ${actor?.role ?? null}, 'test.raw', ${identity}, 0, '\\x', '\\x')`.execute(
      conn,
    );
  });
}

describe('the database checks the proof (raw SQL over the shared login)', () => {
  it('refuses an audit row naming an operator without a token, or naming another one than the token', async () => {
    expect(await code(rawAudit(team.admin, 'declared'))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(rawAudit(team.admin, 'token', tokens.jun))).toBe(INSUFFICIENT_PRIVILEGE);
    // The right id but another's e-mail, or an identity the session does not have.
    expect(await code(rawAudit({ ...team.operator, email: team.admin.email }, 'token', tokens.jun))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(rawAudit(team.operator, 'declared', tokens.jun))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(rawAudit(team.operator, 'token', `${tokens.jun}x`))).toBe(INSUFFICIENT_PRIVILEGE);
    // The token's own operator, and rows naming nobody (refusals), are accepted.
    expect(await code(rawAudit(team.operator, 'token', tokens.jun))).toBe('ok');
    expect(await code(rawAudit(null, null))).toBe('ok');
  });

  it('keeps token hashes unreadable and tokens unwritable except through the checked functions', async () => {
    expect(await code(sql`select token_hash from admin.operator_tokens`.execute(sharedDb))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`select id, expires_at from admin.operator_tokens`.execute(sharedDb))).toBe('ok');
    expect(
      await code(
        sql`insert into admin.operator_tokens (admin_id, token_hash, expires_at)
            values (${team.admin.id}, sha256('x'), now() + interval '1 day')`.execute(sharedDb),
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update admin.operator_tokens set revoked_at = null`.execute(sharedDb))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    const issueFor = (id: string, token?: string) =>
      sharedDb.connection().execute(async (conn) => {
        await tokenSettingSql(token ?? '').execute(conn);
        await sql`select admin.issue_operator_token(${id}::uuid, sha256(${randomUUID()}::bytea),
                  now() + interval '1 day', null, null)`.execute(conn);
      });
    // Unproven: nothing; an operator: only for themselves; never for the admin.
    expect(await code(issueFor(team.admin.id))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(issueFor(team.admin.id, tokens.jun))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(issueFor(team.operator.id, tokens.jun))).toBe('ok');
    const revokeAs = (token: string) =>
      sharedDb.connection().execute(async (conn) => {
        await tokenSettingSql(token).execute(conn);
        await sql`select admin.revoke_operator_token(${tokenIds.mina}::uuid, null)`.execute(conn);
      });
    expect(await code(revokeAs(tokens.jun!))).toBe(INSUFFICIENT_PRIVILEGE);
  });

  it('a revoked or expired token, or a disabled operator, proves nothing', async () => {
    const op = operation(team.admin);
    const spare = await issueToken(database.db, op, {
      email: team.manager.email,
      days: 1,
      label: null,
      reason: null,
    });
    expect((await actorForToken(sharedDb, spare.token))?.email).toBe(team.manager.email);
    await revokeToken(database.db, op, spare.id, 'lost');
    expect(await actorForToken(sharedDb, spare.token)).toBeNull();
    expect(await revokeToken(database.db, op, spare.id, 'again')).toMatchObject({ revoked: false });

    const old = await issueToken(database.db, op, {
      email: team.manager.email,
      days: 1,
      label: null,
      reason: null,
    });
    await sql`update admin.operator_tokens set created_at = now() - interval '2 days',
              expires_at = now() - interval '1 day' where id = ${old.id}`.execute(database.db);
    expect(await actorForToken(sharedDb, old.token)).toBeNull();

    const temp = await issueToken(database.db, op, {
      email: 'lead@sumda.test',
      days: 1,
      label: null,
      reason: null,
    });
    expect((await actorForToken(sharedDb, temp.token))?.email).toBe(team.admin.email);
    const extra = await sql<{ id: string }>`
      insert into admin.admins (email, role) values ('temp@sumda.test', 'operator') returning id`.execute(
      database.db,
    );
    const tempOp = await issueToken(database.db, op, {
      email: 'temp@sumda.test',
      days: 1,
      label: null,
      reason: null,
    });
    await disableAdmin(database.db, op, 'temp@sumda.test', 'left');
    expect(await actorForToken(sharedDb, tempOp.token)).toBeNull();
    expect(extra.rows[0]!.id).toBeTruthy();
  });

  it('issuing and revoking are audited; the token itself is in no audit row', async () => {
    const rows = await sql<{ t: string; action: string }>`
      select a::text as t, action from admin.audit_log a where action like 'admin.token_%'`.execute(
      database.db,
    );
    expect(rows.rows.map((r) => r.action)).toContain('admin.token_issue');
    expect(rows.rows.map((r) => r.action)).toContain('admin.token_revoke');
    const all = await sql<{ t: string }>`select string_agg(a::text, ' ') as t from admin.audit_log a`.execute(
      database.db,
    );
    for (const token of Object.values(tokens)) expect(all.rows[0]!.t).not.toContain(token.slice(10));
    expect(redactText(`sumda x ${tokens.jun}`)).toBe('sumda x sumda_tok_*****');
  });
});

describe('the CLI over the shared login', () => {
  const keys = testKeys();
  let entry: string;

  beforeAll(async () => {
    const userId = await createUser(database.db);
    entry = await writeDiary(database.db, keys.keyring, userId, '오늘은 조용한 하루였다.');
  });

  const run = (args: string[], env: Record<string, string | undefined>) =>
    runSumda(args, {
      env: { DATABASE_URL: urlAs(database.url, shared), SUMDA_ENCRYPTION_KEYS: keys.env, ...env },
    });
  const last = () =>
    database.db
      .selectFrom('admin.audit_log')
      .select(['action', 'actor_email', 'actor_identity', 'outcome', 'reason'])
      .orderBy('chain_seq', 'desc')
      .executeTakeFirstOrThrow();

  it('without a token: refused (exit 6), recorded as denied with no actor', { timeout: 60_000 }, async () => {
    const r = await run(['moderation', 'block', entry, '--reason', 'spam'], {
      SUMDA_ACTOR: team.admin.email,
    });
    expect(r.code, r.stderr).toBe(6);
    expect(errorLines(r.stderr)[0]).toMatch(new RegExp(`database login ${shared} is shared`));
    expect(r.stderr).toContain('SUMDA_TOKEN');
    expect(await last()).toMatchObject({ action: 'operator.act', outcome: 'denied', actor_email: null });
  });

  it('with a token: the actor is its operator, --as may not contradict it', { timeout: 90_000 }, async () => {
    const lying = await run(['moderation', 'block', entry, '--reason', 'spam'], {
      SUMDA_TOKEN: tokens.jun,
      SUMDA_ACTOR: team.admin.email,
    });
    expect(lying.code).toBe(6);
    expect(errorLines(lying.stderr)).toEqual([
      `error: the operator token is ${team.operator.email}'s; --as/SUMDA_ACTOR ${team.admin.email} contradicts it`,
    ]);

    const ok = await run(['moderation', 'block', entry, '--reason', 'spam'], { SUMDA_TOKEN: tokens.jun });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).not.toContain('self-declared');
    expect(await last()).toMatchObject({
      action: 'diary.block',
      outcome: 'success',
      actor_email: team.operator.email,
      actor_identity: 'token',
    });

    // The operator's role still decides: the shared login is an admin's, the token is not.
    const promote = await run(['admin', 'set-role', team.operator.email, 'admin', '--reason', 'me'], {
      SUMDA_TOKEN: tokens.jun,
    });
    expect(promote.code).toBe(6);
    expect(await last()).toMatchObject({
      action: 'admin.set_role',
      outcome: 'denied',
      actor_email: team.operator.email,
      actor_identity: 'token',
    });
  });

  it('an operator issues and revokes their own tokens; a revoked one is refused', {
    timeout: 90_000,
  }, async () => {
    const issued = await run(['admin', 'token', 'issue', team.manager.email, '--expires', '7d', '--json'], {
      SUMDA_TOKEN: tokens.mina,
    });
    expect(issued.code, issued.stderr).toBe(0);
    const fresh = JSON.parse(issued.stdout) as { id: string; token: string };
    expect(fresh.token).toMatch(/^sumda_tok_/);

    const forOther = await run(['admin', 'token', 'issue', team.admin.email], { SUMDA_TOKEN: tokens.mina });
    expect(forOther.code).toBe(6);

    const list = await run(['admin', 'token', 'list', '--email', team.manager.email, '--json'], {});
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).not.toContain(fresh.token);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((t) => t.id)).toContain(fresh.id);

    const revoke = await run(['admin', 'token', 'revoke', fresh.id, '--reason', 'rotated'], {
      SUMDA_TOKEN: fresh.token,
    });
    expect(revoke.code, revoke.stderr).toBe(0);
    const after = await run(['moderation', 'restore', entry, '--reason', 'ok'], { SUMDA_TOKEN: fresh.token });
    expect(after.code).toBe(6);
    expect(errorLines(after.stderr)[0]).toMatch(/operator token is not valid/);

    const config = await run(['config', '--json'], { SUMDA_TOKEN: tokens.mina });
    expect(config.stdout).not.toContain(tokens.mina!.slice(10));
    expect(config.stdout).toContain('sumda_tok_*****');
  });
});
