/**
 * Report builds: a full weekly + monthly backfill of USERS × ENTRIES analysed entries (one a day,
 * ending yesterday), measured four ways on the same data in the same run:
 * - baseline: one hand-written `INSERT … SELECT … GROUP BY` per period type over every user and
 *   every period at once, producing the same summaries (checked: every row equal to the builder's);
 * - the builder `--inline`: recorded runs, one statement per chunk of 1,000 users × a window of
 *   periods (up to 120 days: every week of the range, or three months); then the same runs again
 *   over the reports they built (a rebuild that changes nothing, which must write nothing);
 * - the builder through 2 workers: the two runs (weekly, monthly) queued and worked by two
 *   in-process workers (`runWorker`, once) — a run's chunks are sequential by design (its cursor),
 *   so two workers overlap two runs;
 * - a naive per-user loop (one statement per user and period), timed on a sample of users and
 *   scaled to all of them.
 * Goal: the builder within 1.5× the baseline. `BENCH_REPORT_USERS` (default 1,000) and
 * `BENCH_REPORT_ENTRIES` (default 100) set the size; the size is 10,000 × 100. Every figure
 * is printed, never asserted; the load average is printed before and after.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { runWorker } from '../jobs/runtime.ts';
import { bootstrapAdmin } from '../src/admins/index.ts';
import { loadConfig } from '../src/config/index.ts';
import { createKeyring, seal } from '../src/crypto/index.ts';
import { createDb, type Db } from '../src/db/connect.ts';
import { createBoss } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { planBackfill, runInline, startBackfill } from '../src/reports/backfill.ts';
import { buildChunk, FIRST_USER } from '../src/reports/build.ts';
import { periodsCovering } from '../src/reports/periods.ts';
import {
  EMOTION_POLARITY,
  REPORT_SCHEMA_VERSION,
  SCORE_DECIMALS,
  TOP_KEYWORDS,
} from '../src/reports/summary.ts';
import { addDays, previousPeriod, seoulDate } from '../src/time/calendar.ts';
import {
  type Bench,
  type Figure,
  num,
  progress,
  runStandalone,
  type Summary,
  scratchDatabase,
  sinkLogger,
  timed,
} from './support.ts';

const USERS = Number(process.env.BENCH_REPORT_USERS) || 1000;
const ENTRIES = Number(process.env.BENCH_REPORT_ENTRIES) || 100;
const NAIVE_SAMPLE = Math.min(USERS, 200);
/** `BENCH_REPORT_WARMUP=0` skips the untimed first baseline run (the full size, where it takes minutes). */
const WARM_UP = process.env.BENCH_REPORT_WARMUP !== '0';
export const REPORT_GOAL = 1.5;
const TYPES = ['weekly', 'monthly'] as const;

/** The bench's key: the workers check it against the entries (a wrong key is refused before anything runs). */
const KEY = randomBytes(32);
const KEYRING = createKeyring([{ id: 'k1', key: KEY }]);

async function generate(db: Db, first: string): Promise<void> {
  // The staleness triggers are switched off while generating (replica role): marks are not what is measured.
  await db.connection().execute(async (c) => {
    await sql`set session_replication_role = replica`.execute(c);
    await sql`insert into public.users (nickname) select 'bench' || g from generate_series(1, ${USERS}) g`.execute(
      c,
    );
    // One real ciphertext per user (sealed to that user), shared by the user's entries: the builder
    // never decrypts, and the workers' key check opens the newest entry.
    const ids = (await sql<{ id: string }>`select id from public.users`.execute(c)).rows.map((r) => r.id);
    const sealed = ids.map((id) => seal(KEYRING, '벤치마크 일기', id));
    await sql`create temporary table bench_sealed as
      select * from unnest(${ids}::uuid[], ${sealed}::bytea[]) as s(user_id, content_enc)`.execute(c);
    await sql`
      insert into public.diary_entries (user_id, content_enc, created_at, updated_at)
      select u.id, b.content_enc, t, t
      from public.users u
      join bench_sealed b on b.user_id = u.id
      cross join lateral (select (${first}::date + g) + interval '21 hours' - interval '9 hours'
                                 + (abs(hashtext(u.id::text || g)) % 180) * interval '1 minute' as t
                          from generate_series(0, ${ENTRIES - 1}) g) s`.execute(c);
    await sql`
      insert into public.analysis_results
        (diary_id, user_id, summary, emotion_flow, reflection_question, interpretation, keywords, prompt_name, prompt_version)
      select d.id, d.user_id, '오늘의 장면 ' || (h % 97),
             (select jsonb_agg(jsonb_build_object('phase', '하루', 'emotion',
                       (array['joy','calm','sadness','anxiety','neutral','hope','exhaustion','anger'])[1 + (h / (k + 1)) % 8],
                       'intensity', round(((h / (k + 3)) % 100) / 100.0, 2), 'note', '메모'))
              from generate_series(0, h % 3) k),
             '질문?', '해석',
             array[(array['산책','커피','친구','야근','가족','운동','공부','음악'])[1 + h % 8],
                   (array['비','햇살','회의','여행','책','요리'])[1 + (h / 8) % 6],
                   (array['휴식','걱정','감사'])[1 + (h / 48) % 3]],
             'analysis', 'bench'
      from (select id, user_id, abs(hashtext(id::text)) as h from public.diary_entries) d`.execute(c);
    // The connection goes back to the pool: its triggers (the audit chain among them) must fire again.
    await sql`set session_replication_role = default`.execute(c);
    await sql`analyze`.execute(c);
  });
}

