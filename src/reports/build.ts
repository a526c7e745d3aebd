/**
 * The report builder: the reports of a span of periods for a chunk of users, in one set-based
 * statement.
 *
 * A chunk is a keyset range of user ids, (after, upto], optionally narrowed to one user; a span is
 * one period or several consecutive periods of one type. The statement reads the chunk's counted
 * entries once — from the start of the period before the span (for `change`) to the span's end —
 * each with its current analysis, groups them per (user, period) into the summary documented in
 * docs/report-summary.md, and in the same snapshot:
 * - upserts one report per user and period with at least one counted entry; an existing report is
 *   rewritten only when its summary differs (`ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM`),
 *   so a rebuild that changes nothing writes nothing and `updated_at` stays;
 * - deletes the chunk's reports of the span's periods whose users have no counted entry left in
 *   them (every entry blocked or deleted): a period without entries has no report. Banned and
 *   resigned accounts get no new report, and a rebuild leaves the reports they already have as they
 *   are (a lifted ban finds them; deleting an account's data is not a report build's decision);
 * - clears the chunk's staleness marks of the span's periods at the generation it read (a mark
 *   re-set by a change committed after this snapshot survives, see migrations/0012_reports.ts).
 *
 * A span of n periods writes exactly what n one-period statements write (test/reports/span.test.ts)
 * at about the cost of one: the entries and their analyses are read once, not once per period and
 * again as the next period's previous one.
 *
 * Never a query per user; the only inputs are ids, bounds and the periods, so the statement never
 * carries diary text (entries are not decrypted: reports use analysis fields only).
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { type Period, type PeriodType, previousPeriod } from '../time/calendar.ts';
import {
  EMOTION_POLARITY,
  REPORT_SCHEMA_VERSION,
  REPORTED_USER_STATES,
  SCORE_DECIMALS,
  TOP_KEYWORDS,
} from './summary.ts';

/** Below every uuid gen_random_uuid() can return (version 4 sets bits the nil uuid lacks). */
export const FIRST_USER = '00000000-0000-0000-0000-000000000000';

export interface UserChunk {
  /** Exclusive lower bound (FIRST_USER for the first chunk). */
  after: string;
  /** Inclusive upper bound. */
  upto: string;
  /** Narrow the chunk to this one user. */
  only?: string | null;
  /** Narrow the chunk to these users (the stale job's marked users). */
  users?: readonly string[];
}

export interface ChunkResult {
  /** (user, period) pairs of the chunk and span with a report after the build. */
  reports: number;
  /** Reports inserted or changed. */
  written: number;
  inserted: number;
  /** Reports removed because nothing counted is left in their period. */
  removed: number;
  /** Staleness marks cleared. */
  cleared: number;
}

const REPORTED_STATES = sql.join(REPORTED_USER_STATES.map((state) => sql.lit(state)));

const POLARITY_VALUES = sql.raw(
  Object.entries(EMOTION_POLARITY)
    .map(([emotion, polarity]) => {
      if (!/^[a-z_]+$/.test(emotion)) throw new Error(`emotion name ${emotion} is not a plain identifier`);
      return `('${emotion}', ${polarity})`;
    })
    .join(', '),
);

/** `date_trunc`'s field and the length of a period of each type (Asia/Seoul has no DST: see calendar.ts). */
const PERIOD_FIELD: Readonly<Record<PeriodType, string>> = {
  daily: 'day',
  weekly: 'week',
  monthly: 'month',
  yearly: 'year',
};
const PERIOD_STEP: Readonly<Record<PeriodType, string>> = {
  daily: '1 day',
  weekly: '7 days',
  monthly: '1 month',
  yearly: '1 year',
};

/** Consecutive periods of one type, oldest first: what one chunk statement builds. */
export type PeriodSpan = Period | readonly Period[];

