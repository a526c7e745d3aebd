/**
 * Multi-period chunks (real PostgreSQL): one builder statement over a span of periods writes
 * exactly what one statement per period writes — every summary, `change` across the span's
 * periods and against the period before it, removals, cleared staleness marks — for each period
 * type; and a backfill's window (the span recorded on the run) is cut at its length limit and
 * before a period an older run covers, and resumes from its cursor.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SPAN_DAYS,
  planBackfill,
  runChunk,
  runInline,
  spanFrom,
  startBackfill,
} from '../../src/reports/backfill.ts';
import {
  buildChunk,
  buildPeriod,
  buildStatement,
  type ChunkResult,
  FIRST_USER,
  nextUserChunk,
} from '../../src/reports/build.ts';
import { periodsCovering } from '../../src/reports/periods.ts';
import { type PeriodType, periodStartingOn } from '../../src/time/calendar.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';
import { reportsOf, staleMarks } from './support.ts';

const database = useTestDatabase();
const USERS = 9;
const LAST_USER = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
const NOW = new Date('2026-12-02T12:00:00+09:00');
let team: Team;

beforeAll(async () => {
  const db = database.db;
  team = await seedTeam(db);
  await sql`insert into public.users (nickname) select '구간' || g from generate_series(1, ${USERS}) g`.execute(
    db,
  );
  // Users the builder leaves out (banned) or keeps (dormant): the last two by id.
  await sql`
    update public.users u set state = case when o.n = ${USERS} then 'banned' else 'inactive' end
    from (select id, row_number() over (order by id) as n from public.users where nickname like '구간%') o
    where u.id = o.id and o.n >= ${USERS - 1}`.execute(db);
  // User n writes every (n % 4 + 1)-th day from 2025-12-01 to 2026-11-30 at 21:00 Seoul, even users
  // also at 07:30 every fifth day; one entry in nine is blocked.
  await sql`
    insert into public.diary_entries (user_id, content_enc, created_at, updated_at, moderation_state)
    select u.id, '\\x01026b31'::bytea || decode(repeat('00', 28), 'hex'), t, t,
           case when (extract(doy from t)::int + u.n) % 9 = 0 then 'blocked' else 'visible' end
    from (select id, row_number() over (order by id) as n from public.users where nickname like '구간%') u
    cross join lateral (
      select d + interval '21 hours' as t from generate_series('2025-12-01 00:00+09'::timestamptz, '2026-11-30 00:00+09'::timestamptz, interval '1 day') d
      where (extract(doy from d)::int % (u.n % 4 + 1)) = 0
      union all
      select d + interval '7 hours 30 minutes' from generate_series('2025-12-01 00:00+09'::timestamptz, '2026-11-30 00:00+09'::timestamptz, interval '5 days') d
      where u.n % 2 = 0
    ) s`.execute(db);
  // Analyses: every entry but one in eleven; a second, newer analysis for one in seven (the builder
  // takes the newest); an ethics tag on one in thirteen (never the representative sentence).
  await sql`
    insert into public.analysis_results (diary_id, user_id, summary, emotion_flow, reflection_question, interpretation,
                                          keywords, metadata, prompt_name, prompt_version, created_at)
    select d.id, d.user_id, '장면 ' || (h % 31) || v.version,
           (select jsonb_agg(jsonb_build_object('phase', '하루', 'emotion',
                     (array['joy','calm','sadness','anxiety','neutral','hope','exhaustion','anger'])[1 + ((h + v.shift) / (k + 1)) % 8],
                     'intensity', round((((h + v.shift) / (k + 3)) % 100) / 100.0, 2), 'note', '메모'))
            from generate_series(0, h % 3) k),
           '질문?', '해석',
           array[(array['산책','커피','친구','야근'])[1 + h % 4], (array[' 비','햇살 ','회의'])[1 + (h / 4) % 3]],
           jsonb_build_object('ethics_tags', case when h % 13 = 0 then '["self_harm"]'::jsonb else '[]'::jsonb end),
           'analysis', v.version, d.created_at + v.later
    from (select id, user_id, created_at, abs(hashtext(id::text)) as h from public.diary_entries) d
    cross join lateral (values ('v1', 0, interval '1 minute'), ('v2', 7, interval '1 hour')) v(version, shift, later)
    where d.h % 11 <> 0 and (v.version = 'v1' or d.h % 7 = 0)`.execute(db);
  await sql`delete from sumda.report_stale`.execute(db);
});

async function snapshot() {
  return (await reportsOf(database.db)).map(
    ({ user_id, period_type, period_start, period_end, summary }) => ({
      user_id,
      period_type,
      period_start,
      period_end,
      summary,
    }),
  );
}

function add(total: ChunkResult, r: ChunkResult) {
  for (const k of Object.keys(total) as (keyof ChunkResult)[]) total[k] += r[k];
}

/** Builds the span in chunks of `size` users, one statement per chunk for the whole span. */
async function buildSpan(type: PeriodType, from: string, to: string, size: number): Promise<ChunkResult> {
  const span = periodsCovering(type, from, to);
  const total: ChunkResult = { reports: 0, written: 0, inserted: 0, removed: 0, cleared: 0 };
  for (let after = FIRST_USER; ; ) {
    const chunk = await nextUserChunk(database.db, after, size);
    if (!chunk) return total;
    add(total, await buildChunk(database.db, span, { after, upto: chunk.upto }));
    after = chunk.upto;
  }
}

