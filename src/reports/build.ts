/**
 * The report builder: the reports of one period for a chunk of users, in one set-based statement.
 *
 * A chunk is a keyset range of user ids, (after, upto], optionally narrowed to one user. The
 * statement reads the chunk's counted entries of the period and of the previous one (for `change`),
 * each with its current analysis, aggregates them per user into the summary documented in
 * docs/report-summary.md, and in the same snapshot:
 * - upserts one report per user with at least one counted entry; an existing report is rewritten
 *   only when its summary differs (`ON CONFLICT … DO UPDATE … WHERE … IS DISTINCT FROM`), so a
 *   rebuild that changes nothing writes nothing and `updated_at` stays;
 * - deletes the chunk's reports of the period whose users have no counted entry left (every entry
 *   blocked or deleted): a period without entries has no report. Banned and resigned accounts get
 *   no new report, and a rebuild leaves the reports they already have as they are (a lifted ban
 *   finds them; deleting an account's data is not a report build's decision);
 * - clears the chunk's staleness marks of the period at the generation it read (a mark re-set by a
 *   change committed after this snapshot survives, see migrations/0011_reports.ts).
 *
 * Never a query per user; the only inputs are ids, bounds and the period, so the statement never
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
  /** Users in the chunk with a report for the period after the build. */
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

/** The waveform's bucket of an entry, and the series of buckets of the period. */
function waveform(period: Period): {
  unit: string;
  bucket: RawBuilder<unknown>;
  series: RawBuilder<unknown>;
} {
  if (period.type === 'yearly') {
    return {
      unit: 'month',
      bucket: sql`date_trunc('month', s.day)::date`,
      series: sql`(select gs::date as bucket from generate_series(${period.startDate}::date, ${period.endDate}::date - 1, interval '1 month') gs)`,
    };
  }
  return {
    unit: period.type === 'daily' ? 'entry' : 'day',
    bucket: sql`s.day`,
    series: sql`(select gs::date as bucket from generate_series(${period.startDate}::date, ${period.endDate}::date - 1, interval '1 day') gs)`,
  };
}

/**
 * The one statement. Exported for the benchmark, which compares it with a hand-written
 * INSERT … SELECT over every user at once.
 */
