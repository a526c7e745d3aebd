/**
 * Report backfills: recorded runs (sumda.report_backfills) that build the reports of a range of
 * periods, chunk by chunk — each chunk one statement over a keyset range of users × a span of
 * consecutive periods (src/reports/build.ts). The same `runChunk` serves the `report.backfill` job
 * and `sumda report backfill --inline`.
 *
 * Glossary
 * - run: one backfill (an operator's, or a scheduled build's): parameters, actor, status, cursor, counters.
 * - window: the span of periods the run's chunks are building now, every user chunk by chunk: up to
 *   MAX_SPAN_DAYS of consecutive periods (a longer period, a year, alone), never including a period
 *   an older run covers. One read of a chunk's entries serves every period of its window.
 * - cursor: the window's first period (`cursor_period`), its last (`cursor_last_period`, decided
 *   when the window starts and recorded, null between windows) and the last user id done in it
 *   (`cursor_user`). A chunk's reports, the cursor's advance and (queued runs) the successor job
 *   commit in one transaction, so after a crash the run resumes exactly after its last committed
 *   chunk, with the same window; a chunk redone after a rollback rewrites nothing (the builder
 *   writes only what differs).
 * - chain: a queued run is one job at a time. The run row names the job allowed to continue it
 *   (`next_job_id`); any other job for the run (a duplicate, a retry of a job whose worker died after
 *   its successor was decided) finds itself superseded and does nothing. Chunks of one run serialise
 *   on the run row's lock.
 * - takeover: a worker SIGKILLed mid-chunk rolls its chunk back and leaves its job "active" until
 *   pg-boss expires it. The `report.stale` job (every minute) re-chains a running queued run that
 *   has made no progress for twice its chunk timeout and whose row is not locked by a live chunk.
 * - overlap: two runs of the same period type never build a period twice. A run reaching a period
 *   that an older active (running or paused) run also covers, for all its users or the same single
 *   user, skips it and leaves it to that run (`skipped_periods`); a window stops before such a
 *   period. Runs are created under an advisory lock per period type, so "older" is also "committed
 *   first" and the check never misses one.
 * - throttle: a pause between chunks (`--throttle`), plus `statement_timeout` = the chunk timeout on
 *   each chunk, so a backfill never holds the app's queries up for long.
 * - failure: a chunk that throws is counted (`failures`, `last_error` — SQL error text, never data);
 *   the job retries it; once failures reach 3 and a fifth of all chunk attempts, the run is `failed`.
 *   A chunk that hits the chunk timeout halves the run's chunk size instead (down to 1; not counted).
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, type OperationWithActor, writeAudit } from '../audit/index.ts';
import { lockFor } from '../db/locks.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, PgCode, pgCode, SumdaError, UsageError } from '../errors.ts';
import { enqueue, type PgBoss } from '../queue/boss.ts';
import { QUEUES } from '../queue/catalog.ts';
import {
  addDays,
  nextPeriod,
  type Period,
  type PeriodType,
  periodStartingOn,
  seoulDate,
} from '../time/calendar.ts';
import { buildChunk, type ChunkResult, FIRST_USER, nextUserChunk } from './build.ts';
import { periodsCovering } from './periods.ts';

export const BACKFILL_ACTION = 'report.backfill';
export const DEFAULT_CHUNK_SIZE = 1000;
export const DEFAULT_CHUNK_TIMEOUT_S = 60;
/**
 * Longest span of periods one chunk statement builds, in days (a longer period — a year — is built
 * alone). One read of a chunk's entries then serves every period of the span: at 1,000 users with
 * an entry a day, a span is ~120,000 entries, a few seconds' statement (bench/reports.ts).
 */
export const MAX_SPAN_DAYS = 120;
const DAY_MS = 86_400_000;
/** A run with this many failures, which are also a fifth of its chunk attempts, is stopped. */
const MAX_FAILURES = 3;
const MAX_FAILURE_RATIO = 0.2;
const QUEUE_NOT_FOUND = 'PGBOSS_QUEUE_NOT_FOUND';