/** The hand-written baseline of one period type: every user, every period of the range, one statement. */
function baseline(type: 'weekly' | 'monthly', rangeStart: string, rangeEnd: string, prevStart: string) {
  const field = type === 'weekly' ? 'week' : 'month';
  const step = type === 'weekly' ? sql`interval '7 days'` : sql`interval '1 month'`;
  const d = SCORE_DECIMALS;
  const polarity = sql.raw(
    Object.entries(EMOTION_POLARITY)
      .map(([e, p]) => `('${e}', ${p})`)
      .join(', '),
  );
  return sql`
    with polarity(emotion, polarity) as (values ${polarity}),
    entries as (
      select d.id, d.user_id, d.created_at, (d.created_at at time zone 'Asia/Seoul')::date as day,
             (date_trunc(${field}, d.created_at, 'Asia/Seoul') at time zone 'Asia/Seoul')::date as p
      from public.diary_entries d
      where d.created_at >= (${prevStart}::date::timestamp at time zone 'Asia/Seoul')
        and d.created_at < (${rangeEnd}::date::timestamp at time zone 'Asia/Seoul')
        and d.moderation_state = 'visible'
        and exists (select 1 from public.users u where u.id = d.user_id and u.state in ('active', 'inactive'))
    ),
    scored as (
      select e.*, a.summary, a.emotion_flow, a.keywords, a.flagged,
             (select round(avg(coalesce(p.polarity, 0) * (st->>'intensity')::numeric), 6)
              from jsonb_array_elements(a.emotion_flow) st left join polarity p on p.emotion = st->>'emotion') as score
      from entries e
      left join lateral (select x.summary, x.emotion_flow, x.keywords,
                                coalesce(x.metadata->'ethics_tags', '[]'::jsonb) <> '[]'::jsonb as flagged
                         from public.analysis_results x
                         where x.diary_id = e.id order by x.created_at desc, x.id desc limit 1) a on true
    ),
    agg as (
      select user_id, p, count(*)::int as entries, count(emotion_flow)::int as analysed, count(distinct day)::int as days,
             round(avg(score), ${d}) as avg_score, round(max(score), ${d}) as max_score, round(min(score), ${d}) as min_score
      from scored group by user_id, p
    ),
    streak as (
      select user_id, p, max(len)::int as longest from (
        select user_id, p, count(*) as len from (
          select user_id, p, day - (row_number() over (partition by user_id, p order by day))::int as island
          from (select distinct user_id, p, day from scored) x) y
        group by user_id, p, island) z
      group by user_id, p
    ),
    emo as (
      select user_id, p, jsonb_agg(jsonb_build_object('emotion', emotion, 'share', share) order by n desc, emotion collate "C") as emotions
      from (select s.user_id, s.p, st->>'emotion' as emotion, count(*) as n,
                   round(count(*)::numeric / sum(count(*)) over (partition by s.user_id, s.p), ${d}) as share
            from scored s cross join jsonb_array_elements(s.emotion_flow) st
            where s.emotion_flow is not null group by s.user_id, s.p, st->>'emotion') x
      group by user_id, p
    ),
    kw as (
      select user_id, p, jsonb_agg(jsonb_build_object('keyword', keyword, 'count', n) order by n desc, keyword collate "C") as keywords
      from (select user_id, p, keyword, n, row_number() over (partition by user_id, p order by n desc, keyword collate "C") as rank
            from (select s.user_id, s.p, k.keyword, count(*)::int as n from scored s
                  cross join lateral (select distinct lower(btrim(w)) as keyword from unnest(s.keywords) w where btrim(w) <> '') k
                  group by s.user_id, s.p, k.keyword) c) r
      where rank <= ${TOP_KEYWORDS} group by user_id, p
    ),
    rep as (
      select distinct on (user_id, p) user_id, p, summary, day, round(score, ${d}) as score
      from scored where score is not null and not flagged order by user_id, p, abs(score) desc, created_at desc, id desc
    ),
    buckets as (select user_id, p, day, round(avg(score), ${d}) as score from scored group by user_id, p, day),
    wave as (
      select a.user_id, a.p, jsonb_agg(b.score order by g.day) as points
      from agg a
      cross join lateral (select gs::date as day from generate_series(a.p, (a.p + ${step})::date - 1, interval '1 day') gs) g
      left join buckets b on b.user_id = a.user_id and b.p = a.p and b.day = g.day
      where a.p >= ${rangeStart}::date
      group by a.user_id, a.p
    )
    insert into public.reports (user_id, period_type, period_start, period_end, summary)
    select a.user_id, ${type}, a.p, (a.p + ${step})::date, jsonb_build_object(
      'schema_version', ${REPORT_SCHEMA_VERSION}::int,
      'entries', a.entries, 'analysed_entries', a.analysed, 'days_written', a.days, 'longest_streak_days', st.longest,
      'emotion_score', case when a.analysed > 0 then jsonb_build_object('avg', a.avg_score, 'max', a.max_score, 'min', a.min_score) end,
      'emotions', coalesce(emo.emotions, '[]'::jsonb), 'keywords', coalesce(kw.keywords, '[]'::jsonb),
      'representative', case when rep.user_id is not null then jsonb_build_object('sentence', rep.summary, 'date', rep.day, 'score', rep.score) end,
      'waveform', jsonb_build_object('unit', 'day', 'start', a.p, 'points', coalesce(wave.points, '[]'::jsonb)),
      'change', case when pa.user_id is not null then jsonb_build_object(
        'previous', jsonb_build_object('entries', pa.entries, 'days_written', pa.days, 'avg_score', pa.avg_score),
        'entries', a.entries - pa.entries, 'days_written', a.days - pa.days, 'avg_score', a.avg_score - pa.avg_score) end)
    from agg a
    join streak st on st.user_id = a.user_id and st.p = a.p
    left join emo on emo.user_id = a.user_id and emo.p = a.p
    left join kw on kw.user_id = a.user_id and kw.p = a.p
    left join rep on rep.user_id = a.user_id and rep.p = a.p
    left join wave on wave.user_id = a.user_id and wave.p = a.p
    left join agg pa on pa.user_id = a.user_id and pa.p = (a.p - ${step})::date
    where a.p >= ${rangeStart}::date`;
}

