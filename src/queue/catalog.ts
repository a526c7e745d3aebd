/**
 * The job catalog: every queue sumda runs, in one place — its payload schema (payloads carry ids,
 * never diary text), retry policy, expiry, dead-letter queue, schedule (cron in Asia/Seoul) and
 * the worker's default batch size and concurrency. `jobs/index.ts` maps each queue to its handler;
 * domain modules enqueue through `src/queue/boss.ts` with these definitions.
 *
 * Glossary: a *job* is one unit of work in a queue; a *batch* is what one handler call receives;
 * *concurrency* is how many jobs one worker process holds at once for a queue; a *dead letter*
 * is a job that failed past its retry limit, parked in `<queue>.dead` for an operator.
 */
import { z } from 'zod';
import type { ErrorLogsTable } from '../db/types.ts';

const uuid = z.uuid();
/** Every payload may carry the request id of the operator command or job that caused it. */
const requestId = z.uuid().optional();

export interface QueueDefinition<P extends z.ZodType = z.ZodType, N extends string = string> {
  name: N;
  description: string;
  payload: P;
  /** error_logs.service for failures of this queue. */
  service: ErrorLogsTable['service'];
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  expireInSeconds: number;
  /** stately: at most one queued and one active job per singleton key; short: at most one queued per key. */
  policy: 'standard' | 'stately' | 'short';
  /**
   * A table of its own instead of pg-boss's shared `job_common`: for hot queues that build large
   * backlogs (their fetches and vacuums no longer wade through every other queue's rows). Fixed at
   * creation; an existing install keeps its table (see installQueues).
   */
  partition?: boolean;
  deadLetter: boolean;
  /** Cron in Asia/Seoul; the scheduler sends one job per tick. */
  schedule?: { cron: string; data?: Record<string, unknown> };
  worker: { batchSize: number; concurrency: number };
}

/** Keeps the payload schema's type and the literal queue name (so a handler map can be checked against the catalog). */
function define<P extends z.ZodType, const N extends string>(
  definition: QueueDefinition<P, N>,
): QueueDefinition<P, N> {
  return definition;
}

/**
 * A scheduled sweep: one job per cron tick (Asia/Seoul), stately — a tick due while the last one
 * still runs waits behind it instead of piling up — and worked one job at a time.
 */
function sweep<P extends z.ZodType, const N extends string>(
  cron: string,
  definition: Omit<QueueDefinition<P, N>, 'policy' | 'schedule' | 'worker'>,
): QueueDefinition<P, N> {
  return { ...definition, policy: 'stately', schedule: { cron }, worker: { batchSize: 1, concurrency: 1 } };
}

