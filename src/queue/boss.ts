/**
 * pg-boss over the same database: construction, queue installation from the catalog, and typed
 * enqueueing — including inside a caller's kysely transaction, so a job exists only if the write
 * that caused it commits.
 */
import { type Kysely, sql } from 'kysely';
import { fromKysely, PgBoss } from 'pg-boss';
import { retryCatalogRace } from '../db/catalog-race.ts';
import type { Database } from '../db/types.ts';
import type { Logger } from '../log.ts';
import {
  ALL_QUEUES,
  deadLetterName,
  type PayloadOf,
  QUEUES,
  type QueueDefinition,
  type QueueKey,
  SCHEDULE_TZ,
} from './catalog.ts';
import { EXECUTOR, isSchemaMismatch } from './plans.ts';

export type { Job } from 'pg-boss';
export { PgBoss } from 'pg-boss';

export interface BossOptions {
  /** Run the cron scheduler and maintenance (workers); CLI commands that only enqueue or inspect don't. */
  active?: boolean;
  max?: number;
  log?: Logger;
  instanceName?: string;
}

/**
 * Dead-worker recovery. Every job carries a heartbeat: a worker holding it refreshes `heartbeat_on`
 * every HEARTBEAT_SECONDS / 2 (the pump does, fenced to the attempt it fetched), and the supervisor of
 * any running worker fails a job whose heartbeat is older than HEARTBEAT_SECONDS — it goes back to its
 * queue as a retry. With the supervisor passing every SUPERVISE_SECONDS, the jobs of a worker that died
 * (SIGKILL, OOM, a lost machine) are retried within about HEARTBEAT_SECONDS + SUPERVISE_SECONDS plus the
 * queue's retry delay — instead of waiting out `expireInSeconds` (10 minutes for analyses). The expiry
 * stays as the bound on a job whose handler hangs while its worker is alive.
 */
export const HEARTBEAT_SECONDS = 10; // pg-boss's minimum
export const SUPERVISE_SECONDS = 5;

export function createBoss(url: string, options: BossOptions = {}): PgBoss {
  const boss = new PgBoss({
    connectionString: url,
    application_name: options.active ? 'sumda-worker' : 'sumda-cli',
    max: options.max ?? (options.active ? 10 : 3),
    schedule: Boolean(options.active),
    supervise: Boolean(options.active),
    registerInstance: Boolean(options.active),
    // How often a worker looks for jobs whose heartbeat stopped (and refreshes the queue counters).
    superviseIntervalSeconds: SUPERVISE_SECONDS,
    monitorIntervalSeconds: SUPERVISE_SECONDS,
    instanceName: options.instanceName,
    migrate: true,
    // Workers run as sumda_worker, which has DML on pg-boss's tables and no DDL: no daily stats
    // partitions (sumda counts live from pgboss.job) and no REINDEX (the owner's maintenance).
    persistQueueStats: false,
    reindex: false,
  });
  boss.on('error', (error) => options.log?.error({ err: error }, 'pg-boss error'));
  boss.on('warning', (warning) => options.log?.warn({ warning }, 'pg-boss warning'));
  return boss;
}

function queueOptions(def: QueueDefinition) {
  return {
    policy: def.policy,
    retryLimit: def.retryLimit,
    retryDelay: def.retryDelaySeconds,
    retryBackoff: def.retryBackoff,
    expireInSeconds: def.expireInSeconds,
    heartbeatSeconds: HEARTBEAT_SECONDS,
  };
}

/** Creates (or updates) every queue, its dead-letter queue and its schedule. Idempotent. */
export async function installQueues(boss: PgBoss): Promise<void> {
  for (const def of ALL_QUEUES) {
    if (def.deadLetter) {
      await boss.createQueue(deadLetterName(def.name), { retryLimit: 0, deleteAfterSeconds: 30 * 86_400 });
    }
    const options = {
      ...queueOptions(def),
      ...(def.partition ? { partition: true } : {}),
      ...(def.deadLetter ? { deadLetter: deadLetterName(def.name) } : {}),
    };
    await boss.createQueue(def.name, options);
    // pg-boss fixes a queue's policy at creation. Relaxing stately to standard (slip.check) is safe
    // in place — it only drops a uniqueness rule — so existing installs get it too: the queue row and
    // its waiting jobs are updated in one statement, and workers of either version keep working.
    if (def.policy === 'standard') {
      await boss.getDb().executeSql(EXECUTOR.relaxToStandard, [def.name]);
    }
    // A queue's policy is fixed at creation; its retry, expiry and heartbeat settings follow the
    // catalog (so existing installs get heartbeats too; jobs already queued keep what they had).
    const { policy: _policy, ...mutable } = queueOptions(def);
    await boss.updateQueue(def.name, mutable);
    if (def.schedule)
      await boss.schedule(def.name, def.schedule.cron, def.schedule.data ?? {}, { tz: SCHEDULE_TZ });
  }
}

