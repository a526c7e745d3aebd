/**
 * Backfill runs against real PostgreSQL and pg-boss: bad input and a too-low role write nothing;
 * an inline run builds every report once and a second run writes nothing; a chunk that fails is
 * retried from the cursor with every report inserted exactly once (a test trigger counts inserts;
 * a rolled-back chunk's count rolls back with it); a queued run chains its jobs, a stray job is
 * superseded, pause/resume/cancel work; overlapping runs split the periods between them.
 * Commands run in-process (`sumda`); exit 2 and exit 6 also through the real subprocess (`runSumda`).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import {
  controlRun,
  findRun,
  planBackfill,
  runChunk,
  runInline,
  startBackfill,
} from '../../src/reports/backfill.ts';
import { auditRows, cliEnv, errorLines, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
let boss: PgBoss;
const USERS = 12;
const NOW = new Date('2026-12-02T12:00:00+09:00');

/** Inserts per (user, type, start) since the last reset. */
async function inserts(type?: string): Promise<Map<string, number>> {
  const rows = await sql<{ k: string; n: number }>`
    select user_id || ' ' || period_type || ' ' || period_start as k, count(*)::int as n
    from test_report_inserts ${type ? sql`where period_type = ${type}` : sql``} group by 1`.execute(
    database.db,
  );
  return new Map(rows.rows.map((r) => [r.k, r.n]));
}

async function expectedReports(type: string, from: string, to: string): Promise<number> {
  const field = { daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' }[type]!;
  const row = await sql<{ n: number }>`
    select count(*)::int as n from (
      select distinct user_id, date_trunc(${field}, created_at, 'Asia/Seoul') from public.diary_entries
      where moderation_state = 'visible'
        and date_trunc(${field}, created_at, 'Asia/Seoul') >= date_trunc(${field}, ${from}::date::timestamp at time zone 'Asia/Seoul', 'Asia/Seoul')
        and date_trunc(${field}, created_at, 'Asia/Seoul') <= date_trunc(${field}, ${to}::date::timestamp at time zone 'Asia/Seoul', 'Asia/Seoul')) x`.execute(
    database.db,
  );
  return row.rows[0]!.n;
}

async function reportCount(type: string): Promise<number> {
  const row = await sql<{
    n: number;
  }>`select count(*)::int as n from public.reports where period_type = ${type}`.execute(database.db);
  return row.rows[0]!.n;
}

async function runsCount(): Promise<number> {
  const row = await sql<{ n: number }>`select count(*)::int as n from sumda.report_backfills`.execute(
    database.db,
  );
  return row.rows[0]!.n;
}

beforeAll(async () => {
  const db = database.db;
  team = await seedTeam(db);
  boss = createBoss(database.url);
  await boss.start();
  await sql`
    create table test_report_inserts (user_id uuid, period_type text, period_start date);
    create function test_count_report_insert() returns trigger language plpgsql as $$
    begin insert into test_report_inserts values (new.user_id, new.period_type, new.period_start); return null; end $$;
    create trigger test_count_report_insert after insert on public.reports
      for each row execute function test_count_report_insert();
    -- A chunk fails (the first time only: sequences ignore rollbacks) when it builds a report of the flagged user.
    create table test_fail_once (user_id uuid primary key);
    create sequence test_fail_seq;
    create function test_fail_report() returns trigger language plpgsql as $$
    begin
      if exists (select 1 from test_fail_once where user_id = new.user_id) and nextval('test_fail_seq') = 1 then
        raise exception 'test failure for a chunk';
      end if;
      return new;
    end $$;
    create trigger test_fail_report before insert on public.reports
      for each row execute function test_fail_report();
  `.execute(db);
  // 12 users; user i writes every (i % 3 + 1)-th day from 2026-09-01 to 2026-11-30, 21:00 KST,
  // one entry in eight blocked; every entry analysed.
  await sql`
    insert into public.users (nickname) select '백필' || g from generate_series(1, ${USERS}) g`.execute(db);
  await sql`
    insert into public.diary_entries (user_id, content_enc, created_at, updated_at, moderation_state)
    select u.id, '\\x01026b31'::bytea || decode(repeat('00', 28), 'hex'), t, t,
           case when (extract(doy from t)::int + u.n) % 8 = 0 then 'blocked' else 'visible' end
    from (select id, row_number() over (order by id) as n from public.users where nickname like '백필%') u
    cross join generate_series('2026-09-01 21:00+09'::timestamptz, '2026-11-30 21:00+09'::timestamptz, interval '1 day') t
    where (extract(doy from t)::int % (u.n % 3 + 1)) = 0`.execute(db);
  await sql`
    insert into public.analysis_results (diary_id, user_id, summary, emotion_flow, reflection_question, interpretation, keywords, prompt_name, prompt_version)
    select d.id, d.user_id, '장면', jsonb_build_array(jsonb_build_object('phase', '하루', 'emotion',
             case when extract(day from d.created_at)::int % 2 = 0 then 'joy' else 'sadness' end,
             'intensity', 0.5, 'note', '메모')),
           '질문?', '해석', array['산책', '커피'], 'analysis', 'v1'
    from public.diary_entries d`.execute(db);
  await sql`
    delete from sumda.report_stale;
  `.execute(db);
});

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
});