export const QUEUES = {
  analysisScan: sweep('* * * * *', {
    name: 'analysis.scan',
    description: 'find diary entries with no analysis under the active prompt and enqueue them',
    payload: z.object({ requestId }).strict(),
    service: 'analysis',
    retryLimit: 1,
    retryDelaySeconds: 30,
    retryBackoff: false,
    expireInSeconds: 300,
    deadLetter: false,
  }),
  analysisRun: define({
    name: 'analysis.run',
    description: 'analyse one diary entry with the LLM (or the offline analyzer) and store the result',
    payload: z
      .object({ diaryId: uuid, promptName: z.string().min(1), promptVersion: z.string().min(1), requestId })
      .strict(),
    service: 'analysis',
    retryLimit: 4,
    retryDelaySeconds: 15,
    retryBackoff: true,
    expireInSeconds: 600,
    policy: 'stately',
    deadLetter: true,
    // Up to 128 model calls in flight, results written 32 at a time (one transaction, one
    // completion per batch). A batch waits for its slowest call, so many batches in flight keep
    // the effective concurrency high; the shared RPM budget, not this, protects the account.
    worker: { batchSize: 32, concurrency: 128 },
  }),
  slipCheck: define({
    name: 'slip.check',
    description: 'evaluate the slip and ethics policy for a new analysis',
    payload: z.object({ analysisId: uuid, requestId }).strict(),
    service: 'slip',
    retryLimit: 5,
    retryDelaySeconds: 5,
    retryBackoff: true,
    expireInSeconds: 120,
    // Not stately: the singleton key (the analysis id) is unique already — a check is enqueued once,
    // in the transaction that stores its analysis — and the stately fetch's per-row singleton probe
    // was the cost of the backlog cliff (README "Backlogs"; bench/backlog.ts).
    policy: 'standard',
    partition: true,
    deadLetter: true,
    worker: { batchSize: 20, concurrency: 40 },
  }),
  slipRelease: sweep('* * * * *', {
    name: 'slip.release',
    description: 'release slips whose time is up and tell the user',
    payload: z.object({ requestId }).strict(),
    service: 'slip',
    retryLimit: 2,
    retryDelaySeconds: 30,
    retryBackoff: false,
    expireInSeconds: 300,
    deadLetter: false,
  }),
  keysReencrypt: define({
    name: 'keys.reencrypt',
    description: 're-encrypt diary entries sealed with an older key, one batch per job',
    payload: z.object({ batchSize: z.number().int().min(1).max(10_000).default(500), requestId }).strict(),
    service: 'diary',
    retryLimit: 5,
    retryDelaySeconds: 10,
    retryBackoff: true,
    expireInSeconds: 600,
    policy: 'stately',
    deadLetter: true,
    worker: { batchSize: 1, concurrency: 1 },
  }),
  housekeeping: sweep('17 * * * *', {
    name: 'housekeeping',
    description: 'mark expired overrides, trim old rate windows',
    payload: z.object({ requestId }).strict(),
    service: 'worker',
    retryLimit: 1,
    retryDelaySeconds: 60,
    retryBackoff: false,
    expireInSeconds: 300,
    deadLetter: false,
  }),
  pointsExpire: sweep('10 3 * * *', {
    name: 'points.expire',
    description:
      'expire points earned more than 365 days ago (oldest spent first), one batch of users per job',
    payload: z
      .object({
        date: z.iso.date().optional(),
        after: uuid.optional(),
        batchSize: z.number().int().min(1).max(10_000).default(500),
        requestId,
      })
      .strict(),
    service: 'worker',
    retryLimit: 3,
    retryDelaySeconds: 60,
    retryBackoff: true,
    expireInSeconds: 600,
    deadLetter: true,
  }),
  eventsAttendance: sweep('*/5 * * * *', {
    name: 'events.attendance',
    description: 'compute attendance streaks and pay streak rewards into the points ledger, once',
    payload: z.object({ eventId: uuid.optional(), requestId }).strict(),
    service: 'worker',
    retryLimit: 3,
    retryDelaySeconds: 30,
    retryBackoff: true,
    expireInSeconds: 300,
    deadLetter: true,
  }),
  billingScan: sweep('*/5 * * * *', {
    name: 'billing.scan',
    description: 'send renewal notices and enqueue a renewal for every due subscription, in chained batches',
    payload: z.object({ after: uuid.optional(), requestId }).strict(),
    service: 'billing',
    retryLimit: 2,
    retryDelaySeconds: 30,
    retryBackoff: false,
    expireInSeconds: 300,
    deadLetter: false,
  }),
  billingRenew: define({
    name: 'billing.renew',
    description:
      'renew one subscription through Toss (exactly once per period; dunning, trials, cancellation)',
    payload: z.object({ subscriptionId: uuid, requestId }).strict(),
    service: 'billing',
    retryLimit: 3,
    retryDelaySeconds: 60,
    retryBackoff: true,
    expireInSeconds: 300,
    // short: one queued job per subscription (overlapping scans add nothing), but a new one may run
    // while a dead worker's job is still active — the renewal itself is safe to run twice.
    policy: 'short',
    deadLetter: true,
    // Renewals wait on Toss (hundreds of ms): many held per worker — twice TOSS_MAX_IN_FLIGHT's
    // default, so some batches do their database work while others' calls wait on Toss — in batches
    // of 32 sharing their round trips (bench/billing.ts: 8 → 16 → 32 took 10,000 renewals from
    // ~2.4× to ~1.65× the ideal; the calls are gated one by one, so a slow call holds only its batch).
    worker: { batchSize: 32, concurrency: 128 },
  }),
  billingReconcile: sweep('*/5 * * * *', {
    name: 'billing.reconcile',
    description: 'look up payments pending too long by order id and settle them (never charges)',
    payload: z.object({ requestId }).strict(),
    service: 'billing',
    retryLimit: 1,
    retryDelaySeconds: 60,
    retryBackoff: false,
    expireInSeconds: 600,
    deadLetter: false,
  }),
  reportBackfill: define({
    name: 'report.backfill',
    description:
      'one chunk (users x one period) of a recorded report backfill run; the chunk enqueues its successor',
    payload: z.object({ runId: z.number().int().min(1), requestId }).strict(),
    service: 'report',
    retryLimit: 3,
    retryDelaySeconds: 10,
    retryBackoff: true,
    expireInSeconds: 600,
    policy: 'standard',
    deadLetter: true,
    worker: { batchSize: 1, concurrency: 2 },
  }),
  reportScheduled: sweep('10 0 * * *', {
    name: 'report.scheduled',
    description:
      'start the scheduled report builds of the periods that just ended (yesterday; last week on Mondays, last month on the 1st, last year on 1 January)',
    payload: z.object({ date: z.iso.date().optional(), requestId }).strict(),
    service: 'report',
    retryLimit: 3,
    retryDelaySeconds: 60,
    retryBackoff: true,
    expireInSeconds: 300,
    deadLetter: true,
  }),
  reportStale: sweep('* * * * *', {
    name: 'report.stale',
    description:
      'rebuild reports marked stale (late analyses, re-analyses, moderation) and take over backfill runs whose worker died',
    payload: z.object({ requestId }).strict(),
    service: 'report',
    retryLimit: 1,
    retryDelaySeconds: 30,
    retryBackoff: false,
    expireInSeconds: 600,
    deadLetter: false,
  }),
  logsRetention: sweep('40 4 * * *', {
    name: 'logs.retention',
    description:
      'delete API, login and error log rows past their retention, a small batch per job, table after table',
    payload: z
      .object({
        table: z.enum(['api_logs', 'login_logs', 'error_logs']).optional(),
        batchSize: z.number().int().min(1).max(50_000).optional(),
        requestId,
      })
      .strict(),
    service: 'worker',
    retryLimit: 5,
    retryDelaySeconds: 30,
    retryBackoff: true,
    expireInSeconds: 300,
    deadLetter: true,
  }),
} as const;

