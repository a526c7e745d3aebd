/** `sumda jobs list|show`: jobs newest first (no payloads), and every column of one job. Glossary: common.ts. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { NotFoundError } from '../errors.ts';
import { allQueueNames } from '../queue/catalog.ts';
import { type JobState, QUERIES } from '../queue/plans.ts';
import { requireQueue } from './common.ts';

export interface JobListFilter {
  queue?: string;
  states?: JobState[];
  since?: Date;
  limit?: number;
}

export interface JobSummary {
  id: string;
  queue: string;
  state: JobState;
  /** 1-based: the attempt running now or last run. */
  attempt: number;
  maxAttempts: number;
  createdOn: Date;
  startAfter: Date;
  startedOn: Date | null;
  completedOn: Date | null;
  singletonKey: string | null;
  /** First line of the last error, for failed, retrying and dead-lettered jobs. */
  error: string | null;
}

/** Newest first. Payload data is left out on purpose: it is shown by `showJob` only. */
export async function listJobs(db: Kysely<Database>, filter: JobListFilter = {}): Promise<JobSummary[]> {
  if (filter.queue) requireQueue(filter.queue);
  const names = filter.queue ? [filter.queue] : allQueueNames();
  const states = filter.states && filter.states.length > 0 ? filter.states : null;
  const result = await QUERIES.listJobs({
    names,
    states,
    since: filter.since ?? null,
    limit: filter.limit ?? 50,
  }).execute(db);
  return result.rows.map((r) => ({
    id: r.id,
    queue: r.queue,
    state: r.state,
    attempt: r.retry_count + 1,
    maxAttempts: r.retry_limit + 1,
    createdOn: r.created_on,
    startAfter: r.start_after,
    startedOn: r.started_on,
    completedOn: r.completed_on,
    singletonKey: r.singleton_key,
    error: errorSummary(r.error_output),
  }));
}

/** One line of an error pg-boss stored as a job's output (`{message, name}`, or anything else). */
export function errorSummary(output: unknown, width = 100): string | null {
  if (output === null || output === undefined) return null;
  const o = output as { message?: unknown; name?: unknown; value?: unknown };
  let text: string;
  if (typeof o === 'object' && typeof o.message === 'string')
    text = typeof o.name === 'string' && o.name !== 'Error' ? `${o.name}: ${o.message}` : o.message;
  else if (typeof o === 'object' && typeof o.value === 'string') text = o.value;
  else text = typeof output === 'string' ? output : JSON.stringify(output);
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Every column of one job (data and output included), by id. Unknown id: exit 2. */
export async function showJob(db: Kysely<Database>, id: string): Promise<Record<string, unknown>> {
  const result = await QUERIES.job(id, allQueueNames()).execute(db);
  const row = result.rows[0];
  if (!row) throw new NotFoundError(`no job ${id}`, { hint: 'find ids with `sumda jobs list`' });
  return row;
}