describe('a span of periods in one statement', () => {
  const cases: [PeriodType, string, string][] = [
    ['daily', '2025-11-28', '2026-01-03'],
    ['weekly', '2025-11-24', '2026-03-01'],
    ['monthly', '2025-11-01', '2026-11-30'],
    ['yearly', '2025-01-01', '2026-11-30'],
  ];
  for (const [type, from, to] of cases) {
    it(`${type}: writes exactly what one statement per period writes, and a rebuild writes nothing`, async () => {
      const db = database.db;
      await sql`truncate public.reports`.execute(db);
      const each: ChunkResult = { reports: 0, written: 0, inserted: 0, removed: 0, cleared: 0 };
      for (const period of periodsCovering(type, from, to))
        add(each, await buildPeriod(db, period, { chunkSize: 4 }));
      const perPeriod = await snapshot();
      expect(perPeriod.length).toBeGreaterThan(periodsCovering(type, from, to).length);
      // Reports that compare themselves with a previous period inside the span and before it.
      expect(perPeriod.filter((r) => r.summary.change !== null).length).toBeGreaterThan(0);
      expect(perPeriod.some((r) => r.summary.change === null)).toBe(true);

      await sql`truncate public.reports`.execute(db);
      const spanned = await buildSpan(type, from, to, 4);
      expect(await snapshot()).toEqual(perPeriod);
      expect(spanned).toEqual(each);
      expect(await buildSpan(type, from, to, 3)).toMatchObject({
        reports: each.reports,
        written: 0,
        removed: 0,
      });
    });
  }

  it('removes the reports of a period left without entries and clears the span’s marks only', async () => {
    const db = database.db;
    await sql`truncate public.reports`.execute(db);
    await buildSpan('weekly', '2026-10-01', '2026-11-30', 5);
    // The second user by id writes every third day and at 07:30 every fifth.
    const user = (
      await sql<{
        id: string;
      }>`select id from public.users where nickname like '구간%' order by id offset 1 limit 1`.execute(db)
    ).rows[0]!.id;
    // Blocking the user's entries of the week of 11-09 empties it; the triggers mark that week and the next.
    await sql`update public.diary_entries set moderation_state = 'blocked'
              where user_id = ${user} and created_at >= '2026-11-09 00:00+09' and created_at < '2026-11-16 00:00+09'`.execute(
      db,
    );
    const weekly = async () =>
      (await staleMarks(db, user)).filter((m) => m.period_type === 'weekly').map((m) => m.period_start);
    expect(await weekly()).toEqual(['2026-11-09', '2026-11-16']);
    const result = await buildSpan('weekly', '2026-11-02', '2026-11-15', 9);
    expect(result).toMatchObject({ removed: 1, written: 0, cleared: 1 });
    expect(await weekly()).toEqual(['2026-11-16']); // outside the span: left for its own build
    const next = await buildSpan('weekly', '2026-11-16', '2026-11-22', 9);
    expect(next).toMatchObject({ written: 1, cleared: 1 }); // its `change` no longer compares with 11-09
    const rows = await reportsOf(db, user);
    expect(rows.find((r) => r.period_type === 'weekly' && r.period_start === '2026-11-09')).toBeUndefined();
    expect(rows.find((r) => r.period_start === '2026-11-16')!.summary.change).toBeNull();
  });

  it('checks a rebuilt span for removals with one hash, never a loop over the built reports', async () => {
    const span = periodsCovering('weekly', '2026-09-01', '2026-11-30');
    const compiled = buildStatement(span, { after: FIRST_USER, upto: LAST_USER }).compile(database.db);
    const plan = await database.db.executeQuery<{ 'QUERY PLAN': string }>({
      ...compiled,
      sql: `explain (costs off) ${compiled.sql}`,
    });
    const text = plan.rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(text).toMatch(/hashed SubPlan/);
    expect(text).not.toMatch(/Anti Join/);
  });

  it('refuses periods that are not consecutive or not of one type', async () => {
    const chunk = { after: FIRST_USER, upto: FIRST_USER };
    const week = periodStartingOn('weekly', '2026-11-02');
    const gap = [week, periodStartingOn('weekly', '2026-11-16')];
    await expect(buildChunk(database.db, gap, chunk)).rejects.toThrow(/consecutive/);
    const mixed = [periodStartingOn('daily', '2026-11-01'), periodStartingOn('daily', '2026-11-02'), week];
    await expect(buildChunk(database.db, mixed, chunk)).rejects.toThrow(/consecutive/);
    await expect(buildChunk(database.db, [], chunk)).rejects.toThrow(/at least one/);
  });
});

