import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { logsRetention } from '../../jobs/logs-retention.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { retentionPlan, runRetentionInline } from '../../src/logs/retention.ts';
import { apiStats, errorStats, listErrors, loginSecurity } from '../../src/logs/views.ts';
import { moderationStats } from '../../src/moderation/index.ts';
import { createBoss } from '../../src/queue/boss.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { auditRows, cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const config = { retention: { apiLogsDays: 90, loginLogsDays: 365, errorLogsDays: 180 } };
const victim = stableUuid('logs-test:victim');
const traveller = stableUuid('logs-test:traveller');

async function counts() {
  const r = await sql<{ api: number; login: number; api_old: number; login_old: number }>`
    select (select count(*)::int from admin.api_logs) as api, (select count(*)::int from admin.login_logs) as login,
           (select count(*)::int from admin.api_logs where created_at < now() - interval '90 days') as api_old,
           (select count(*)::int from admin.login_logs where created_at < now() - interval '365 days') as login_old`.execute(
    database.db,
  );
  return r.rows[0]!;
}

async function fillLogs() {
  // 25 API rows 100 days old, 15 rows 10 days old; 12 login rows 400 days old, 8 rows a day old.
  await sql`insert into admin.api_logs (method, endpoint, status_code, latency_ms, created_at)
            select 'GET', '/v1/old', 200, 5, now() - interval '100 days' from generate_series(1, 25)`.execute(
    database.db,
  );
  await sql`insert into admin.api_logs (method, endpoint, status_code, latency_ms, created_at)
            select 'GET', '/v1/new', 200, 5, now() - interval '10 days' from generate_series(1, 15)`.execute(
    database.db,
  );
  await sql`insert into admin.login_logs (user_id, ip, success, created_at)
            select null, '198.51.100.1', false, now() - interval '400 days' from generate_series(1, 12)`.execute(
    database.db,
  );
  await sql`insert into admin.login_logs (user_id, ip, success, created_at)
            select null, '198.51.100.1', true, now() - interval '1 day' from generate_series(1, 8)`.execute(
    database.db,
  );
  // 3 error rows 200 days old (past the 180 days), 2 rows 100 days old.
  await sql`insert into admin.error_logs (severity, service, message, created_at)
            select 'error', 'api', 'old', now() - make_interval(days => case when g <= 3 then 200 else 100 end)
            from generate_series(1, 5) g`.execute(database.db);
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  await database.db
    .insertInto('users')
    .values([
      { id: victim, nickname: '피해자' },
      { id: traveller, nickname: '여행자' },
    ])
    .execute();
});

describe('retention', () => {
  it('the job deletes only old rows, a small batch per job, chaining through both tables; a rerun deletes nothing', async () => {
    await fillLogs();
    expect((await retentionPlan(database.db, config)).map((p) => [p.table, p.expired])).toEqual([
      ['api_logs', 25],
      ['login_logs', 12],
      ['error_logs', 3],
    ]);
    const boss = createBoss(database.url);
    await boss.start();
    try {
      const handler = logsRetention.create({
        db: database.db,
        boss,
        config,
        log: createLogger({ level: 'silent' }),
      } as never);
      const signal = new AbortController().signal;
      let data: Record<string, unknown> = { batchSize: 10 };
      const seen: string[] = [];
      for (let i = 0; i < 20; i++) {
        const [outcome] = (await handler(
          [{ id: crypto.randomUUID(), name: 'logs.retention', data } as never],
          signal,
        )) as {
          output: { table: string; deleted: number };
        }[];
        seen.push(`${outcome!.output.table}:${outcome!.output.deleted}`);
        const next = await sql<{ id: string; data: Record<string, unknown> }>`
          select id, data from pgboss.job where name = 'logs.retention' and state = 'created' order by created_on limit 1`.execute(
          database.db,
        );
        if (next.rows.length === 0) break;
        await sql`delete from pgboss.job where id = ${next.rows[0]!.id}`.execute(database.db);
        data = next.rows[0]!.data;
      }
      expect(seen).toEqual([
        'api_logs:10',
        'api_logs:10',
        'api_logs:5',
        'login_logs:10',
        'login_logs:2',
        'error_logs:3',
      ]);
      expect(await counts()).toEqual({ api: 15, login: 8, api_old: 0, login_old: 0 });
      const again = await handler(
        [{ id: crypto.randomUUID(), name: 'logs.retention', data: {} } as never],
        signal,
      );
      expect(again).toMatchObject([{ output: { deleted: 0 } }]);
    } finally {
      await boss.stop({ graceful: false, close: true });
    }
  });

  it('inline needs an admin and audits each batch; CLI dry run counts and deletes nothing', async () => {
    await fillLogs();
    await expect(runRetentionInline(database.db, operation(team.manager), config)).rejects.toBeInstanceOf(
      PermissionDeniedError,
    );
    const dry = await runSumda(['logs', 'retention', '--dry-run', '--json'], { env: cliEnv(database.url) });
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).plan.map((p: { expired: number }) => p.expired)).toEqual([25, 12, 3]);
    expect((await counts()).api_old).toBe(25);
    const deleted = await runRetentionInline(database.db, operation(team.admin), config, { batchSize: 20 });
    expect(deleted).toEqual({ api_logs: 25, login_logs: 12, error_logs: 3 });
    expect(await counts()).toMatchObject({ api_old: 0, login_old: 0, api: 30, login: 16 });
    const audit = await auditRows(database.db, { action: 'logs.retention' });
    expect(audit.filter((a) => a.outcome === 'denied').map((a) => a.actor_email)).toEqual([
      team.manager.email,
    ]);
    expect(audit.filter((a) => a.outcome === 'success').map((a) => a.target_id)).toEqual([
      'api_logs',
      'api_logs',
      'login_logs',
      'error_logs',
    ]);
  }, 120_000);
});

