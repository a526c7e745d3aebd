/**
 * pg-boss over the same database: construction, queue installation from the catalog, and typed
 * enqueueing — including inside a caller's kysely transaction, so a job exists only if the write
 * that caused it commits.
 */
import { type Kysely, sql } from 'kysely';
import { fromKysely, PgBoss } from 'pg-boss';
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

export type { Job } from 'pg-boss';
export { PgBoss } from 'pg-boss';

export interface BossOptions {
  /** Run the cron scheduler and maintenance (workers); CLI commands that only enqueue or inspect don't. */
  active?: boolean;
  max?: number;
  log?: Logger;
  instanceName?: string;
}

export function createBoss(url: string, options: BossOptions = {}): PgBoss {
  const boss = new PgBoss({
    connectionString: url,
    application_name: options.active ? 'sumda-worker' : 'sumda-cli',
    max: options.max ?? (options.active ? 10 : 3),
    schedule: Boolean(options.active),
    supervise: Boolean(options.active),
    registerInstance: Boolean(options.active),
    instanceName: options.instanceName,
    migrate: true,
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
      ...(def.deadLetter ? { deadLetter: deadLetterName(def.name) } : {}),
    };
    await boss.createQueue(def.name, options);
    // A queue's policy is fixed at creation; its retry and expiry settings follow the catalog.
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
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

export interface EnqueueOptions {
  /** Enqueue inside this kysely transaction. */
  trx?: Kysely<any>;
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
  const def = QUEUES[key];
  const data = def.payload.parse(payload) as object;
  return boss.send(def.name, data, {
    ...(options.trx ? { db: fromKysely(options.trx) } : {}),
    ...(options.singletonKey ? { singletonKey: options.singletonKey } : {}),
    ...(options.startAfter !== undefined ? { startAfter: options.startAfter } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
  });
}

/** Inserts many jobs in one statement (pg-boss `insert`); singletons that already exist are skipped. */
export async function enqueueMany<K extends QueueKey>(
  boss: PgBoss,
  key: K,
  jobs: { payload: PayloadOf<K>; singletonKey?: string }[],
  options: { trx?: Kysely<any> } = {},
): Promise<void> {
  if (jobs.length === 0) return;
  const def = QUEUES[key];
  await boss.insert(
    def.name,
    jobs.map((j) => ({
      data: def.payload.parse(j.payload) as object,
      ...(j.singletonKey ? { singletonKey: j.singletonKey } : {}),
    })),
    options.trx ? { db: fromKysely(options.trx) } : {},
  );
}

/** Queues an operator paused; workers skip them. */
export async function pausedQueues(db: Kysely<any>): Promise<Set<string>> {
  const rows = await sql<{ queue: string }>`select queue from sumda.queue_state`.execute(db);
  return new Set(rows.rows.map((r) => r.queue));
}