describe('bad input and roles', () => {
  it('inverted range, unknown type, --from in the future, a bad chunk size → exit 2, nothing written', async () => {
    const env = cliEnv(database.url, team.manager.email);
    const before = { runs: await runsCount(), audit: (await auditRows(database.db)).length };
    for (const [i, args] of [
      ['--period', 'weekly', '--from', '2026-11-30', '--to', '2026-11-01'],
      ['--period', 'fortnightly', '--from', '2026-11-01', '--to', '2026-11-30'],
      ['--period', 'weekly', '--from', '2099-01-01', '--to', '2099-01-31'],
      ['--period', 'weekly', '--from', '2026-02-30', '--to', '2026-03-31'],
      ['--period', 'weekly', '--from', '2026-11-01', '--to', '2026-11-30', '--chunk-size', '0'],
      ['--period', 'weekly', '--from', '2026-11-01', '--to', '2026-11-30', '--user', 'nobody'],
    ].entries()) {
      // The first case through the real subprocess (exit 2, one error line), the rest in-process.
      const r = await (i === 0 ? runSumda : sumda)(['report', 'backfill', ...args, '--inline', '--yes'], {
        env,
      });
      expect(r.code, r.stderr).toBe(2);
      expect(errorLines(r.stderr)).toHaveLength(1);
    }
    expect(await runsCount()).toBe(before.runs);
    expect((await auditRows(database.db)).length).toBe(before.audit);
    expect(await reportCount('weekly')).toBe(0);
  }, 120_000);

  it('an operator is refused (exit 6, the refusal audited); no TTY and no --yes → exit 2', async () => {
    const args = [
      'report',
      'backfill',
      '--period',
      'weekly',
      '--from',
      '2026-11-01',
      '--to',
      '2026-11-30',
      '--inline',
    ];
    const denied = await runSumda([...args, '--yes'], { env: cliEnv(database.url, team.operator.email) });
    expect(denied.code, denied.stderr).toBe(6);
    expect((await auditRows(database.db, { action: 'report.backfill' })).map((a) => a.outcome)).toEqual([
      'denied',
    ]);
    const unconfirmed = await sumda(args, { env: cliEnv(database.url, team.manager.email) });
    expect(unconfirmed.code, unconfirmed.stderr).toBe(2);
    expect(await runsCount()).toBe(0);
  }, 60_000);

  it('--dry-run prints the periods and the estimated reports and writes nothing', async () => {
    const r = await sumda(
      [
        'report',
        'backfill',
        '--period',
        'monthly',
        '--from',
        '2026-09-15',
        '--to',
        '2026-11-30',
        '--dry-run',
        '--json',
      ],
      { env: cliEnv(database.url, team.manager.email) },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.periods).toEqual([
      { start: '2026-09-01', end: '2026-10-01' },
      { start: '2026-10-01', end: '2026-11-01' },
      { start: '2026-11-01', end: '2026-12-01' },
    ]);
    expect(out.estimatedReports).toBe(await expectedReports('monthly', '2026-09-15', '2026-11-30'));
    expect(out.users).toBe(USERS);
    expect(out.chunks).toBe(1); // 12 users, three months: one statement
    expect(await runsCount()).toBe(0);
  }, 60_000);
});