function spanOf(span: PeriodSpan): { type: PeriodType; first: Period; last: Period } {
  const periods = 'type' in span ? [span as Period] : (span as readonly Period[]);
  const first = periods[0];
  if (!first) throw new RangeError('a chunk builds at least one period');
  for (let i = 1; i < periods.length; i++) {
    const p = periods[i]!;
    if (p.type !== first.type || p.startDate !== periods[i - 1]!.endDate) {
      throw new RangeError(`a chunk's periods are consecutive periods of one type (${p.startDate})`);
    }
  }
  return { type: first.type, first, last: periods.at(-1)! };
}

/**
 * The one statement: the chunk's users × every period of the span. Entries are read once, from
 * the start of the period before the span (for `change`) to the end of the span, each with its
 * current analysis, and grouped by (user, period): a span of many periods costs one scan of the
 * chunk's entries, not one per period. Exported for the benchmark, which compares it with a
 * hand-written INSERT … SELECT over every user at once.
 */
export function buildStatement(span: PeriodSpan, chunk: UserChunk): RawBuilder<ChunkResult> {
  const { type, first, last } = spanOf(span);
  const previous = previousPeriod(first);
  const d = SCORE_DECIMALS;
  const field = sql.lit(PERIOD_FIELD[type]);
  const step = sql`${sql.lit(PERIOD_STEP[type])}::interval`;
  const users = (alias: string) => {
    const col = sql.ref(`${alias}.user_id`);
    return sql`${col} > ${chunk.after}::uuid and ${col} <= ${chunk.upto}::uuid${
      chunk.only ? sql` and ${col} = ${chunk.only}::uuid` : sql``
    }${chunk.users ? sql` and ${col} = any(${chunk.users}::uuid[])` : sql``}`;
  };
  // Daily waveforms have one point per entry (in writing order); the others one per bucket: a
  // day (weekly, monthly) or a month (yearly), over every bucket of the period.
  const waveCte =
    type === 'daily'
      ? sql`wave as (
          select s.user_id, s.p, jsonb_agg(round(s.score, ${d}) order by s.created_at, s.id) as points
          from scored s where s.cur group by s.user_id, s.p
        )`
      : sql`buckets as (
          select s.user_id, s.p, ${type === 'yearly' ? sql`date_trunc('month', s.day)::date` : sql`s.day`} as bucket,
                 round(avg(s.score), ${d}) as score
          from scored s where s.cur group by 1, 2, 3
        ),
        wave as (
          select a.user_id, a.p, jsonb_agg(b.score order by g.bucket) as points
          from agg a
          cross join lateral (
            select gs::date as bucket
            from generate_series(a.p, (a.p + ${step})::date - 1, ${sql.lit(type === 'yearly' ? '1 month' : '1 day')}::interval) gs
          ) g
          left join buckets b on b.user_id = a.user_id and b.p = a.p and b.bucket = g.bucket
          where a.p >= ${first.startDate}::date
          group by a.user_id, a.p
        )`;

  return sql<ChunkResult>`
    with polarity(emotion, polarity) as (values ${POLARITY_VALUES}),
    entries as (
      select d.id, d.user_id, d.created_at, (d.created_at at time zone 'Asia/Seoul')::date as day
      from public.diary_entries d
      where ${users('d')}
        and d.created_at >= ${previous.start} and d.created_at < ${last.end}
        and d.moderation_state = 'visible'
        and exists (select 1 from public.users u where u.id = d.user_id and u.state in (${REPORTED_STATES}))
    ),
    scored as (
      select e.*, date_trunc(${field}, e.day::timestamp)::date as p, e.created_at >= ${first.start} as cur,
             a.summary, a.emotion_flow, a.keywords, a.flagged,
             (select round(avg(coalesce(p.polarity, 0) * (st->>'intensity')::numeric), 6)
              from jsonb_array_elements(a.emotion_flow) st
              left join polarity p on p.emotion = st->>'emotion') as score
      from entries e
      left join lateral (
        select x.summary, x.emotion_flow, x.keywords,
               coalesce(x.metadata->'ethics_tags', '[]'::jsonb) <> '[]'::jsonb as flagged
        from public.analysis_results x
        where x.diary_id = e.id order by x.created_at desc, x.id desc limit 1
      ) a on true
    ),
    agg as (
      select s.user_id, s.p,
             count(*)::int as entries,
             count(s.emotion_flow)::int as analysed,
             count(distinct s.day)::int as days,
             round(avg(s.score), ${d}) as avg_score,
             round(max(s.score), ${d}) as max_score,
             round(min(s.score), ${d}) as min_score
      from scored s
      group by s.user_id, s.p
    ),
    streak as (
      select user_id, p, max(len)::int as longest from (
        select user_id, p, count(*) as len from (
          select user_id, p, day - (row_number() over (partition by user_id, p order by day))::int as island
          from (select distinct user_id, p, day from scored where cur) x
        ) y group by user_id, p, island
      ) z group by user_id, p
    ),
    emo as (
      select user_id, p, jsonb_agg(jsonb_build_object('emotion', emotion, 'share', share) order by n desc, emotion collate "C") as emotions
      from (
        select s.user_id, s.p, st->>'emotion' as emotion, count(*) as n,
               round(count(*)::numeric / sum(count(*)) over (partition by s.user_id, s.p), ${d}) as share
        from scored s cross join jsonb_array_elements(s.emotion_flow) st
        where s.cur and s.emotion_flow is not null
        group by s.user_id, s.p, st->>'emotion'
      ) x group by user_id, p
    ),
    kw as (
      select user_id, p, jsonb_agg(jsonb_build_object('keyword', keyword, 'count', n) order by n desc, keyword collate "C") as keywords
      from (
        select user_id, p, keyword, n, row_number() over (partition by user_id, p order by n desc, keyword collate "C") as rank
        from (
          select s.user_id, s.p, k.keyword, count(*)::int as n
          from scored s
          cross join lateral (select distinct lower(btrim(w)) as keyword from unnest(s.keywords) w where btrim(w) <> '') k
          where s.cur
          group by s.user_id, s.p, k.keyword
        ) c
      ) r where rank <= ${TOP_KEYWORDS}
      group by user_id, p
    ),
    rep as (
      select distinct on (s.user_id, s.p) s.user_id, s.p, s.summary, s.day, round(s.score, ${d}) as score
      from scored s where s.cur and s.score is not null and not s.flagged
      order by s.user_id, s.p, abs(s.score) desc, s.created_at desc, s.id desc
    ),
    ${waveCte},
    built as (
      select a.user_id, a.p, jsonb_build_object(
        'schema_version', ${REPORT_SCHEMA_VERSION}::int,
        'entries', a.entries,
        'analysed_entries', a.analysed,
        'days_written', a.days,
        'longest_streak_days', st.longest,
        'emotion_score', case when a.analysed > 0 then jsonb_build_object('avg', a.avg_score, 'max', a.max_score, 'min', a.min_score) end,
        'emotions', coalesce(emo.emotions, '[]'::jsonb),
        'keywords', coalesce(kw.keywords, '[]'::jsonb),
        'representative', case when rep.user_id is not null then jsonb_build_object('sentence', rep.summary, 'date', rep.day, 'score', rep.score) end,
        'waveform', jsonb_build_object('unit', ${type === 'daily' ? 'entry' : type === 'yearly' ? 'month' : 'day'}::text, 'start', a.p, 'points', coalesce(wave.points, '[]'::jsonb)),
        'change', case when pa.user_id is not null then jsonb_build_object(
          'previous', jsonb_build_object('entries', pa.entries, 'days_written', pa.days, 'avg_score', pa.avg_score),
          'entries', a.entries - pa.entries,
          'days_written', a.days - pa.days,
          'avg_score', a.avg_score - pa.avg_score) end
      ) as summary
      from agg a
      join streak st on st.user_id = a.user_id and st.p = a.p
      left join emo on emo.user_id = a.user_id and emo.p = a.p
      left join kw on kw.user_id = a.user_id and kw.p = a.p
      left join rep on rep.user_id = a.user_id and rep.p = a.p
      left join wave on wave.user_id = a.user_id and wave.p = a.p
      left join agg pa on pa.user_id = a.user_id and pa.p = (a.p - ${step})::date
      where a.p >= ${first.startDate}::date
    ),
    upserted as (
      insert into public.reports as r (user_id, period_type, period_start, period_end, summary)
      select b.user_id, ${type}, b.p, (b.p + ${step})::date, b.summary from built b
      on conflict (user_id, period_type, period_start) do update set summary = excluded.summary
        where r.summary is distinct from excluded.summary
      returning (r.xmax = 0) as inserted
    ),
    removed as (
      delete from public.reports r
      where ${users('r')} and r.period_type = ${type}
        and r.period_start between ${first.startDate}::date and ${last.startDate}::date
        -- NOT IN, a hashed subplan: a NOT EXISTS anti-join against the CTE, whose size the planner
        -- cannot see, ran as a nested loop, (users × periods)² comparisons on a rebuild of a span.
        and (r.user_id, r.period_start) not in (select b.user_id, b.p from built b)
        and exists (select 1 from public.users u where u.id = r.user_id and u.state in (${REPORTED_STATES}))
      returning 1
    ),
    seen as (
      select m.user_id, m.period_start, m.generation from sumda.report_stale m
      where ${users('m')} and m.period_type = ${type}
        and m.period_start between ${first.startDate}::date and ${last.startDate}::date
    ),
    cleared as (
      delete from sumda.report_stale m using seen
      where m.user_id = seen.user_id and m.period_type = ${type} and m.period_start = seen.period_start
        and m.generation = seen.generation
      returning 1
    )
    select (select count(*) from built)::int as reports,
           (select count(*) from upserted)::int as written,
           (select count(*) from upserted where inserted)::int as inserted,
           (select count(*) from removed)::int as removed,
           (select count(*) from cleared)::int as cleared`;
}

