/**
 * Operators who are who they say: a database login mapped with `admin grant-login` makes the actor
 * the login's operator — `--as` may agree but never contradict (exit 6, recorded) — and its audit
 * rows say `login`; over the owner or a superuser the actor is self-declared, the CLI says so once
 * and the audit row says `declared`. A login that could rewrite anything cannot be mapped.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { grantLogin } from '../../src/admins/index.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dropLogins, urlAs } from '../support/logins.ts';
import { errorLines, operation, seedTeam, type Team } from './support.ts';

const database = useTestDatabase();
let team: Team;
const logins: Record<string, string> = {};

beforeAll(async () => {
  team = await seedTeam(database.db);
  logins.jun = await createLogin('sumda_operator', 'jun');
  logins.owner = await createLogin('sumda_owner');
  logins.stray = await createLogin('sumda_manager', 'stray');
  await grantLogin(database.db, operation(team.admin), team.operator.email, logins.jun, 'own login');
});

afterAll(() => dropLogins(Object.values(logins)));

const last = async () =>
  database.db
    .selectFrom('admin.audit_log')
    .select(['action', 'actor_email', 'actor_identity', 'outcome', 'reason'])
    .orderBy('chain_seq', 'desc')
    .executeTakeFirstOrThrow();

it('refuses to map an owner login or one outside the role group', async () => {
  await expect(
    grantLogin(database.db, operation(team.admin), team.manager.email, logins.owner!, null),
  ).rejects.toThrow(/superuser or a member of sumda_owner/);
  await expect(
    grantLogin(database.db, operation(team.admin), team.manager.email, logins.jun!, null),
  ).rejects.toThrow(/not a member of sumda_manager/);
});

it('connected as a mapped login, the actor is its operator; --as may agree, never contradict', {
  timeout: 120_000,
}, async () => {
  const url = urlAs(database.url, logins.jun!);
  const entry = '00000000-0000-4000-8000-000000000001';
  // No --as at all: the login says who acts (the entry does not exist: exit 2, after the identity is settled).
  const plain = await runSumda(['moderation', 'block', entry, '--reason', 'spam'], {
    env: { DATABASE_URL: url },
  });
  expect(plain.stderr).not.toContain('self-declared');
  expect(plain.stderr).not.toContain('needs an operator identity');

  const lying = await runSumda(['moderation', 'block', entry, '--reason', 'spam'], {
    env: { DATABASE_URL: url, SUMDA_ACTOR: team.admin.email },
  });
  expect(lying.code).toBe(6);
  expect(errorLines(lying.stderr)).toEqual([
    `error: connected as database login ${logins.jun}, which is ${team.operator.email}; --as/SUMDA_ACTOR ${team.admin.email} contradicts it`,
  ]);
  expect(await last()).toMatchObject({ action: 'operator.act', outcome: 'denied', actor_email: null });

  // The operator cannot borrow the admin's e-mail to publish either: the database login decides.
  const publish = await runSumda(['admin', 'set-role', team.operator.email, 'admin', '--reason', 'me'], {
    env: { DATABASE_URL: url },
  });
  expect(publish.code).toBe(6);
  expect(await last()).toMatchObject({
    action: 'admin.set_role',
    outcome: 'denied',
    actor_email: team.operator.email,
    actor_identity: 'login',
  });
});

it('over the owner the actor is self-declared: said once on stderr, recorded as declared', {
  timeout: 120_000,
}, async () => {
  const r = await runSumda(['admin', 'set-role', team.manager.email, 'operator', '--reason', 'rotation'], {
    env: { DATABASE_URL: database.url, SUMDA_ACTOR: team.admin.email },
  });
  expect(r.code).toBe(0);
  expect(r.stderr.match(/self-declared/g)).toHaveLength(1);
  expect(await last()).toMatchObject({
    action: 'admin.set_role',
    outcome: 'success',
    actor_email: team.admin.email,
    actor_identity: 'declared',
  });
});
