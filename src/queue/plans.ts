/**
 * Every statement sumda runs against pg-boss's own tables, as data — the way pg-boss keeps its SQL
 * in its `plans.ts`. pg-boss owns the `pgboss` schema and may change it in any release: these
 * statements are written for schema version `PGBOSS_SCHEMA_VERSION` (test/queue/plans.test.ts
 * checks the installed one), an upgrade is one file to read, and `isSchemaMismatch` is the one
 * place that recognises a statement the installed schema no longer fits.
 *
 * Two kinds: `EXECUTOR` strings run on pg-boss's own pool (`boss.getDb().executeSql`, $n
 * parameters), beside its `complete()` and `fail()`; `QUERIES` are kysely statements, run on the
 * caller's connection or transaction (`QUERIES.x(…).execute(db)`).
 */
import { type RawBuilder, sql } from 'kysely';
import { PgCode, pgCode } from '../errors.ts';

/** The pg-boss schema version (`pgboss.version`) these statements are written for: pg-boss 12.38. */
export const PGBOSS_SCHEMA_VERSION = 46;

/** SQLSTATEs meaning pg-boss's tables no longer look like a statement expects (after an upgrade). */
const SCHEMA_MISMATCH = new Set<string>([
  PgCode.undefinedTable, // 42P01
  '42703', // undefined_column
  '42883', // undefined_function
  '42804', // datatype_mismatch
]);

/** Whether `error` says pg-boss's schema is not the one these plans were written for. */
export function isSchemaMismatch(error: unknown): boolean {
  return SCHEMA_MISMATCH.has(pgCode(error) ?? '');
}

/** Whether `error` says there is no pg-boss schema at all (no worker started, `db migrate --skip-queues`). */
export function isNoQueueSchema(error: unknown): boolean {
  return pgCode(error) === PgCode.undefinedTable;
}

export const EXECUTOR = {
  /**
   * pg-boss's own per-job-output completion (what `work({ perJobResults })` runs), here because
   * pg-boss exposes it only to `work()` handlers: `complete()` takes one output for all its ids.
   * Fenced like `complete()` with fetched jobs: only the attempt that was fetched (still active,
   * same retry count). $1 queue, $2 JSON `[{ id, retry_count, output }]`.
   */
  completeWithOutputs: `
    update pgboss.job j
    set completed_on = pgboss.job_now(), state = 'completed', output = i.output
    from json_to_recordset($2::text::json) as i (id uuid, retry_count int, output jsonb)
    where j.name = $1 and j.id = i.id and j.state = 'active' and j.retry_count = i.retry_count`,
  /**
   * Leaves fetched jobs no retries, so the `fail()` that follows is terminal (dead-letter queue);
   * what pg-boss's perJobResults `deadletter` does, which it exposes only to `work()` handlers.
   * $1 queue, $2 JSON `[{ id, retry_count }]`.
   */
  exhaustRetries: `
    update pgboss.job j
    set retry_limit = j.retry_count
    from json_to_recordset($2::text::json) as i (id uuid, retry_count int)
    where j.name = $1 and j.id = i.id and j.state = 'active' and j.retry_count = i.retry_count`,
  /**
   * Pushes the start of jobs just failed into `retry` out to at least now + `ms` (a server's
   * `retry-after`); never earlier than pg-boss's own retry time, and only jobs still in `retry`.
   * $1 queue, $2 JSON `[{ id, ms }]`.
   */
  deferRetries: `
    update pgboss.job j
    set start_after = greatest(j.start_after, now() + make_interval(secs => i.ms / 1000.0))
    from json_to_recordset($2::text::json) as i (id uuid, ms int)
    where j.name = $1 and j.id = i.id and j.state = 'retry'`,
  /**
   * Makes due now the jobs pg-boss's supervisor failed for a stopped heartbeat (their worker died).
   * Only rows in `retry` of the given queues, and only with pg-boss's heartbeat message. $1 queues.
   */
  expediteOrphans: `
    update pgboss.job
    set start_after = now()
    where name = any($1::text[]) and state = 'retry' and start_after > now()
      and output @> '{"value": {"message": "job heartbeat timeout"}}'::jsonb`,
  /**
   * Turns a queue installed as `stately` into `standard`, with its jobs not yet finished (the policy
   * is copied onto each job and read by pg-boss's fetch and indexes). A no-op when it already is.
   * $1 queue.
   */
  relaxToStandard: `
    with q as (
      update pgboss.queue set policy = 'standard' where name = $1 and policy = 'stately' returning name
    )
    update pgboss.job j set policy = 'standard'
    from q where j.name = q.name and j.policy = 'stately' and j.state < 'completed'`,
  /**
   * pg-boss's tables' grant decision, run by `ensureQueueSchema` after pg-boss installs or upgrades them (the
   * roles migration runs before they exist): workers and managers (jobs retry/cancel, analysis
   * enqueue, keys rotate) read and write jobs; operators read them. Nothing when this database has no
   * sumda roles (migrations/0014_roles.ts not applied).
   */
  grantQueueAccess: `do $$
    begin
      if to_regrole('sumda_owner') is null then
        return;
      end if;
      if not has_database_privilege('sumda_owner', current_database(), 'CREATE') then
        return;
      end if;
      grant usage on schema pgboss to sumda_worker, sumda_operator;
      grant select on all tables in schema pgboss to sumda_operator;
      grant select, insert, update, delete on all tables in schema pgboss to sumda_worker, sumda_manager;
      grant usage, select on all sequences in schema pgboss to sumda_worker, sumda_manager;
      grant execute on all functions in schema pgboss to sumda_worker, sumda_manager;
    end
    $$`,
} as const;