/** Installs pg-boss's schema and sumda's queues: what `db migrate` and a starting worker do. */
export async function ensureQueueSchema(url: string, log?: Logger): Promise<void> {
  const boss = createBoss(url, { log });
  await boss.start();
  try {
    await installQueues(boss);
    // Two `db migrate` runs started together both get here (the migration lock is theirs only while
    // migrating): their GRANTs on the same tables can collide, and running one again is harmless.
    await retryCatalogRace(() => boss.getDb().executeSql(EXECUTOR.grantQueueAccess));
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

export interface EnqueueOptions {
  /** Enqueue inside this kysely transaction. */
  trx?: Kysely<Database>;
  singletonKey?: string;
  startAfter?: Date | number;
  priority?: number;
}

/** Sends one job after validating its payload; returns its id, or null when a singleton already exists. */
export async function enqueue<K extends QueueKey>(
  boss: PgBoss,
  key: K,
  payload: PayloadOf<K>,
  options: EnqueueOptions = {},
): Promise<string | null> {
  return send(boss, QUEUES[key], payload, options);
}

/** One tick of a scheduled queue, sent now with its schedule's payload (what `worker --once` does first). */
export async function enqueueTick(boss: PgBoss, definition: QueueDefinition): Promise<string | null> {
  if (!definition.schedule) throw new Error(`${definition.name} has no schedule`);
  return send(boss, definition, definition.schedule.data ?? {}, {});
}

async function send(
  boss: PgBoss,
  def: QueueDefinition,
  payload: unknown,
  options: EnqueueOptions,
): Promise<string | null> {
  const data = def.payload.parse(payload) as object;
  return boss.send(def.name, data, {
    ...(options.trx ? { db: fromKysely(options.trx) } : {}),
    ...(options.singletonKey ? { singletonKey: options.singletonKey } : {}),
    ...(options.startAfter !== undefined ? { startAfter: options.startAfter } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
  });
}

/** Inserts many jobs in one statement (pg-boss `insert`); singletons that already exist are skipped. Returns how many were created. */
export async function enqueueMany<K extends QueueKey>(
  boss: PgBoss,
  key: K,
  jobs: { payload: PayloadOf<K>; singletonKey?: string }[],
  options: { trx?: Kysely<Database> } = {},
): Promise<number> {
  if (jobs.length === 0) return 0;
  const def = QUEUES[key];
  const ids = await boss.insert(
    def.name,
    jobs.map((j) => ({
      data: def.payload.parse(j.payload) as object,
      ...(j.singletonKey ? { singletonKey: j.singletonKey } : {}),
    })),
    { returnId: true, ...(options.trx ? { db: fromKysely(options.trx) } : {}) },
  );
  // Only the jobs actually created: a singleton already waiting is skipped, not counted.
  return ids?.length ?? 0;
}

/** Completes fetched jobs, each with its own output, in one statement. */
export async function completeWithOutputs(
  boss: PgBoss,
  name: string,
  jobs: { id: string; retryCount: number; output: object | null }[],
): Promise<void> {
  if (jobs.length === 0) return;
  const payload = JSON.stringify(
    jobs.map((j) => ({ id: j.id, retry_count: j.retryCount, output: j.output })),
  );
  try {
    await boss.getDb().executeSql(EXECUTOR.completeWithOutputs, [name, payload]);
  } catch (error) {
    if (!isSchemaMismatch(error)) throw error;
    // pg-boss changed its schema: its public API, one statement per job, is always right.
    for (const j of jobs) await boss.complete(name, { id: j.id, retryCount: j.retryCount }, j.output);
  }
}

/** The longest a server's `retry-after` may push a retry out: past this, the queue's own backoff decides. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Pushes the start of jobs just failed into `retry` out to at least now + the server's `retry-after`
 * (a 429 that outlived the SDK's own retries): pg-boss's `fail()` only applies the queue's backoff.
 * Never earlier than pg-boss's own retry time; jobs no longer waiting in `retry` (dead-lettered,
 * taken again) are left alone.
 */
export async function deferRetries(
  boss: PgBoss,
  name: string,
  jobs: { id: string; retryAfterMs: number }[],
): Promise<void> {
  if (jobs.length === 0) return;
  const payload = JSON.stringify(
    jobs.map((j) => ({
      id: j.id,
      ms: Math.round(Math.min(Math.max(j.retryAfterMs, 0), MAX_RETRY_AFTER_MS)),
    })),
  );
  await boss.getDb().executeSql(EXECUTOR.deferRetries, [name, payload]);
}

/**
 * Fails fetched jobs terminally: past their retry limit at once, so pg-boss's own `fail()` moves
 * each to its queue's dead-letter queue (or leaves it `failed` where there is none) instead of
 * retrying. For jobs that can never succeed, such as a payload that does not parse. Fenced like
 * `fail()`: only the attempt that was fetched. A crash between the two statements leaves the job
 * active with no retries left, so its expiry dead-letters it all the same.
 */
export async function deadLetter(
  boss: PgBoss,
  name: string,
  jobs: { id: string; retryCount: number; error: Error }[],
): Promise<void> {
  if (jobs.length === 0) return;
  const attempts = JSON.stringify(jobs.map((j) => ({ id: j.id, retry_count: j.retryCount })));
  try {
    await boss.getDb().executeSql(EXECUTOR.exhaustRetries, [name, attempts]);
  } catch (error) {
    if (!isSchemaMismatch(error)) throw error;
    // pg-boss changed its schema: the jobs are failed with their retries left (still never lost).
  }
  for (const j of jobs) {
    await boss.fail(
      name,
      { id: j.id, retryCount: j.retryCount },
      { message: j.error.message, name: j.error.name },
    );
  }
}

/**
 * Jobs pg-boss's supervisor sent back because their worker's heartbeat stopped did not fail on their
 * own: they need no backoff (15–30 s for an analysis). Makes them due now; returns how many.
 */
export async function expediteOrphans(boss: PgBoss, names: string[]): Promise<number> {
  const result = (await boss.getDb().executeSql(EXECUTOR.expediteOrphans, [names])) as {
    rowCount?: number | null;
  };
  return result.rowCount ?? 0;
}

/** Queues an operator paused; workers skip them. */
export async function pausedQueues(db: Kysely<Database>): Promise<Set<string>> {
  const rows = await sql<{ queue: string }>`select queue from sumda.queue_state`.execute(db);
  return new Set(rows.rows.map((r) => r.queue));
}