async function reset(db: Db) {
  await sql`truncate public.reports`.execute(db);
  await sql`truncate sumda.report_stale`.execute(db);
}

async function snapshot(db: Db, table: string) {
  await sql`drop table if exists ${sql.raw(table)}`.execute(db);
  await sql`create table ${sql.raw(table)} as select user_id, period_type, period_start, summary from public.reports`.execute(
    db,
  );
}

export async function runReports(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'reports', { migrated: true });
  const db = createDb(scratch.url, { max: 4, applicationName: 'sumda-bench' });
  const figures: Figure[] = [];
  try {
    const yesterday = addDays(seoulDate(new Date()), -1);
    const first = addDays(yesterday, -(ENTRIES - 1));
    progress(`generating ${num(USERS)} users × ${ENTRIES} analysed entries (${first} … ${yesterday})`);
    const gen = await timed(() => generate(db, first));
    figures.push({
      label: 'data',
      value: `${num(USERS * ENTRIES)} entries and analyses generated in ${num(gen.ms / 1000, 1)} s`,
    });
    const admin = await bootstrapAdmin(
      db,
      { actor: null, requestId: randomUUID(), command: 'bench' },
      { email: 'bench@sumda.local' },
    );
    const op = () => ({
      actor: { id: admin.id, email: admin.email, role: 'admin' as const },
      requestId: randomUUID(),
      command: 'bench',
    });
    const plans = await Promise.all(
      TYPES.map((type) => planBackfill(db, { type, from: first, to: yesterday })),
    );
    const rows = plans.reduce((n, p) => n + p.estimatedReports, 0);

    // 1. baseline (run once untimed first: the data was just written, the cache is cold)
    const runBaseline = async () => {
      for (const plan of plans) {
        const p0 = plan.periods[0]!;
        await db.transaction().execute(async (trx) => {
          // Hash joins between the CTEs: a nested loop over CTE scans is quadratic at this size.
          await sql`set local enable_nestloop = off`.execute(trx);
          await baseline(
            plan.params.type as 'weekly' | 'monthly',
            p0.startDate,
            plan.periods.at(-1)!.endDate,
            previousPeriod(p0).startDate,
          ).execute(trx);
        });
      }
    };
    await reset(db);
    if (WARM_UP) {
      await runBaseline();
      await reset(db);
    }
    const base = await timed(runBaseline);
    await snapshot(db, 'bench_baseline');
    figures.push({
      label: 'baseline INSERT … SELECT … GROUP BY',
      value: `${num(rows)} reports in ${num(base.ms / 1000, 2)} s`,
    });

    // 2. builder inline
    await reset(db);
    const inline = await timed(async () => {
      for (const plan of plans) {
        const run = await startBackfill(db, null, op(), plan, { inline: true });
        await runInline(db, run.id);
      }
    });
    const written = (await sql<{ n: number }>`select count(*)::int as n from public.reports`.execute(db))
      .rows[0]!.n;
    const differ = (
      await sql<{ n: number }>`
        select count(*)::int as n from public.reports r
        full join bench_baseline b using (user_id, period_type, period_start)
        where r.summary is distinct from b.summary`.execute(db)
    ).rows[0]!.n;
    figures.push({
      label: 'builder --inline (chunks of 1,000 users × a window of periods)',
      value: `${num(written)} reports in ${num(inline.ms / 1000, 2)} s; ${differ} differ from the baseline's`,
      ratio: inline.ms / base.ms,
      against: 'baseline',
      goal: `≤ ${REPORT_GOAL}×`,
      met: inline.ms / base.ms <= REPORT_GOAL,
      headline: true,
    });

    // 2b. the same runs again over built reports: nothing changes, so nothing may be written
    const rebuild = await timed(async () => {
      let rewritten = 0;
      for (const plan of plans) {
        const run = await startBackfill(db, null, op(), plan, { inline: true });
        const done = await runInline(db, run.id);
        rewritten += done.run.written + done.run.removed;
      }
      return rewritten;
    });
    figures.push({
      label: 'builder --inline again over its own reports (a rebuild that changes nothing)',
      value: `${num(rebuild.value)} reports written or removed in ${num(rebuild.ms / 1000, 2)} s`,
      ratio: rebuild.ms / base.ms,
      against: 'baseline',
    });

    // 3. two workers, the two runs queued
    await reset(db);
    const boss = createBoss(scratch.url);
    await boss.start();
    for (const plan of plans) await startBackfill(db, boss, op(), plan, { inline: false });
    await boss.stop({ graceful: false, close: true });
    const config = loadConfig(
      {},
      {
        DATABASE_URL: scratch.url,
        SUMDA_ENV_FILE: '/nonexistent/.env',
        SUMDA_ANALYZER: 'local',
        SUMDA_ENCRYPTION_KEYS: `k1:${KEY.toString('base64')}`,
      },
      '/',
    );
    const worker = () =>
      runWorker({
        url: scratch.url,
        config,
        log: sinkLogger('warn'),
        queues: [QUEUES.reportBackfill.name],
        once: true,
        drainTimeoutMs: 600_000,
        heartbeatMs: 600_000,
        pollIntervalMs: 100,
        signal: new AbortController().signal,
      });
    const two = await timed(() => Promise.all([worker(), worker()]));
    const twoWritten = (await sql<{ n: number }>`select count(*)::int as n from public.reports`.execute(db))
      .rows[0]!.n;
    figures.push({
      label: 'builder through 2 workers (weekly and monthly runs queued)',
      value: `${num(twoWritten)} reports in ${num(two.ms / 1000, 2)} s (worker start-up included)`,
      ratio: two.ms / base.ms,
      against: 'baseline',
      goal: `≤ ${REPORT_GOAL}×`,
      met: two.ms / base.ms <= REPORT_GOAL,
      headline: true,
    });

    // 4. naive per-user loop, on a sample
    await reset(db);
    const sample = (
      await sql<{ id: string }>`select id::text from public.users order by id limit ${NAIVE_SAMPLE}`.execute(
        db,
      )
    ).rows;
    const naive = await timed(async () => {
      for (const plan of plans) {
        for (const period of periodsCovering(plan.params.type, first, yesterday)) {
          for (const u of sample) await buildChunk(db, period, { after: FIRST_USER, upto: u.id, only: u.id });
        }
      }
    });
    const naiveAll = (naive.ms / sample.length) * USERS;
    figures.push({
      label: `naive loop, one statement per user × period (${sample.length} users, scaled)`,
      value: `${num(naiveAll / 1000, 1)} s for all users (${num(naive.ms / 1000, 2)} s for the sample)`,
      ratio: naiveAll / base.ms,
      against: 'baseline',
      headline: true,
    });
  } finally {
    await db.destroy();
    await scratch.drop();
  }
  return { name: `reports: weekly + monthly backfill of ${num(USERS)} users × ${ENTRIES} entries`, figures };
}

if (import.meta.main) await runStandalone(runReports);
