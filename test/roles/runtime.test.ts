/**
 * The grants are enough for the real thing: the CLI and `sumda worker --once` run as logins of the
 * group roles (not as the owner) and do their work — a manager enqueues analyses, a worker analyses
 * them and checks slips, an operator reads the results and the queues — with no permission error.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { issueToken } from '../../src/admins/tokens.ts';
import { operation, seedTeam } from '../admins/support.ts';
import { createUser, testKeys, writeDiary } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dropLogins, urlAs } from '../support/logins.ts';

const database = useTestDatabase();
const keys = testKeys();
const logins: Record<string, string> = {};
const entries: string[] = [];
let userId: string;
/** The group logins are shared (mapped to no operator): operators prove who they are with tokens. */
const tokens: Record<string, string> = {};

beforeAll(async () => {
  const team = await seedTeam(database.db);
  for (const actor of [team.manager, team.operator]) {
    tokens[actor.email] = (
      await issueToken(database.db, operation(team.admin), {
        email: actor.email,
        days: 1,
        label: null,
        reason: null,
      })
    ).token;
  }
  userId = await createUser(database.db);
  for (let i = 0; i < 3; i++) {
    entries.push(
      await writeDiary(database.db, keys.keyring, userId, `오늘은 산책을 했다 ${i}. 바람이 시원했다.`),
    );
  }
  for (const role of ['worker', 'operator', 'manager'] as const)
    logins[role] = await createLogin(`sumda_${role}`);
});

afterAll(() => dropLogins(Object.values(logins)));

function as(role: string, args: string[], actor?: string) {
  // The worker connects with SUMDA_WORKER_DATABASE_URL, next to an operator's DATABASE_URL (whose
  // grants could not store an analysis): one environment for both, each its own login.
  const urls =
    role === 'worker'
      ? {
          DATABASE_URL: urlAs(database.url, logins.operator!),
          SUMDA_WORKER_DATABASE_URL: urlAs(database.url, logins.worker!),
        }
      : { DATABASE_URL: urlAs(database.url, logins[role]!) };
  return runSumda(args, {
    env: {
      ...urls,
      SUMDA_ENCRYPTION_KEYS: keys.env,
      SUMDA_TOKEN: actor ? tokens[actor] : undefined,
      SUMDA_ANALYZER: 'local',
    },
  });
}

it('manager enqueues, worker analyses, operator reads — each as its own login', {
  timeout: 120_000,
}, async () => {
  const enqueue = await as(
    'manager',
    ['analysis', 'enqueue', '--since', '1d', '--yes', '--json'],
    'mina@sumda.test',
  );
  expect(enqueue.stderr).not.toMatch(/permission denied/i);
  expect(enqueue.code).toBe(0);

  const worker = await as('worker', ['worker', '--once', '--json']);
  expect(worker.stderr).not.toMatch(/permission denied/i);
  expect(worker.code).toBe(0);
  const analysed = await database.db
    .selectFrom('analysis_results')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('diary_id', 'in', entries)
    .executeTakeFirstOrThrow();
  expect(analysed.n).toBe(3);

  const show = await as('operator', ['analysis', 'show', entries[0]!, '--json']);
  expect(show.stderr).not.toMatch(/permission denied/i);
  expect(show.code).toBe(0);
  const stats = await as('operator', ['jobs', 'stats', '--json']);
  expect(stats.code).toBe(0);
  const roles = await as('operator', ['db', 'roles', '--json']);
  expect(roles.code).toBe(0);
  const report = JSON.parse(roles.stdout) as {
    session: { owner: boolean; superuser: boolean; groups: string[] };
  };
  expect(report.session).toMatchObject({ owner: false, superuser: false, groups: ['sumda_operator'] });

  const internal = await as('operator', ['analysis', 'show', entries[0]!, '--internal'], 'jun@sumda.test');
  expect(internal.code).toBe(6);
});

it('the newer features run as the manager login, not the superuser: points, the FAQ, a report backfill', {
  timeout: 180_000,
}, async () => {
  const manager = (args: string[]) => as('manager', args, 'mina@sumda.test');
  const grant = await manager(['points', 'grant', userId, '100', '--reason', 'admin_adjustment', '--json']);
  expect(grant.stderr).not.toMatch(/permission denied/i);
  expect(grant.code, grant.stderr).toBe(0);
  const faq = await manager([
    'faq',
    'add',
    '--category',
    'account',
    '--question',
    '비밀번호를 잊었어요',
    '--answer',
    '로그인 화면에서 재설정할 수 있어요.',
    '--json',
  ]);
  expect(faq.stderr).not.toMatch(/permission denied/i);
  expect(faq.code, faq.stderr).toBe(0);
  const backfill = await manager([
    'report',
    'backfill',
    '--period',
    'weekly',
    '--from',
    '2026-11-02',
    '--to',
    '2026-11-15',
    '--inline',
    '--yes',
    '--json',
  ]);
  expect(backfill.stderr).not.toMatch(/permission denied/i);
  expect(backfill.code, backfill.stderr).toBe(0);
  const audited = await database.db
    .selectFrom('admin.audit_log')
    .select(['action', 'actor_email', 'actor_identity'])
    .where('actor_email', '=', 'mina@sumda.test')
    .where('outcome', '=', 'success')
    .execute();
  expect(audited.map((r) => r.actor_identity)).not.toContain('declared');
  expect(audited.length).toBeGreaterThanOrEqual(3);
});