describe('views', () => {
  it('security logins: bursts per IP and account, many-IP accounts, new-country logins', async () => {
    const since = new Date(Date.now() - 3_600_000);
    // Six failures against the victim from one IP within a minute, then from three more IPs.
    await sql`insert into admin.login_logs (user_id, ip, success, created_at)
              select ${victim}, '203.0.113.9', false, date_bin('10 minutes', now(), timestamptz '2000-01-01') + make_interval(secs => g)
              from generate_series(1, 6) g`.execute(database.db);
    for (const ip of ['203.0.113.10', '203.0.113.11', '203.0.113.12'])
      await sql`insert into admin.login_logs (user_id, ip, success) values (${victim}, ${ip}, false)`.execute(
        database.db,
      );
    // The traveller always logged in from KR; today from FR.
    await sql`insert into admin.login_logs (user_id, ip, success, country, created_at) values
              (${traveller}, '192.0.2.1', true, 'KR', now() - interval '30 days'),
              (${traveller}, '192.0.2.1', true, 'KR', now() - interval '2 hours'),
              (${traveller}, '192.0.2.77', true, 'FR', now())`.execute(database.db);
    const report = await loginSecurity(database.db, { since });
    expect(report.ipBursts).toMatchObject([{ ip: '203.0.113.9', failures: 6, accounts: 1 }]);
    expect(report.accountBursts.map((b) => [b.user_id, b.failures >= 6])).toEqual([[victim, true]]);
    expect(report.manyIps).toMatchObject([{ user_id: victim, ips: 4, failures: 9, successes: 0 }]);
    expect(report.newCountry).toMatchObject([{ user_id: traveller, country: 'FR', known: ['KR'] }]);
    const cli = await runSumda(['security', 'logins', '--since', '1h', '--json'], {
      env: cliEnv(database.url),
    });
    expect(JSON.parse(cli.stdout).newCountry).toHaveLength(1);
  }, 120_000);

  it('errors list/stats, api stats and moderation stats', async () => {
    const since = new Date(Date.now() - 3_600_000);
    await sql`insert into admin.error_logs (severity, service, message) values
              ('error', 'billing', 'toss timeout'), ('error', 'billing', 'toss timeout'), ('error', 'billing', 'card declined'),
              ('fatal', 'worker', 'out of memory')`.execute(database.db);
    expect((await listErrors(database.db, { since, service: 'billing' })).map((e) => e.message)).toEqual([
      'card declined',
      'toss timeout',
      'toss timeout',
    ]);
    expect(await errorStats(database.db, { since })).toMatchObject([
      { service: 'billing', severity: 'error', errors: 3, top_message: 'toss timeout', top_count: 2 },
      { service: 'worker', severity: 'fatal', errors: 1 },
    ]);
    // 100 calls with latencies 1..100 ms, 3 of them 500s and 7 of them 404s.
    await sql`insert into admin.api_logs (method, endpoint, status_code, latency_ms)
              select 'POST', '/v1/diaries', case when g <= 3 then 500 when g <= 10 then 404 else 201 end, g
              from generate_series(1, 100) g`.execute(database.db);
    const api = await apiStats(database.db, { since });
    expect(api.find((r) => r.endpoint === '/v1/diaries')).toMatchObject({
      calls: 100,
      p50: 51,
      p95: 95,
      p99: 99,
      errorRate: 0.03,
      clientErrorRate: 0.07,
    });
    const diary = await sql<{ id: string }>`insert into public.diary_entries (user_id, content_enc)
      values (${victim}, ${Buffer.concat([Buffer.from([1, 2]), Buffer.from('k1'), Buffer.alloc(36, 1)])}) returning id`.execute(
      database.db,
    );
    await sql`insert into admin.content_moderation_logs (diary_id, action, reason, admin_id) values
              (${diary.rows[0]!.id}, 'flag', 'ethics: violence', null),
              (${diary.rows[0]!.id}, 'block', 'threat', ${team.operator.id}),
              (${diary.rows[0]!.id}, 'restore', 'appeal', ${team.manager.id})`.execute(database.db);
    const mod = await moderationStats(database.db, { since });
    expect(mod.byOperator).toEqual(
      [
        { operator: null, action: 'flag', actions: 1 },
        { operator: team.operator.email, action: 'block', actions: 1 },
        { operator: team.manager.email, action: 'restore', actions: 1 },
      ].sort((a, b) =>
        a.operator === null ? -1 : b.operator === null ? 1 : a.operator.localeCompare(b.operator),
      ),
    );
    const env = cliEnv(database.url);
    const bad = await runSumda(['errors', 'list', '--service', 'mailer'], { env });
    expect(bad.code).toBe(2);
    const stats = await runSumda(['api', 'stats', '--since', '1h', '--json'], { env });
    expect(JSON.parse(stats.stdout)[0]).toMatchObject({ endpoint: '/v1/diaries', calls: 100 });
  }, 120_000);
});
