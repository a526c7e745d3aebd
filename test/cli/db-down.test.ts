/**
 * `sumda db down` is guarded: an admin actor only; refused (exit 2, nothing reverted) when a table
 * or column it would drop holds rows, unless --allow-data-loss; never when that is the audit trail;
 * the plan is made under the same lock hold as the run; every reverted step is audited (and, where
 * the audit table itself goes, written to stderr as a JSON record).
 */
/* biome-ignore-all lint/suspicious/noExplicitAny: migrations take Kysely<any> */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, migrateDown } from '../../src/db/migrator.ts';
import { errorLines } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

let db: TestDatabase;
const ADMIN = 'lead@sumda.test';
const env = (actor?: string, extra: Record<string, string> = {}) => ({
  DATABASE_URL: db.url,
  SUMDA_ACTOR: actor,
  ...extra,
});

async function query<T extends pg.QueryResultRow>(text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

const applied = async () =>
  (await query<{ name: string }>('select name from public.sumda_migrations order by name')).map(
    (r) => r.name,
  );

beforeAll(async () => {
  db = await createTestDatabase({ empty: true });
  expect((await runSumda(['db', 'migrate', '--skip-queues'], { env: env() })).code).toBe(0);
  expect((await runSumda(['admin', 'create', ADMIN, '--bootstrap'], { env: env() })).code).toBe(0);
  expect(
    (await runSumda(['admin', 'create', 'jun@sumda.test', '--role', 'operator'], { env: env(ADMIN) })).code,
  ).toBe(0);
}, 180_000);

afterAll(() => db?.drop());

it('needs an admin: no actor exits 2, an operator exits 6 (recorded as denied)', {
  timeout: 120_000,
}, async () => {
  const before = await applied();
  expect((await runSumda(['db', 'down', '--yes'], { env: env() })).code).toBe(2);
  const operator = await runSumda(['db', 'down', '--yes'], { env: env('jun@sumda.test') });
  expect(operator.code).toBe(6);
  expect(await applied()).toEqual(before);
  const denied = await query<{ action: string }>(
    `select action from admin.audit_log where outcome = 'denied' and actor_email = 'jun@sumda.test'`,
  );
  expect(denied).toEqual([{ action: 'db.down' }]);
});

it('never drops a non-empty audit log, --allow-data-loss or not; names what holds data', {
  timeout: 120_000,
}, async () => {
  const before = await applied();
  const user = (
    await query<{ id: string }>(`insert into public.users (nickname) values ('남은 사람') returning id`)
  )[0]!;
  for (const flags of [[], ['--allow-data-loss']]) {
    const r = await runSumda(['db', 'down', '--to', '0002_functions', '--yes', ...flags], {
      env: env(ADMIN),
    });
    expect(r.code, r.stderr).toBe(2);
    const [line] = errorLines(r.stderr);
    expect(line).toMatch(
      /^error: refusing: reverting .* would drop admin\.audit_log \(\d+ rows\); the audit trail is never dropped/,
    );
    expect(line).toContain('nothing was reverted');
  }
  expect(await applied()).toEqual(before);
  await query(`delete from public.users where id = '${user.id}'`);
});

it('refuses a table holding rows without --allow-data-loss; with it, reverts and records each step in its transaction', async () => {
  const scratch = await createTestDatabase({ empty: true });
  try {
    const dir = fileURLToPath(new URL('../fixtures/migrations-ok/', import.meta.url));
    await migrate({ url: scratch.url, dir });
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    await client.query('insert into fixture_second values (1), (2)');
    const recorded: string[] = [];
    const options = {
      url: scratch.url,
      dir,
      to: '0001_first',
      record: async (executor: Kysely<any>, step: string) => {
        // Inside the step's transaction, before its down(): the table is still there.
        const n = await sql<{ n: number }>`select count(*)::int as n from fixture_second`.execute(executor);
        recorded.push(`${step}:${n.rows[0]!.n}`);
      },
    };
    expect(await migrateDown({ ...options, dryRun: true })).toEqual({
      reverted: ['0002_second'],
      dryRun: true,
      losses: [{ table: 'fixture_second', column: null, rows: 2 }],
    });
    await expect(migrateDown(options)).rejects.toThrow(
      'refusing: reverting 0002_second would drop data: fixture_second (2 rows); nothing was reverted',
    );
    expect((await client.query(`select to_regclass('fixture_second') as t`)).rows[0].t).toBe(
      'fixture_second',
    );
    expect(recorded).toEqual([]);
    const confirmed: string[][] = [];
    await migrateDown({
      ...options,
      allowDataLoss: true,
      confirm: async (plan) => void confirmed.push(plan.steps),
    });
    expect(confirmed).toEqual([['0002_second']]);
    expect(recorded).toEqual(['0002_second:2']);
    expect((await client.query(`select to_regclass('fixture_second') as t`)).rows[0].t).toBe(null);
    await client.end();
  } finally {
    await scratch.drop();
  }
});

it('a signed audit log: reverting the MAC columns would drop audit data, so it is refused', {
  timeout: 120_000,
}, async () => {
  const key = `a1:${randomBytes(32).toString('base64')}`;
  expect(
    (
      await runSumda(['admin', 'create', 'mina@sumda.test', '--role', 'manager'], {
        env: env(ADMIN, { SUMDA_AUDIT_KEY: key }),
      })
    ).code,
  ).toBe(0);
  const r = await runSumda(['db', 'down', '--to', '0016_failure_state', '--yes', '--allow-data-loss'], {
    env: env(ADMIN),
  });
  expect(r.code).toBe(2);
  expect(errorLines(r.stderr)[0]).toMatch(/would drop admin\.audit_log\.mac \(1 rows with values\)/);
});
