/**
 * Every statement sumda runs against pg-boss's own tables, as data — the way pg-boss keeps its SQL
 * in its `plans.ts`. pg-boss owns the `pgboss` schema and may change it in any release; keeping the
 * statements here makes an upgrade one file to read, and `isSchemaMismatch` the one place that
 * recognises a statement the installed schema no longer fits.
 */
import { pgCode } from '../errors.ts';

/** SQLSTATEs meaning pg-boss's tables no longer look like a statement expects (after an upgrade). */
const SCHEMA_MISMATCH = new Set([
  '42P01', // undefined_table
  '42703', // undefined_column
  '42883', // undefined_function
  '42804', // datatype_mismatch
]);

/** Whether `error` says pg-boss's schema is not the one these plans were written for. */
export function isSchemaMismatch(error: unknown): boolean {
  return SCHEMA_MISMATCH.has(pgCode(error) ?? '');
}

export const PLANS = {
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
} as const;