export type RunStatus = 'running' | 'paused' | 'cancelled' | 'completed' | 'failed';

export interface BackfillRun {
  id: number;
  origin: 'operator' | 'schedule';
  period_type: PeriodType;
  from_date: string;
  to_date: string;
  first_period: string;
  last_period: string;
  user_id: string | null;
  chunk_size: number;
  throttle_ms: number;
  chunk_timeout_s: number;
  mode: 'queued' | 'inline';
  status: RunStatus;
  cursor_period: string;
  cursor_user: string | null;
  cursor_last_period: string | null;
  done: number;
  total: number;
  written: number;
  removed: number;
  skipped_periods: number;
  chunks: number;
  failures: number;
  last_error: string | null;
  next_job_id: string | null;
  actor_email: string | null;
  request_id: string;
  started_at: Date;
  progressed_at: Date;
  finished_at: Date | null;
}

export interface BackfillParams {
  type: PeriodType;
  /** Seoul calendar dates, inclusive. */
  from: string;
  to: string;
  userId?: string | null;
  chunkSize?: number;
  throttleMs?: number;
  chunkTimeoutS?: number;
}

export interface BackfillPlan {
  params: Required<Omit<BackfillParams, 'userId'>> & { userId: string | null };
  periods: Period[];
  /** Users each period examines (all users, or the one). */
  users: number;
  /** done/total of the run: users × periods. */
  total: number;
  /** (user, period) pairs with a visible entry: the reports the run will have written or kept. */
  estimatedReports: number;
  /** Chunk statements per window (users / chunk size) and windows (spans of periods), without overlaps. */
  chunksPerWindow: number;
  windows: number;
}