describe('running', () => {
  it('inline: every report once, audited with its parameters; a second run writes nothing', async () => {
    const db = database.db;
    await sql`delete from test_report_inserts`.execute(db);
    const plan = await planBackfill(
      db,
      { type: 'weekly', from: '2026-10-01', to: '2026-11-30', chunkSize: 5 },
      NOW,
    );
    const run = await startBackfill(db, null, operation(team.manager), plan, { inline: true });
    const result = await runInline(db, run.id);
    expect(result.run).toMatchObject({ status: 'completed', done: plan.total, total: plan.total });
    const expected = await expectedReports('weekly', '2026-10-01', '2026-11-30');
    expect(await reportCount('weekly')).toBe(expected);
    expect(result.run.written).toBe(expected);
    const counts = await inserts('weekly');
    expect(counts.size).toBe(expected);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const [audit] = await auditRows(db, { action: 'report.backfill', targetId: String(run.id) });
    expect(audit).toMatchObject({ outcome: 'success', actor_email: team.manager.email });
    expect(audit!.after).toMatchObject({ period_type: 'weekly', chunk_size: 5, mode: 'inline' });

    const again = await startBackfill(db, null, operation(team.manager), plan, { inline: true });
    const second = await runInline(db, again.id);
    expect(second.run).toMatchObject({ status: 'completed', written: 0, removed: 0 });
    expect((await inserts('weekly')).size).toBe(expected);
  });

  it('a failing chunk is counted and retried from the cursor: every report inserted exactly once', async () => {
    const db = database.db;
    await sql`delete from test_report_inserts`.execute(db);
    const users = await sql<{ id: string }>`select id from public.users order by id`.execute(db);
    await sql`insert into test_fail_once values (${users.rows[7]!.id})`.execute(db);
    const plan = await planBackfill(
      db,
      { type: 'monthly', from: '2026-09-01', to: '2026-11-30', chunkSize: 4 },
      NOW,
    );
    const run = await startBackfill(db, null, operation(team.manager), plan, { inline: true });
    // September … November is one span: each chunk builds its users' three months at once.
    const first = await runChunk(db, run.id); // users 1-4 × 3 months
    expect(first).toMatchObject({ did: 'built', period: '2026-09-01', periods: 3, users: 4 });
    await expect(runChunk(db, run.id)).rejects.toThrow(/test failure/); // users 5-8: rolled back
    const stopped = await findRun(db, run.id);
    expect(stopped).toMatchObject({
      status: 'running',
      failures: 1,
      chunks: 1,
      done: 12,
      cursor_period: '2026-09-01',
      cursor_last_period: '2026-11-01',
      cursor_user: users.rows[3]!.id,
    });
    expect(stopped.last_error).toMatch(/test failure/);
    const result = await runInline(db, run.id); // "after the crash": from the cursor
    expect(result.run).toMatchObject({ status: 'completed', done: plan.total });
    const expected = await expectedReports('monthly', '2026-09-01', '2026-11-30');
    const counts = await inserts('monthly');
    expect(counts.size).toBe(expected);
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('a chunk that runs out of its time halves the chunk size (not a failure); the run then completes', async () => {
    const db = database.db;
    await sql`delete from test_report_inserts`.execute(db);
    await sql`delete from public.reports where period_type = 'monthly'`.execute(db);
    const users = await sql<{ id: string }>`select id from public.users order by id`.execute(db);
    // Building the flagged user's reports takes longer than the run's 1 s chunk timeout.
    await sql`
      create table test_slow (user_id uuid primary key);
      create function test_slow_report() returns trigger language plpgsql as $$
      begin
        if exists (select 1 from test_slow where user_id = new.user_id) then perform pg_sleep(3); end if;
        return new;
      end $$;
      create trigger test_slow_report before insert on public.reports
        for each row execute function test_slow_report();
    `.execute(db);
    try {
      await sql`insert into test_slow values (${users.rows[5]!.id})`.execute(db);
      const plan = await planBackfill(
        db,
        { type: 'monthly', from: '2026-09-01', to: '2026-11-30', chunkSize: 4, chunkTimeoutS: 1 },
        NOW,
      );
      const run = await startBackfill(db, null, operation(team.manager), plan, { inline: true });
      expect(await runChunk(db, run.id)).toMatchObject({ did: 'built', users: 4 }); // users 1-4
      await expect(runChunk(db, run.id)).rejects.toThrow(/statement timeout/); // users 5-8: rolled back
      const shrunk = await findRun(db, run.id);
      expect(shrunk).toMatchObject({ status: 'running', chunk_size: 2, failures: 0, chunks: 1 });
      expect(shrunk.last_error).toMatch(/statement timeout.*halved to 2/);
      await sql`delete from test_slow`.execute(db);
      const result = await runInline(db, run.id);
      expect(result.run).toMatchObject({ status: 'completed', done: plan.total, failures: 0, chunk_size: 2 });
      const expected = await expectedReports('monthly', '2026-09-01', '2026-11-30');
      const counts = await inserts('monthly');
      expect(counts.size).toBe(expected);
      expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
    } finally {
      await sql`drop trigger test_slow_report on public.reports; drop function test_slow_report(); drop table test_slow`.execute(
        db,
      );
    }
  });

  it('queued: chunks chain through pg-boss; a stray job is superseded; pause, resume and cancel', async () => {
    const db = database.db;
    await sql`delete from public.reports where period_type = 'daily'`.execute(db);
    const plan = await planBackfill(
      db,
      { type: 'daily', from: '2026-11-20', to: '2026-11-29', chunkSize: 6 },
      NOW,
    );
    const run = await startBackfill(db, boss, operation(team.manager), plan, { inline: false });
    const job = await boss.getJobById('report.backfill', run.next_job_id!);
    expect(job?.data).toMatchObject({ runId: run.id });

    const stray = await runChunk(db, run.id, { jobId: '00000000-0000-4000-8000-000000000000', boss });
    expect(stray.did).toBe('superseded');
    let step = await runChunk(db, run.id, { jobId: run.next_job_id!, boss });
    expect(step).toMatchObject({ did: 'built', more: true });
    const successor = step.run.next_job_id!;
    expect(successor).not.toBe(run.next_job_id);
    expect((await boss.getJobById('report.backfill', successor))?.data).toMatchObject({ runId: run.id });

    await controlRun(db, null, operation(team.manager), run.id, 'pause');
    expect((await runChunk(db, run.id, { jobId: successor, boss })).did).toBe('not-running');
    await expect(controlRun(db, null, operation(team.manager), run.id, 'pause')).rejects.toThrow(/paused/);
    const resumed = await controlRun(db, boss, operation(team.manager), run.id, 'resume');
    expect(resumed.status).toBe('running');
    expect((await runChunk(db, run.id, { jobId: successor, boss })).did).toBe('superseded');
    step = await runChunk(db, run.id, { jobId: resumed.next_job_id!, boss });
    expect(step.did).toBe('built');
    for (let guard = 0; step.more && guard < 100; guard++) {
      step = await runChunk(db, run.id, { jobId: step.run.next_job_id!, boss });
    }
    expect(step.run).toMatchObject({ status: 'completed', done: plan.total });
    expect(await reportCount('daily')).toBe(await expectedReports('daily', '2026-11-20', '2026-11-29'));
    expect((await auditRows(db, { targetId: String(run.id) })).map((a) => a.action)).toEqual([
      'report.backfill',
      'report.backfill.pause',
      'report.backfill.resume',
    ]);

    const other = await startBackfill(db, boss, operation(team.manager), plan, { inline: false });
    const cancelled = await controlRun(db, null, operation(team.manager), other.id, 'cancel');
    expect(cancelled).toMatchObject({ status: 'cancelled' });
    expect(cancelled.finished_at).not.toBeNull();
    expect((await runChunk(db, other.id, { jobId: other.next_job_id!, boss })).did).toBe('not-running');
    await expect(controlRun(db, boss, operation(team.manager), other.id, 'resume')).rejects.toThrow(
      /cancelled/,
    );
  });

  it('overlapping runs: the younger leaves the older active run its periods; each report is built once', async () => {
    const db = database.db;
    await sql`delete from public.reports where period_type = 'weekly'; delete from test_report_inserts`.execute(
      db,
    );
    const older = await startBackfill(
      db,
      boss,
      operation(team.manager),
      await planBackfill(db, { type: 'weekly', from: '2026-10-01', to: '2026-10-31' }, NOW),
      { inline: false },
    ); // weeks of 09-28 … 10-26, not processed yet
    const youngerPlan = await planBackfill(db, { type: 'weekly', from: '2026-10-15', to: '2026-11-15' }, NOW);
    const younger = await startBackfill(db, null, operation(team.admin), youngerPlan, { inline: true });
    const y = await runInline(db, younger.id);
    expect(y.run).toMatchObject({ status: 'completed', skipped_periods: 3 }); // 10-12, 10-19, 10-26
    let step = await runChunk(db, older.id, { jobId: older.next_job_id!, boss });
    for (let guard = 0; step.more && guard < 100; guard++)
      step = await runChunk(db, older.id, { jobId: step.run.next_job_id!, boss });
    expect(step.run.status).toBe('completed');
    const counts = await inserts('weekly');
    expect(counts.size).toBe(await expectedReports('weekly', '2026-10-01', '2026-11-15'));
    expect([...counts.values()].filter((n) => n !== 1)).toEqual([]);
  });

  it('status and list print the run; --json is data', async () => {
    const env = cliEnv(database.url, team.manager.email);
    const list = await sumda(['report', 'backfill', 'list', '--json'], { env });
    expect(list.code, list.stderr).toBe(0);
    const runs = JSON.parse(list.stdout) as { run: { id: number; status: string } }[];
    expect(runs.length).toBeGreaterThanOrEqual(5);
    const id = runs.find((r) => r.run.status === 'completed')!.run.id;
    const status = await sumda(['report', 'backfill', 'status', String(id), '--json'], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ run: { id, status: 'completed' }, etaSeconds: 0 });
    const watch = await sumda(['report', 'backfill', 'status', String(id), '--watch', '--json'], { env });
    expect(watch.code, watch.stderr).toBe(0);
    expect(JSON.parse(watch.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      run: id,
      status: 'completed',
    });
    const missing = await sumda(['report', 'backfill', 'status', '99999'], { env });
    expect(missing.code).toBe(2);
  }, 60_000);
});
