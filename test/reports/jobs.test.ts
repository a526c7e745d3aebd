/**
 * The report jobs with real pg-boss and real worker processes: a late analysis makes a built
 * report stale and the report.stale job rebuilds it (and only it); the scheduled tick starts the
 * builds of the periods that just ended, once; a worker SIGKILLed in the middle of a backfill chunk
 * rolls that chunk back, and a second worker takes the run over and finishes it with every report
 * inserted exactly once (a test trigger counts inserts; a rolled-back insert's count rolls back).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBoss, enqueue, type PgBoss } from '../../src/queue/boss.ts';
import {
  findRun,
  periodsEndingBefore,
  planBackfill,
  startBackfill,
  startScheduledBuild,
} from '../../src/reports/backfill.ts';
import { buildPeriod } from '../../src/reports/build.ts';
import { rebuildStale } from '../../src/reports/stale.ts';
import { periodContaining } from '../../src/time/calendar.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { testKeys } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { hasMsg, type SumdaProcess, startSumda, waitUntil } from '../support/process.ts';
import { analyse, entry, kst, reportsOf, user } from './support.ts';

const database = useTestDatabase();
let team: Team;
let boss: PgBoss;
const workers: SumdaProcess[] = [];

beforeAll(async () => {
  team = await seedTeam(database.db);
  boss = createBoss(database.url);
  await boss.start();
});

afterAll(async () => {
  for (const w of workers) await w.kill();
  await boss?.stop({ graceful: false, close: true });
});

describe('stale reports', () => {
  it('a late analysis marks the built report stale; the job rebuilds it and nothing else', async () => {
    const db = database.db;
    const u = await user(db, '늦음');
    const other = await user(db, '그대로');
    const late = await entry(db, u, kst('2026-10-07T21:00'));
    await analyse(db, await entry(db, u, kst('2026-10-06T21:00')), { flow: [['joy', 1]], summary: '기쁨' });
    await analyse(db, await entry(db, other, kst('2026-10-06T21:00')), { flow: [['calm', 1]] });
    const week = periodContaining('weekly', kst('2026-10-07T00:00'));
    await buildPeriod(db, week);
    await buildPeriod(db, periodContaining('monthly', kst('2026-10-07T00:00')));
    const before = await reportsOf(db);
    expect((await rebuildStale(db)).statements).toBe(0); // nothing stale after a build

    await analyse(db, late, { flow: [['sadness', 1]], summary: '늦은 분석' });
    const result = await rebuildStale(db);
    // The weekly and monthly reports of u (daily and yearly were never built: their marks wait).
    expect(result).toMatchObject({ examined: 2, written: 2, removed: 0 });
    const after = await reportsOf(db);
    const changed = after.filter(
      (r) => before.find((b) => b.user_id === r.user_id && b.period_type === r.period_type)?.xmin !== r.xmin,
    );
    expect(changed.map((r) => [r.user_id, r.period_type])).toEqual([
      [u, 'monthly'],
      [u, 'weekly'],
    ]);
    expect(after.find((r) => r.user_id === u && r.period_type === 'weekly')!.summary).toMatchObject({
      analysed_entries: 2,
      emotion_score: { avg: 0, max: 1, min: -1 },
    });
    expect((await rebuildStale(db)).statements).toBe(0);
  });
});

describe('scheduled builds', () => {
  it('the tick of a Monday 1 June starts daily, weekly and monthly builds, each once', () => {
    expect(periodsEndingBefore('2026-06-01').map((p) => [p.type, p.startDate])).toEqual([
      ['daily', '2026-05-31'],
      ['weekly', '2026-05-25'],
      ['monthly', '2026-05-01'],
    ]);
    expect(periodsEndingBefore('2027-01-01').map((p) => p.type)).toEqual(['daily', 'monthly', 'yearly']);
    expect(periodsEndingBefore('2026-11-25').map((p) => p.type)).toEqual(['daily']);
  });

  it('a scheduled run is recorded once per period and built by its chunks', async () => {
    const db = database.db;
    const day = periodContaining('daily', kst('2026-10-06T12:00'));
    const first = await startScheduledBuild(db, boss, day, crypto.randomUUID());
    const again = await startScheduledBuild(db, boss, day, crypto.randomUUID());
    expect(first).toMatchObject({ origin: 'schedule', status: 'running', mode: 'queued' });
    expect(again).toBeNull();
    const job = await boss.getJobById('report.backfill', first!.next_job_id!);
    expect(job?.data).toMatchObject({ runId: first!.id });
  });
});

describe('a worker killed mid-chunk', () => {
  it('rolls its chunk back; another worker takes the run over; every report exactly once', async () => {
    const db = database.db;
    await sql`
      insert into public.users (nickname) select '킬' || g from generate_series(1, 24) g`.execute(db);
    await sql`
      insert into public.diary_entries (user_id, content_enc, created_at, updated_at)
      select u.id, '\\x01026b31'::bytea || decode(repeat('00', 28), 'hex'), t, t
      from public.users u
      cross join generate_series('2026-08-03 20:00+09'::timestamptz, '2026-09-27 20:00+09'::timestamptz, interval '2 days') t
      where u.nickname like '킬%'`.execute(db);
    await sql`create table test_report_inserts (user_id uuid, period_type text, period_start date)`.execute(
      db,
    );
    await sql`
      create function test_count_report_insert() returns trigger language plpgsql as $$
      begin insert into test_report_inserts values (new.user_id, new.period_type, new.period_start); return null; end $$`.execute(
      db,
    );
    await sql`
      create trigger test_count_report_insert after insert on public.reports
        for each row execute function test_count_report_insert()`.execute(db);
    // Every chunk that writes takes a while, so the kill lands inside one.
    await sql`
      create function test_slow_chunk() returns trigger language plpgsql as $$
      begin perform pg_sleep(0.4); return null; end $$`.execute(db);
    await sql`
      create trigger test_slow_chunk after insert on public.reports
        for each statement execute function test_slow_chunk()`.execute(db);

    const plan = await planBackfill(db, {
      type: 'weekly',
      from: '2026-08-03',
      to: '2026-09-27',
      chunkSize: 8,
      chunkTimeoutS: 1,
    });
    const run = await startBackfill(db, boss, operation(team.manager), plan, { inline: false });
    // The generated entries carry placeholder bytes under k1, which no key opens: the worker (which
    // never decrypts for reports) gets a key under an id with no entries, so its key check passes.
    const keys = testKeys('reports');
    const env = { DATABASE_URL: database.url, SUMDA_ENCRYPTION_KEYS: keys.env, LOG_LEVEL: 'info' };
    const args = ['worker', '--queues', 'report.backfill,report.stale', '--poll-interval', '100ms'];
    const first = startSumda(args, { env });
    workers.push(first);
    await first.waitForLine(hasMsg('worker started'));
    await waitUntil(async () => (await findRun(db, run.id)).chunks >= 2, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'two chunks done',
    });
    // Wait for a chunk in flight (its statement sleeping in the trigger), then kill the worker.
    await waitUntil(
      async () =>
        (
          await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and state = 'active' and wait_event = 'PgSleep'`.execute(db)
        ).rows[0]!.n > 0,
      { timeoutMs: 20_000, intervalMs: 20, what: 'a chunk in flight' },
    );
    const atKill = await findRun(db, run.id);
    await first.kill();
    // Its connection gone, the chunk rolled back: the run is where the last commit left it.
    await waitUntil(
      async () =>
        (
          await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
            where datname = current_database() and application_name = 'sumda-worker'`.execute(db)
        ).rows[0]!.n === 0,
      { timeoutMs: 20_000, what: 'the killed worker’s connections to close' },
    );
    expect((await findRun(db, run.id)).chunks).toBe(atKill.chunks);

    const second = startSumda(args, { env });
    workers.push(second);
    await second.waitForLine(hasMsg('worker started'));
    // The report.stale tick (every minute in production) re-chains the stalled run.
    await waitUntil(
      async () => {
        const r = await findRun(db, run.id);
        if (r.status !== 'running') return true;
        await enqueue(boss, 'reportStale', {});
        return false;
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: 'the run to finish on the second worker' },
    );
    const done = await findRun(db, run.id);
    expect(done).toMatchObject({ status: 'completed', done: plan.total, failures: 0 });
    // Only this run's reports: the scheduled daily run left queued by the test above (and any
    // report.scheduled tick) may be built by the same worker, writing other users' daily reports.
    const counts = await sql<{ n: number; k: number }>`
      select count(*)::int as k, count(*) filter (where n <> 1)::int as n from (
        select i.user_id, i.period_type, i.period_start, count(*) as n from test_report_inserts i
        join public.users u on u.id = i.user_id
        where u.nickname like '킬%' and i.period_type = 'weekly' group by 1, 2, 3) x`.execute(db);
    expect(counts.rows[0]).toEqual({ k: plan.estimatedReports, n: 0 });
    const reports = await sql<{ n: number }>`
      select count(*)::int as n from public.reports r join public.users u on u.id = r.user_id
      where u.nickname like '킬%' and r.period_type = 'weekly'`.execute(db);
    expect(reports.rows[0]!.n).toBe(plan.estimatedReports);
    second.send('SIGTERM');
    await second.exited;
  }, 150_000);
});