/** Checks the parameters (bad input → UsageError, exit 2) and counts what the run will do. */
export async function planBackfill(
  db: Kysely<Database>,
  input: BackfillParams,
  now: Date = new Date(),
): Promise<BackfillPlan> {
  const today = seoulDate(now);
  if (input.from > input.to) throw new UsageError(`--from ${input.from} is after --to ${input.to}`);
  if (input.from > today)
    throw new UsageError(`--from ${input.from} is in the future (today is ${today} in Seoul)`);
  if (input.to > today)
    throw new UsageError(`--to ${input.to} is in the future (today is ${today} in Seoul)`);
  const params = {
    type: input.type,
    from: input.from,
    to: input.to,
    userId: input.userId ?? null,
    chunkSize: input.chunkSize ?? DEFAULT_CHUNK_SIZE,
    throttleMs: input.throttleMs ?? 0,
    chunkTimeoutS: input.chunkTimeoutS ?? DEFAULT_CHUNK_TIMEOUT_S,
  };
  if (params.userId) {
    const found = await db
      .selectFrom('users')
      .select('id')
      .where('id', '=', params.userId)
      .executeTakeFirst();
    if (!found) throw new NotFoundError(`--user: no user ${params.userId}`);
  }
  const periods = periodsCovering(params.type, params.from, params.to);
  const users = params.userId
    ? 1
    : Number(
        (
          await db
            .selectFrom('users')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
  const field = { daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' }[params.type];
  const estimate = await sql<{ n: number }>`
    select count(*)::int as n from (
      select distinct user_id, date_trunc(${field}, created_at, 'Asia/Seoul')
      from public.diary_entries
      where created_at >= ${periods[0]!.start} and created_at < ${periods.at(-1)!.end}
        and moderation_state = 'visible'
        ${params.userId ? sql`and user_id = ${params.userId}::uuid` : sql``}
    ) x`.execute(db);
  return {
    params,
    periods,
    users,
    total: users * periods.length,
    estimatedReports: estimate.rows[0]?.n ?? 0,
    chunksPerWindow: Math.max(1, Math.ceil(users / params.chunkSize)),
    windows: countWindows(periods),
  };
}

function countWindows(periods: Period[]): number {
  let windows = 0;
  for (let i = 0; i < periods.length; windows++) {
    i += spanFrom(periods[i]!, periods.at(-1)!.startDate, null).length;
  }
  return windows;
}

const RUN_COLUMNS = sql`id, origin, period_type, from_date, to_date, first_period, last_period, user_id, chunk_size,
  throttle_ms, chunk_timeout_s, mode, status, cursor_period, cursor_user, cursor_last_period, done, total, written, removed,
  skipped_periods, chunks, failures, last_error, next_job_id, actor_email, request_id::text, started_at,
  progressed_at, finished_at`;

export async function findRun(db: Kysely<Database>, id: number): Promise<BackfillRun> {
  const row =
    await sql<BackfillRun>`select ${RUN_COLUMNS} from sumda.report_backfills where id = ${id}`.execute(db);
  if (!row.rows[0]) throw new NotFoundError(`no report backfill run #${id}`);
  return row.rows[0];
}

export async function listRuns(
  db: Kysely<Database>,
  options: { limit?: number } = {},
): Promise<BackfillRun[]> {
  const rows = await sql<BackfillRun>`
    select ${RUN_COLUMNS} from sumda.report_backfills order by id desc limit ${options.limit ?? 20}`.execute(
    db,
  );
  return rows.rows;
}

/** Enqueues the run's next chunk job inside `trx` and names it as the one allowed to continue. */
async function chain(
  trx: Kysely<Database>,
  boss: PgBoss,
  run: { id: number; request_id: string },
  delayMs = 0,
) {
  const jobId = await enqueue(
    boss,
    'reportBackfill',
    { runId: run.id, requestId: run.request_id },
    { trx, ...(delayMs > 0 ? { startAfter: Math.ceil(delayMs / 1000) } : {}) },
  ).catch((error: unknown) => {
    if ((error as { code?: string }).code !== QUEUE_NOT_FOUND) throw error;
    throw new SumdaError(
      `the job queue ${QUEUES.reportBackfill.name} is not installed; nothing was changed`,
      {
        hint: 'start a worker once (it installs the queues), or run the backfill with --inline',
      },
    );
  });
  await sql`update sumda.report_backfills set next_job_id = ${jobId}::uuid where id = ${run.id}`.execute(trx);
  return jobId;
}

interface NewRun {
  plan: BackfillPlan;
  origin: 'operator' | 'schedule';
  mode: 'queued' | 'inline';
  actor: { id: string; email: string } | null;
  requestId: string;
}

async function insertRun(trx: Kysely<Database>, r: NewRun): Promise<BackfillRun | undefined> {
  const { params, periods, total } = r.plan;
  // Runs of a type are created one at a time: ids follow commit order (see "overlap").
  await lockFor(trx, `report-backfill:${params.type}`);
  const row = await sql<BackfillRun>`
    insert into sumda.report_backfills
      (origin, period_type, from_date, to_date, first_period, last_period, user_id, chunk_size, throttle_ms,
       chunk_timeout_s, mode, cursor_period, total, actor_id, actor_email, request_id)
    values (${r.origin}, ${params.type}, ${params.from}::date, ${params.to}::date, ${periods[0]!.startDate}::date,
            ${periods.at(-1)!.startDate}::date, ${params.userId}::uuid, ${params.chunkSize}, ${params.throttleMs},
            ${params.chunkTimeoutS}, ${r.mode}, ${periods[0]!.startDate}::date, ${total}, ${r.actor?.id ?? null}::uuid,
            ${r.actor?.email ?? null}, ${r.requestId}::uuid)
    on conflict do nothing
    returning ${RUN_COLUMNS}`.execute(trx);
  return row.rows[0];
}

/** Records a run (audited, manager+) and, unless inline, enqueues its first chunk in the same transaction. */
export async function startBackfill(
  db: Kysely<Database>,
  boss: PgBoss | null,
  op: Operation,
  plan: BackfillPlan,
  options: { inline: boolean },
): Promise<BackfillRun> {
  if (!options.inline && !boss) throw new SumdaError('startBackfill: a queued run needs a pg-boss instance');
  return mutate(db, op, BACKFILL_ACTION, async (trx) => {
    const run = (await insertRun(trx, {
      plan,
      origin: 'operator',
      mode: options.inline ? 'inline' : 'queued',
      actor: op.actor,
      requestId: op.requestId,
    }))!;
    await writeAudit(trx, op, {
      action: BACKFILL_ACTION,
      targetType: 'report_backfill',
      targetId: String(run.id),
      after: {
        period_type: run.period_type,
        from: run.from_date,
        to: run.to_date,
        periods: plan.periods.length,
        user_id: run.user_id,
        chunk_size: run.chunk_size,
        throttle_ms: run.throttle_ms,
        chunk_timeout_s: run.chunk_timeout_s,
        mode: run.mode,
        total: run.total,
        estimated_reports: plan.estimatedReports,
      },
    });
    if (!options.inline) run.next_job_id = await chain(trx, boss!, run);
    return run;
  });
}

export function authorizeBackfill(db: Kysely<Database>, op: Operation): Promise<OperationWithActor> {
  return authorize(db, op, BACKFILL_ACTION);
}

/** A scheduled build of one ended period (idempotent: a period's scheduled run exists once). */
export async function startScheduledBuild(
  db: Kysely<Database>,
  boss: PgBoss,
  period: Period,
  requestId: string,
): Promise<BackfillRun | null> {
  const last = addDays(period.endDate, -1);
  const plan = await planBackfill(db, { type: period.type, from: period.startDate, to: last });
  return db.transaction().execute(async (trx) => {
    const run = await insertRun(trx, { plan, origin: 'schedule', mode: 'queued', actor: null, requestId });
    if (!run) return null;
    run.next_job_id = await chain(trx, boss, run);
    return run;
  });
}

/** The periods whose scheduled builds are due on a Seoul day (the day after they end). */
export function periodsEndingBefore(date: string): Period[] {
  const yesterday = addDays(date, -1);
  const out: Period[] = [];
  for (const type of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
    const p = periodsCovering(type, yesterday, yesterday)[0]!;
    if (p.endDate === date) out.push(p);
  }
  return out;
}

export interface ChunkOutcome {
  run: BackfillRun;
  /** What this call did. */
  did: 'built' | 'skipped-period' | 'finished' | 'not-running' | 'superseded';
  chunk: ChunkResult | null;
  /** The first period, the number of periods and the users the chunk covered. */
  period: string | null;
  periods: number;
  users: number;
  /** Whether the run has more to do (and is running). */
  more: boolean;
}

async function lockRun(trx: Kysely<Database>, id: number): Promise<BackfillRun> {
  const row = await sql<BackfillRun>`
    select ${RUN_COLUMNS} from sumda.report_backfills where id = ${id} for update`.execute(trx);
  if (!row.rows[0]) throw new NotFoundError(`no report backfill run #${id}`);
  return row.rows[0];
}

/**
 * The first period in `from` … `to` (period starts) that an older active run of the same type
 * covers, for all users or the run's one (see "overlap"); null when none does.
 */
async function firstCoveredByOlderRun(
  trx: Kysely<Database>,
  run: BackfillRun,
  from: string,
  to: string,
): Promise<string | null> {
  const row = await sql<{ first: string | null }>`
    select min(greatest(first_period, ${from}::date))::text as first from sumda.report_backfills
    where id < ${run.id} and status in ('running', 'paused') and period_type = ${run.period_type}
      and first_period <= ${to}::date and last_period >= ${from}::date
      and (user_id is null or user_id = ${run.user_id}::uuid)`.execute(trx);
  return row.rows[0]?.first ?? null;
}

/** The periods from `first` through the period starting on `lastStart`. */
function periodsThrough(first: Period, lastStart: string): Period[] {
  const out: Period[] = [];
  for (let p = first; p.startDate <= lastStart; p = nextPeriod(p)) out.push(p);
  return out;
}

/**
 * The span a new window starts with: consecutive periods from `first`, at most MAX_SPAN_DAYS long
 * (always at least one period), up to the run's last period and before any period an older run
 * covers (`covered`, the first such period start, if any).
 */
export function spanFrom(first: Period, lastPeriod: string, covered: string | null): Period[] {
  const out: Period[] = [];
  for (
    let p = first;
    p.startDate <= lastPeriod && (covered === null || p.startDate < covered);
    p = nextPeriod(p)
  ) {
    if (out.length > 0 && (p.end.getTime() - first.start.getTime()) / DAY_MS > MAX_SPAN_DAYS) break;
    out.push(p);
  }
  return out;
}

/**
 * One step of a run: the next chunk — its users × the span of periods of the window in progress —
 * (or skipping a period another run covers), in one transaction with the cursor's advance and, for
 * queued runs when `boss` is given, the successor job.
 * `jobId`: the job running it; a job that is not the run's `next_job_id` is superseded.
 */
export async function runChunk(
  db: Kysely<Database>,
  runId: number,
  options: { jobId?: string; boss?: PgBoss } = {},
): Promise<ChunkOutcome> {
  try {
    return await db.transaction().execute(async (trx) => {
      const run = await lockRun(trx, runId);
      const idle = (did: ChunkOutcome['did']): ChunkOutcome => ({
        run,
        did,
        chunk: null,
        period: null,
        periods: 0,
        users: 0,
        more: false,
      });
      if (run.status !== 'running') return idle('not-running');
      if (options.jobId && run.next_job_id !== options.jobId) return idle('superseded');

      const start = periodStartingOn(run.period_type, run.cursor_period);
      let span: Period[];
      if (run.cursor_last_period !== null) {
        span = periodsThrough(start, run.cursor_last_period); // a window in progress
      } else if (run.cursor_user !== null) {
        // A run left mid-period by a build from before windows (0025), or still running one
        // during a deploy: that period's window is the period alone, as its first users had it.
        span = [start];
      } else {
        const horizon = spanFrom(start, run.last_period, null).at(-1)!.startDate;
        const covered = await firstCoveredByOlderRun(trx, run, start.startDate, horizon);
        span = covered === start.startDate ? [] : spanFrom(start, run.last_period, covered);
      }
      let did: ChunkOutcome['did'];
      let chunk: ChunkResult | null = null;
      let covered = 0;
      let spanDone: boolean;
      let cursorUser = run.cursor_user;
      if (span.length === 0) {
        did = 'skipped-period';
        span = [start];
        spanDone = true;
        covered = run.user_id ? 1 : await countUsers(trx);
      } else {
        const bounds = run.user_id
          ? { after: FIRST_USER, upto: run.user_id, only: run.user_id, count: 1 }
          : await nextUserChunk(trx, run.cursor_user ?? FIRST_USER, run.chunk_size).then((c) =>
              c ? { after: run.cursor_user ?? FIRST_USER, upto: c.upto, only: null, count: c.users } : null,
            );
        did = 'built';
        if (bounds) {
          await sql`select set_config('statement_timeout', ${`${run.chunk_timeout_s}s`}, true)`.execute(trx);
          chunk = await buildChunk(trx, span, { after: bounds.after, upto: bounds.upto, only: bounds.only });
          await sql`select set_config('statement_timeout', '0', true)`.execute(trx);
          covered = bounds.count * span.length;
          cursorUser = bounds.upto;
          spanDone = Boolean(run.user_id) || bounds.count < run.chunk_size;
        } else {
          spanDone = true;
        }
      }
      const last = span.at(-1)!;
      const finished = spanDone && last.startDate >= run.last_period;
      const next = !spanDone ? start.startDate : finished ? last.startDate : nextPeriod(last).startDate;
      const after = await sql<BackfillRun>`
        update sumda.report_backfills set
          cursor_period = ${next}::date,
          cursor_user = ${spanDone ? null : cursorUser}::uuid,
          cursor_last_period = ${spanDone ? null : last.startDate}::date,
          done = case when ${finished} then total else least(total, done + ${covered}) end,
          written = written + ${chunk?.written ?? 0},
          removed = removed + ${chunk?.removed ?? 0},
          skipped_periods = skipped_periods + ${did === 'skipped-period' ? 1 : 0},
          chunks = chunks + ${chunk ? 1 : 0},
          progressed_at = now(),
          status = case when ${finished} then 'completed' else status end,
          finished_at = case when ${finished} then now() else finished_at end
        where id = ${run.id}
        returning ${RUN_COLUMNS}`.execute(trx);
      const current = after.rows[0]!;
      if (!finished && current.mode === 'queued' && options.boss) {
        current.next_job_id = await chain(trx, options.boss, current, current.throttle_ms);
      }
      return {
        run: current,
        did: finished && did !== 'skipped-period' && !chunk ? 'finished' : did,
        chunk,
        period: start.startDate,
        periods: span.length,
        users: covered / span.length,
        more: !finished,
      };
    });
  } catch (error) {
    if (error instanceof SumdaError) throw error;
    await recordFailure(db, runId, error as Error);
    throw error;
  }
}

async function countUsers(db: Kysely<Database>): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Counts a failed chunk; past the threshold the run is stopped (`failed`). A chunk that ran out of
 * its time (`statement_timeout` = the chunk timeout) halves the run's chunk size instead, down to one
 * user, and is not counted: the retry builds fewer users from the same cursor, so a window too big
 * for the timeout shrinks until it fits rather than failing the run at 3 a.m.
 */
async function recordFailure(db: Kysely<Database>, runId: number, error: Error): Promise<void> {
  // SQL error messages name objects and values of ids, never diary text (the builder reads none).
  const message = error.message.slice(0, 500);
  const timedOut = pgCode(error) === PgCode.queryCanceled;
  await sql`
    with r as (
      select id, ${timedOut}::boolean and chunk_size > 1 as shrink from sumda.report_backfills where id = ${runId}
    )
    update sumda.report_backfills b set
      chunk_size = case when r.shrink then b.chunk_size / 2 else b.chunk_size end,
      last_error = case when r.shrink
                     then ${message} || ' (the chunk size was halved to ' || b.chunk_size / 2 || ')'
                     else ${message} end,
      failures = case when r.shrink then b.failures else b.failures + 1 end,
      status = case when b.status = 'running' and not r.shrink and b.failures + 1 >= ${MAX_FAILURES}
                      and (b.failures + 1)::float8 / (b.chunks + b.failures + 1) >= ${MAX_FAILURE_RATIO}
                    then 'failed' else b.status end,
      finished_at = case when b.status = 'running' and not r.shrink and b.failures + 1 >= ${MAX_FAILURES}
                      and (b.failures + 1)::float8 / (b.chunks + b.failures + 1) >= ${MAX_FAILURE_RATIO}
                    then now() else b.finished_at end
    from r
    where b.id = r.id`
    .execute(db)
    .catch(() => {});
}

export interface InlineResult {
  run: BackfillRun;
  chunks: number;
  stopped: 'interrupted' | null;
  ms: number;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Runs a run's chunks in this process until it finishes, is paused or cancelled (by another
 * operator), or `signal` aborts — then it is paused, so `resume` carries on from the cursor.
 */
export async function runInline(
  db: Kysely<Database>,
  runId: number,
  options: { signal?: AbortSignal; onChunk?: (outcome: ChunkOutcome) => void } = {},
): Promise<InlineResult> {
  const started = performance.now();
  let chunks = 0;
  let last: ChunkOutcome | undefined;
  for (;;) {
    if (options.signal?.aborted) {
      await sql`update sumda.report_backfills set status = 'paused' where id = ${runId} and status = 'running'`.execute(
        db,
      );
      return {
        run: await findRun(db, runId),
        chunks,
        stopped: 'interrupted',
        ms: performance.now() - started,
      };
    }
    last = await runChunk(db, runId);
    if (last.chunk) chunks += 1;
    options.onChunk?.(last);
    if (!last.more) break;
    if (last.run.throttle_ms > 0) await sleep(last.run.throttle_ms, options.signal);
  }
  return { run: await findRun(db, runId), chunks, stopped: null, ms: performance.now() - started };
}

export type Control = 'pause' | 'resume' | 'cancel';

/** pause | resume | cancel, audited (manager+). Resume re-chains a queued run (or switches it to inline). */
export async function controlRun(
  db: Kysely<Database>,
  boss: PgBoss | null,
  op: Operation,
  runId: number,
  control: Control,
  options: { inline?: boolean } = {},
): Promise<BackfillRun> {
  const target = { type: 'report_backfill', id: String(runId) };
  return mutate(
    db,
    op,
    BACKFILL_ACTION,
    async (trx) => {
      const run = await lockRun(trx, runId);
      const allowed: Record<Control, RunStatus[]> = {
        pause: ['running'],
        resume: ['paused', 'running', 'failed'],
        cancel: ['running', 'paused'],
      };
      if (!allowed[control].includes(run.status)) {
        throw new UsageError(
          `run #${runId} is ${run.status}: it cannot be ${control === 'pause' ? 'paused' : `${control}d`}`,
        );
      }
      const status: RunStatus =
        control === 'pause' ? 'paused' : control === 'cancel' ? 'cancelled' : 'running';
      const mode = control === 'resume' ? (options.inline ? 'inline' : 'queued') : run.mode;
      const updated = await sql<BackfillRun>`
        update sumda.report_backfills set status = ${status}, mode = ${mode},
          finished_at = case when ${status} = 'cancelled' then now() else null end,
          failures = case when ${control} = 'resume' then 0 else failures end,
          progressed_at = case when ${control} = 'resume' then now() else progressed_at end,
          next_job_id = case when ${control} = 'resume' then null else next_job_id end
        where id = ${runId} returning ${RUN_COLUMNS}`.execute(trx);
      const after = updated.rows[0]!;
      await writeAudit(trx, op, {
        action: `${BACKFILL_ACTION}.${control}`,
        targetType: target.type,
        targetId: target.id,
        before: { status: run.status, mode: run.mode },
        after: {
          status: after.status,
          mode: after.mode,
          cursor_period: after.cursor_period,
          done: after.done,
        },
      });
      if (control === 'resume' && mode === 'queued') {
        if (!boss) throw new SumdaError('controlRun: resuming a queued run needs a pg-boss instance');
        after.next_job_id = await chain(trx, boss, after);
      }
      return after;
    },
    target,
  );
}

/** Re-chains running queued runs with no progress for twice their chunk timeout and no live chunk. */
export async function takeOverStalledRuns(db: Kysely<Database>, boss: PgBoss): Promise<number[]> {
  return db.transaction().execute(async (trx) => {
    const stalled = await sql<{ id: number; request_id: string }>`
      select id, request_id::text from sumda.report_backfills
      where status = 'running' and mode = 'queued'
        and progressed_at < now() - make_interval(secs => 2 * chunk_timeout_s + throttle_ms / 1000.0)
      for update skip locked`.execute(trx);
    for (const run of stalled.rows) {
      await chain(trx, boss, run);
      await sql`update sumda.report_backfills set progressed_at = now() where id = ${run.id}`.execute(trx);
    }
    return stalled.rows.map((r) => r.id);
  });
}

export interface RunProgress {
  run: BackfillRun;
  /** User-periods per second since the run started. */
  rate: number;
  /** Seconds left at that rate; null when unknown. */
  etaSeconds: number | null;
}

export function progressOf(run: BackfillRun, now: Date = new Date()): RunProgress {
  const end = run.finished_at ?? (run.status === 'running' ? now : run.progressed_at);
  const seconds = Math.max(0.001, (new Date(end).getTime() - new Date(run.started_at).getTime()) / 1000);
  const rate = run.done / seconds;
  const left = run.total - run.done;
  return {
    run,
    rate: Math.round(rate * 10) / 10,
    etaSeconds: run.status === 'running' && rate > 0 ? Math.ceil(left / rate) : left === 0 ? 0 : null,
  };
}