/** pg-boss's job states (`pgboss.job_state`). */
export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface QueueCountsRow {
  queue: string;
  ready: number;
  deferred: number;
  active: number;
  failed: number;
  completed: number;
  cancelled: number;
  waiting: number;
  oldest_ready_seconds: number | null;
  paused: boolean;
}

export interface JobListRow {
  id: string;
  queue: string;
  state: JobState;
  retry_count: number;
  retry_limit: number;
  created_on: Date;
  start_after: Date;
  started_on: Date | null;
  completed_on: Date | null;
  singleton_key: string | null;
  error_output: unknown;
}

export interface JobRef {
  id: string;
  queue: string;
  state: JobState;
}

export interface QueueCacheRow {
  name: string;
  queued_count: number;
  ready_count: number;
  deferred_count: number;
  active_count: number;
  ready_oldest_seconds: number | null;
  monitor_on: Date | null;
}

export const QUERIES = {
  /** Live counts per queue (in the order given), with sumda's pause flag: `jobs stats`. */
  queueCounts: (names: string[]): RawBuilder<QueueCountsRow> => sql<QueueCountsRow>`
    with counts as (
      select name,
        count(*) filter (where state in ('created', 'retry') and not blocked and start_after <= now()) as ready,
        count(*) filter (where state in ('created', 'retry') and (blocked or start_after > now())) as deferred,
        count(*) filter (where state = 'active') as active,
        count(*) filter (where state = 'failed') as failed,
        count(*) filter (where state = 'completed') as completed,
        count(*) filter (where state = 'cancelled') as cancelled,
        min(start_after) filter (where state in ('created', 'retry') and not blocked and start_after <= now()) as oldest_ready
      from pgboss.job
      where name = any(${names}::text[])
      group by name
    )
    select q.name as queue,
      coalesce(c.ready, 0)::int as ready,
      coalesce(c.deferred, 0)::int as deferred,
      coalesce(c.active, 0)::int as active,
      coalesce(c.failed, 0)::int as failed,
      coalesce(c.completed, 0)::int as completed,
      coalesce(c.cancelled, 0)::int as cancelled,
      (coalesce(c.ready, 0) + coalesce(c.deferred, 0) + coalesce(c.active, 0) + coalesce(c.failed, 0))::int as waiting,
      floor(extract(epoch from now() - c.oldest_ready))::int as oldest_ready_seconds,
      (s.queue is not null) as paused
    from unnest(${names}::text[]) with ordinality as q(name, ord)
    left join counts c on c.name = q.name
    left join sumda.queue_state s on s.queue = q.name
    order by q.ord`,

  /** Newest first, without payloads; the error a failed (or dead-lettered) job stored. */
  listJobs: (filter: {
    names: string[];
    states: readonly JobState[] | null;
    since: Date | null;
    limit: number;
  }): RawBuilder<JobListRow> => sql<JobListRow>`
    select id, name as queue, state, retry_count, retry_limit, created_on, start_after, started_on,
      completed_on, singleton_key,
      case when state in ('failed', 'retry') then output
           when source_name is not null then source_output end as error_output
    from pgboss.job
    where name = any(${filter.names}::text[])
      and (${filter.states}::text[] is null or state = any(${filter.states}::pgboss.job_state[]))
      and (${filter.since}::timestamptz is null or created_on >= ${filter.since}::timestamptz)
    order by created_on desc, id desc
    limit ${filter.limit}`,

  /** Every column of one job of the given queues. */
  job: (id: string, names: string[]): RawBuilder<Record<string, unknown>> => sql<Record<string, unknown>>`
    select * from pgboss.job where id = ${id}::uuid and name = any(${names}::text[])`,

  /** Jobs by id within the given queues, oldest first. */
  jobsById: (ids: string[], names: string[]): RawBuilder<JobRef> => sql<JobRef>`
    select id, name as queue, state from pgboss.job
    where id = any(${ids}::uuid[]) and name = any(${names}::text[])
    order by created_on, id`,

  /** Jobs of one queue in the given states (created since a time), oldest first. */
  jobsMatching: (
    queue: string,
    states: readonly JobState[],
    since: Date | null,
  ): RawBuilder<JobRef> => sql<JobRef>`
    select id, name as queue, state from pgboss.job
    where name = ${queue} and state = any(${states}::pgboss.job_state[])
      and (${since}::timestamptz is null or created_on >= ${since}::timestamptz)
    order by created_on, id`,

  /** Where dead letters came from: their source queue and the first job of their chain. */
  deadLetterOrigins: (queue: string, ids: string[]) => sql<{
    id: string;
    source_name: string | null;
    root: string | null;
  }>`
    select id, source_name, coalesce(source_root_id, source_id) as root
    from pgboss.job where name = ${queue} and id = any(${ids}::uuid[])`,

  /** Jobs a redrive created in this transaction, by their chain's first job. */
  redrivenJobs: (names: string[], roots: string[]) => sql<{ id: string; name: string; root: string }>`
    select id, name, source_root_id as root from pgboss.job
    where name = any(${names}::text[]) and source_root_id = any(${roots}::uuid[]) and created_on = now()`,

  /** Which of these ids are still jobs of the queue. */
  jobIdsIn: (queue: string, ids: string[]) => sql<{ id: string }>`
    select id from pgboss.job where name = ${queue} and id = any(${ids}::uuid[])`,

  /** A dead-letter queue's copies of the given source jobs that are still waiting or failed. */
  deadLetterCopies: (deadQueue: string, sourceIds: string[]) => sql<{ id: string }>`
    select id from pgboss.job
    where name = ${deadQueue} and source_id = any(${sourceIds}::uuid[]) and state in ('created', 'retry', 'failed')`,

  /** Queued, active and dead-lettered jobs of a queue, by state (the dead-letter queue's waiting ones). */
  stateCounts: (queue: string, deadQueue: string) => sql<{ name: string; state: string; n: number }>`
    select name, state::text as state, count(*)::int as n from pgboss.job
    where (name = ${queue} and state in ('created', 'retry', 'active'))
       or (name = ${deadQueue} and state in ('created', 'retry'))
    group by name, state`,

  /** Jobs of the given queues that are due now (queued, start time passed). */
  dueCount: (names: string[]) => sql<{ n: number }>`
    select count(*)::int as n from pgboss.job
    where name = any(${names}::text[]) and state in ('created', 'retry') and start_after <= now()`,

  /** Jobs of the given queues queued for later, and when the first of them starts. */
  waitingCount: (names: string[]) => sql<{ n: number; next: Date | null; next_in_ms: number | null }>`
    select count(*)::int as n, min(start_after) as next,
           (extract(epoch from min(start_after) - now()) * 1000)::int as next_in_ms
    from pgboss.job
    where name = any(${names}::text[]) and state in ('created', 'retry') and start_after > now()`,

  /** pg-boss's cached per-queue counters (refreshed by a running supervisor). */
  queueCache: (names: string[]): RawBuilder<QueueCacheRow> => sql<QueueCacheRow>`
    select name, queued_count, ready_count, deferred_count, active_count, ready_oldest_seconds, monitor_on
    from pgboss.queue where name = any(${names}::text[]) order by name`,

  /** Fresh planner statistics for the job table (after a bulk insert: estimates made on an empty table mislead). */
  analyzeJobs: () => sql`analyze pgboss.job`,

  /** The installed pg-boss schema version. */
  schemaVersion: () => sql<{ version: number }>`select version::int as version from pgboss.version`,
} as const;