export type QueueKey = keyof typeof QUEUES;
export type QueueName<K extends QueueKey> = (typeof QUEUES)[K]['name'];
export type PayloadOf<K extends QueueKey> = z.input<(typeof QUEUES)[K]['payload']>;

export const ALL_QUEUES: readonly QueueDefinition[] = Object.values(QUEUES);
export const SCHEDULE_TZ = 'Asia/Seoul';

export function deadLetterName(queue: string): string {
  return `${queue}.dead`;
}

export function findQueue(name: string): QueueDefinition | undefined {
  return ALL_QUEUES.find((q) => q.name === name || deadLetterName(q.name) === name);
}

/**
 * The schema a worker reads payloads with. Enqueueing is strict (a payload carries exactly the
 * catalog's fields, so nothing else — never diary text — slips in); reading ignores fields it does
 * not know. That is the side-by-side rule of a rolling deploy: payload schemas only grow, by optional
 * fields (or fields with defaults), so an older worker reads a newer sender's job (the new field is
 * dropped) and a newer worker reads an older sender's job (the field is absent). Renaming, removing
 * or retyping a field, or making a new one required, needs a new queue name instead.
 */
const lenient = new WeakMap<z.ZodType, z.ZodType>();
export function readerSchema<P extends z.ZodType>(
  definition: QueueDefinition<P, string>,
): z.ZodType<z.output<P>> {
  const strict = definition.payload;
  let reader = lenient.get(strict);
  if (!reader) {
    reader = strict instanceof z.ZodObject ? strict.strip() : strict;
    lenient.set(strict, reader);
  }
  // strip() changes only what happens to unknown keys: the output type is the strict schema's.
  return reader as z.ZodType<z.output<P>>;
}

/** Every queue name including dead-letter queues. */
export function allQueueNames(): string[] {
  return ALL_QUEUES.flatMap((q) => (q.deadLetter ? [q.name, deadLetterName(q.name)] : [q.name]));
}