export function buildStatement(period: Period, chunk: UserChunk): RawBuilder<ChunkResult> {
  const previous = previousPeriod(period);
  const d = SCORE_DECIMALS;
  const wave = waveform(period);
  const users = sql`d.user_id > ${chunk.after}::uuid and d.user_id <= ${chunk.upto}::uuid${
    chunk.only ? sql` and d.user_id = ${chunk.only}::uuid` : sql``
  }${chunk.users ? sql` and d.user_id = any(${chunk.users}::uuid[])` : sql``}`;
  const reportUsers = sql`r.user_id > ${chunk.after}::uuid and r.user_id <= ${chunk.upto}::uuid${
    chunk.only ? sql` and r.user_id = ${chunk.only}::uuid` : sql``
  }${chunk.users ? sql` and r.user_id = any(${chunk.users}::uuid[])` : sql``}`;
  const markUsers = sql`m.user_id > ${chunk.after}::uuid and m.user_id <= ${chunk.upto}::uuid${
    chunk.only ? sql` and m.user_id = ${chunk.only}::uuid` : sql``
  }${chunk.users ? sql` and m.user_id = any(${chunk.users}::uuid[])` : sql``}`;
  // Daily waveforms have one point per entry (in writing order); the others one per bucket.
  const waveCte =
    period.type === 'daily'
      ? sql`wave as (
          select s.user_id, jsonb_agg(round(s.score, ${d}) order by s.created_at, s.id) as points
          from scored s where s.cur group by s.user_id
        )`
      : sql`buckets as (
          select s.user_id, ${wave.bucket} as bucket, round(avg(s.score), ${d}) as score
          from scored s where s.cur group by 1, 2
        ),
        wave as (
          select a.user_id, jsonb_agg(b.score order by g.bucket) as points
          from agg a cross join ${wave.series} as g
          left join buckets b on b.user_id = a.user_id and b.bucket = g.bucket
          group by a.user_id
        )`;

  return sql<ChunkResult>`
    with polarity(emotion, polarity) as (values ${POLARITY_VALUES}),
    entries as (
      select d.id, d.user_id, d.created_at, (d.created_at at time zone 'Asia/Seoul')::date as day,
             d.created_at >= ${period.start} as cur
      from public.diary_entries d
      where ${users}
        and d.created_at >= ${previous.start} and d.created_at < ${period.end}
        and d.moderation_state = 'visible'
        and exists (select 1 from public.users u where u.id = d.user_id and u.state in (${REPORTED_STATES}))
    ),
    scored as (
      select e.*, a.summary, a.emotion_flow, a.keywords, a.flagged,
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
      select s.user_id,
             count(*) filter (where s.cur)::int as entries,
             count(*) filter (where s.cur and s.emotion_flow is not null)::int as analysed,
             count(distinct s.day) filter (where s.cur)::int as days,
             round(avg(s.score) filter (where s.cur), ${d}) as avg_score,
             round(max(s.score) filter (where s.cur), ${d}) as max_score,
             round(min(s.score) filter (where s.cur), ${d}) as min_score,
             count(*) filter (where not s.cur)::int as p_entries,
             count(distinct s.day) filter (where not s.cur)::int as p_days,
             round(avg(s.score) filter (where not s.cur), ${d}) as p_avg
      from scored s
      group by s.user_id
      having count(*) filter (where s.cur) > 0
    ),
    streak as (
      select user_id, max(len)::int as longest from (
        select user_id, count(*) as len from (
          select user_id, day - (row_number() over (partition by user_id order by day))::int as island
          from (select distinct user_id, day from scored where cur) x
        ) y group by user_id, island
      ) z group by user_id
    ),
    emo as (
      select user_id, jsonb_agg(jsonb_build_object('emotion', emotion, 'share', share) order by n desc, emotion collate "C") as emotions
      from (
        select s.user_id, st->>'emotion' as emotion, count(*) as n,
               round(count(*)::numeric / sum(count(*)) over (partition by s.user_id), ${d}) as share
        from scored s cross join jsonb_array_elements(s.emotion_flow) st
        where s.cur and s.emotion_flow is not null
        group by s.user_id, st->>'emotion'
      ) x group by user_id
    ),
    kw as (
      select user_id, jsonb_agg(jsonb_build_object('keyword', keyword, 'count', n) order by n desc, keyword collate "C") as keywords
      from (
        select user_id, keyword, n, row_number() over (partition by user_id order by n desc, keyword collate "C") as rank
        from (
          select s.user_id, k.keyword, count(*)::int as n
          from scored s
          cross join lateral (select distinct lower(btrim(w)) as keyword from unnest(s.keywords) w where btrim(w) <> '') k
          where s.cur
          group by s.user_id, k.keyword
        ) c
      ) r where rank <= ${TOP_KEYWORDS}
      group by user_id
    ),
    rep as (
      select distinct on (s.user_id) s.user_id, s.summary, s.day, round(s.score, ${d}) as score
      from scored s where s.cur and s.score is not null and not s.flagged
      order by s.user_id, abs(s.score) desc, s.created_at desc, s.id desc
    ),
    ${waveCte},
    built as (
      select a.user_id, jsonb_build_object(
        'schema_version', ${REPORT_SCHEMA_VERSION}::int,
        'entries', a.entries,
        'analysed_entries', a.analysed,
        'days_written', a.days,
        'longest_streak_days', st.longest,
        'emotion_score', case when a.analysed > 0 then jsonb_build_object('avg', a.avg_score, 'max', a.max_score, 'min', a.min_score) end,
        'emotions', coalesce(emo.emotions, '[]'::jsonb),
        'keywords', coalesce(kw.keywords, '[]'::jsonb),
        'representative', case when rep.user_id is not null then jsonb_build_object('sentence', rep.summary, 'date', rep.day, 'score', rep.score) end,
        'waveform', jsonb_build_object('unit', ${wave.unit}::text, 'start', ${period.startDate}::date, 'points', coalesce(wave.points, '[]'::jsonb)),
        'change', case when a.p_entries > 0 then jsonb_build_object(
          'previous', jsonb_build_object('entries', a.p_entries, 'days_written', a.p_days, 'avg_score', a.p_avg),
          'entries', a.entries - a.p_entries,
          'days_written', a.days - a.p_days,
          'avg_score', a.avg_score - a.p_avg) end
      ) as summary
      from agg a
      join streak st on st.user_id = a.user_id
      left join emo on emo.user_id = a.user_id
      left join kw on kw.user_id = a.user_id
      left join rep on rep.user_id = a.user_id
      left join wave on wave.user_id = a.user_id
    ),
    upserted as (
      insert into public.reports as r (user_id, period_type, period_start, period_end, summary)
      select b.user_id, ${period.type}, ${period.startDate}::date, ${period.endDate}::date, b.summary from built b
      on conflict (user_id, period_type, period_start) do update set summary = excluded.summary
        where r.summary is distinct from excluded.summary
      returning (r.xmax = 0) as inserted
    ),
    removed as (
      delete from public.reports r
      where ${reportUsers} and r.period_type = ${period.type} and r.period_start = ${period.startDate}::date
        and not exists (select 1 from built b where b.user_id = r.user_id)
        and exists (select 1 from public.users u where u.id = r.user_id and u.state in (${REPORTED_STATES}))
      returning 1
    ),
    seen as (
      select m.user_id, m.generation from sumda.report_stale m
      where ${markUsers} and m.period_type = ${period.type} and m.period_start = ${period.startDate}::date
    ),
    cleared as (
      delete from sumda.report_stale m using seen
      where m.user_id = seen.user_id and m.period_type = ${period.type} and m.period_start = ${period.startDate}::date
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
 * Builds (or rebuilds) the reports of one period for one chunk of users, in the caller's
 * transaction or in one of its own. JIT is off for it: the plan's row estimates (a jsonb array per
 * entry) put it past `jit_above_cost`, and compiling it took 0.5–0.7 s a statement while a chunk of
 * 1,000 users runs in about a second — measured 1.5–3× slower with JIT (bench/reports.ts).
 */
export async function buildChunk(
  db: Kysely<Database>,
  period: Period,
  chunk: UserChunk,
): Promise<ChunkResult> {
  const build = async (trx: Kysely<Database>) => {
    await sql`select set_config('jit', 'off', true)`.execute(trx);
    return (await buildStatement(period, chunk).execute(trx)).rows[0]!;
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