describe('backfill windows', () => {
  it('a window spans at most MAX_SPAN_DAYS of whole periods (a year alone) and stops before a covered period', () => {
    const starts = (type: PeriodType, first: string, last: string, covered: string | null = null) =>
      spanFrom(periodStartingOn(type, first), last, covered).map((p) => p.startDate);
    expect(MAX_SPAN_DAYS).toBe(120);
    expect(starts('daily', '2026-01-01', '2026-12-31')).toHaveLength(120);
    expect(starts('weekly', '2026-01-05', '2026-12-28')).toHaveLength(17); // 119 days
    expect(starts('monthly', '2026-08-01', '2026-12-01')).toEqual(['2026-08-01', '2026-09-01', '2026-10-01']);
    expect(starts('monthly', '2026-11-01', '2026-12-01')).toEqual(['2026-11-01', '2026-12-01']);
    expect(starts('yearly', '2025-01-01', '2026-01-01')).toEqual(['2025-01-01']);
    expect(starts('weekly', '2026-10-05', '2026-11-30', '2026-10-26')).toEqual([
      '2026-10-05',
      '2026-10-12',
      '2026-10-19',
    ]);
  });

  it('an older run covering the middle of a window cuts it; every report is built once, resumable mid-window', async () => {
    const db = database.db;
    await sql`truncate public.reports`.execute(db);
    const older = await startBackfill(
      db,
      null,
      operation(team.manager),
      await planBackfill(db, { type: 'weekly', from: '2026-10-26', to: '2026-11-08' }, NOW),
      { inline: true },
    ); // weeks of 10-26 and 11-02, not processed yet
    const plan = await planBackfill(
      db,
      { type: 'weekly', from: '2026-10-01', to: '2026-11-30', chunkSize: 4 },
      NOW,
    );
    const younger = await startBackfill(db, null, operation(team.admin), plan, { inline: true });
    const first = await runChunk(db, younger.id);
    expect(first).toMatchObject({ did: 'built', period: '2026-09-28', periods: 4, users: 4 });
    expect(first.run).toMatchObject({
      cursor_period: '2026-09-28',
      cursor_last_period: '2026-10-19',
      done: 16,
    });
    // "A crash": the next call carries on from the cursor with the same window.
    const second = await runChunk(db, younger.id);
    expect(second).toMatchObject({ did: 'built', period: '2026-09-28', periods: 4, users: 4 });
    const rest = await runInline(db, younger.id);
    expect(rest.run).toMatchObject({
      status: 'completed',
      done: plan.total,
      skipped_periods: 2,
      cursor_last_period: null,
    });
    expect((await runInline(db, older.id)).run.status).toBe('completed');

    const built = await snapshot();
    await sql`truncate public.reports`.execute(db);
    for (const period of plan.periods) await buildPeriod(db, period);
    expect(built).toEqual(await snapshot());
  });

  it('a run left mid-period by a build from before windows finishes that period alone', async () => {
    const db = database.db;
    await sql`truncate public.reports`.execute(db);
    const plan = await planBackfill(
      db,
      { type: 'weekly', from: '2026-11-02', to: '2026-11-22', chunkSize: 4 },
      NOW,
    );
    const run = await startBackfill(db, null, operation(team.manager), plan, { inline: true });
    const users = await sql<{ id: string }>`select id from public.users order by id`.execute(db);
    // What the one-period build left: the first four users of the week of 11-02 done (and nothing
    // written, so their reports are missing here: only the rest of the period may be built).
    await sql`update sumda.report_backfills set cursor_user = ${users.rows[3]!.id}, done = 4 where id = ${run.id}`.execute(
      db,
    );
    const step = await runChunk(db, run.id);
    expect(step).toMatchObject({ did: 'built', period: '2026-11-02', periods: 1, users: 4 });
    // Users 5-8 of that week alone, now recorded as the window; then user 9, then 11-09 … 11-16.
    expect(step.run).toMatchObject({ cursor_period: '2026-11-02', cursor_last_period: '2026-11-02' });
    const rest = await runInline(db, run.id);
    expect(rest.run).toMatchObject({ status: 'completed', done: plan.total });
    const rows = await snapshot();
    const first = new Set(users.rows.slice(0, 4).map((u) => u.id));
    // The first four users have no report of 11-02 (left to the build that did them), every later
    // week is built for everyone with entries.
    expect(rows.filter((r) => r.period_start === '2026-11-02' && first.has(r.user_id))).toEqual([]);
    expect(rows.filter((r) => r.period_start === '2026-11-09').length).toBeGreaterThanOrEqual(7);
  });
});