/**
 * Builds (or rebuilds) the reports of a span of periods for one chunk of users, in the caller's
 * transaction or in one of its own. JIT is off for it: the plan's row estimates (a jsonb array per
 * entry) put it past `jit_above_cost`, and compiling it took 0.5–0.7 s a statement while a chunk of
 * 1,000 users × one period ran in about a second — measured 1.5–3× slower with JIT (bench/reports.ts).
 */
export async function buildChunk(
  db: Kysely<Database>,
  span: PeriodSpan,
  chunk: UserChunk,
): Promise<ChunkResult> {
  const build = async (trx: Kysely<Database>) => {
    await sql`select set_config('jit', 'off', true)`.execute(trx);
    return (await buildStatement(span, chunk).execute(trx)).rows[0]!;
  };
  return db.isTransaction ? build(db) : db.transaction().execute(build);
}

/** The next chunk of users after a cursor, by keyset on users.id: its upper bound and size. */
export async function nextUserChunk(
  db: Kysely<Database>,
  after: string,
  size: number,
): Promise<{ upto: string; users: number } | null> {
  const row = await sql<{ upto: string | null; users: number }>`
    with s as (select id from public.users where id > ${after}::uuid order by id limit ${size})
    select (select id::text from s order by id desc limit 1) as upto, (select count(*) from s)::int as users`.execute(
    db,
  );
  const r = row.rows[0];
  return r?.upto ? { upto: r.upto, users: r.users } : null;
}

/** Builds one period for every user (or one), chunk after chunk: for tests, the stale job and small runs. */
export async function buildPeriod(
  db: Kysely<Database>,
  period: Period,
  options: { chunkSize?: number; userId?: string | null } = {},
): Promise<ChunkResult> {
  const total: ChunkResult = { reports: 0, written: 0, inserted: 0, removed: 0, cleared: 0 };
  const add = (r: ChunkResult) => {
    for (const k of Object.keys(total) as (keyof ChunkResult)[]) total[k] += r[k];
  };
  if (options.userId) {
    add(await buildChunk(db, period, { after: FIRST_USER, upto: options.userId, only: options.userId }));
    return total;
  }
  let after = FIRST_USER;
  for (;;) {
    const chunk = await nextUserChunk(db, after, options.chunkSize ?? 1000);
    if (!chunk) return total;
    add(await buildChunk(db, period, { after, upto: chunk.upto }));
    after = chunk.upto;
  }
}

export type { PeriodType };
