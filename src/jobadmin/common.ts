/**
 * Job and queue operations for operators (`sumda jobs|queues|schedules`): accurate counts straight
 * from `pgboss.job`, listing and showing jobs, retry / cancel / resume by id or by filter (dead
 * letters are redriven to their source queue), pausing queues, and the installed schedules.
 *
 * Reads are plain SQL over pg-boss's tables (src/queue/plans.ts; its cached queue counts lag up to a minute and its
 * `findJobs` filters by neither state nor time); changes go through pg-boss's own `retry`,
 * `cancel`, `resume`, `redrive` and `deleteJob`, run on the caller's kysely transaction so the
 * change and its audit row commit together.
 *
 * Glossary: a job is *ready* when it is queued (created or retry) and its start time has come,
 * *deferred* when it is queued for later; *failed* is terminal (retries exhausted); a *dead letter*
 * is the copy pg-boss parks in `<queue>.dead` when a job of a queue with a dead-letter queue fails
 * terminally (the original stays in its queue as failed).
 */
import { UsageError } from '../errors.ts';
import { allQueueNames, findQueue, type QueueDefinition } from '../queue/catalog.ts';
import { JOB_STATES, type JobState } from '../queue/plans.ts';

export { JOB_STATES, type JobState };

/** How many job ids an audit row carries; the count is always complete. */
export const AUDIT_IDS = 100;

/** A catalog queue's dead-letter queue (`<queue>.dead`)? */
export function isDeadLetterQueue(name: string): boolean {
  const def = findQueue(name);
  return def !== undefined && def.name !== name;
}

/** A catalog queue (or its dead-letter queue) by name; anything else is a usage error listing the known ones. */
export function requireQueue(name: string): QueueDefinition {
  const def = findQueue(name);
  if (!def)
    throw new UsageError(`unknown queue ${JSON.stringify(name)}`, {
      hint: `queues: ${allQueueNames().join(', ')}`,
    });
  return def;
}

export function parseJobState(text: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(text))
    throw new UsageError(`state ${JSON.stringify(text)}: use ${JOB_STATES.join(', ')}`);
  return text as JobState;
}
