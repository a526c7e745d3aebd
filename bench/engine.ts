/**
 * Engine overhead: 20,000 no-op jobs through sumda's pump and handler wrapper vs raw pg-boss `work()`
 * with the same batch size and the same number of jobs in flight, on the same database, in the same
 * run. The jobs are inserted beforehand with `boss.insert` and `ANALYZE pgboss.job` follows the bulk
 * insert (planner statistics of an empty table make fetches ~30× slower; toolchain.md). Each
 * measurement runs from the first fetch until every job is completed in the database.
 *
 * Equivalents: pg-boss `localConcurrency` N with batch B holds N×B jobs, which is the pump's
 * `concurrency` (jobs in flight). Raw pg-boss gets `burstWhenBatchFull` (and, at batch 1,
 * `burstWhenReadyExceeds` with the queue's ready count primed, as its monitor would have it), so
 * neither side waits out a polling interval while work is queued.
 *
 * One variant returns an output per job, as sumda's real handlers do (`{ status, analysisId }`);
 * raw pg-boss's counterpart is `perJobResults`.
 */
import { sql } from 'kysely';
import type { Job } from 'pg-boss';
import { z } from 'zod';
import { defineHandler, type JobContext } from '../jobs/context.ts';
import { createDb, type Db } from '../src/db/connect.ts';
import { createBoss, type PgBoss } from '../src/queue/boss.ts';
import type { QueueDefinition } from '../src/queue/catalog.ts';
import { type JobOutcome, QueuePump } from '../src/queue/pump.ts';
import {
  type Bench,
  type Figure,
  median,
  num,
  progress,
  rate,
  runStandalone,
  runs,
  type Summary,
  scratchDatabase,
  sinkLogger,
  timed,
} from './support.ts';

const JOBS = Number(process.env.BENCH_ENGINE_JOBS) || 20_000;
const POOL = 10;
export const ENGINE_GOAL = 0.8;

/** A bench queue as the catalog would define it (the payload is what `prepare` inserts). */
function noopDefinition(name: string): QueueDefinition {
  return {
    name,
    description: 'no-op jobs for the engine benchmark',
    payload: z.object({ i: z.number().int() }),
    service: 'worker',
    retryLimit: 2,
    retryDelaySeconds: 0,
    retryBackoff: false,
    expireInSeconds: 900,
    policy: 'standard',
    deadLetter: false,
    worker: { batchSize: 50, concurrency: 200 },
  };
}

/** Defined the way jobs/ defines handlers (payloads parsed by the wrapper). */
const noop = (definition: QueueDefinition) =>
  defineHandler(
    definition,
    () => async (jobs) => jobs.map((j): JobOutcome => ({ id: j.id, status: 'completed' })),
  );
const noopWithOutput = (definition: QueueDefinition) =>
  defineHandler(
    definition,
    () => async (jobs) =>
      jobs.map((j): JobOutcome => ({ id: j.id, status: 'completed', output: { status: 'stored', n: 1 } })),
  );

/** A queue of no-op jobs: standard, or stately with a singleton key per job (like analysis.run). */
export interface NoopQueue {
  name: string;
  policy: 'standard' | 'stately';
  jobs: number;
}

export interface Variant {
  label: string;
  batchSize: number;
  /** pg-boss workers; the pump holds localConcurrency × batchSize jobs. */
  localConcurrency: number;
  output: boolean;
}

const ALL_VARIANTS: Variant[] = [
  { label: 'batch 50, 200 in flight', batchSize: 50, localConcurrency: 4, output: false },
  { label: 'batch 50, 50 in flight', batchSize: 50, localConcurrency: 1, output: false },
  { label: 'batch 50, 200 in flight, output per job', batchSize: 50, localConcurrency: 4, output: true },
  { label: 'batch 1, concurrency 4', batchSize: 1, localConcurrency: 4, output: false },
];
/** BENCH_ENGINE_ONLY=<substring> runs only the matching variants (when chasing one number). */
const VARIANTS = ALL_VARIANTS.filter((v) => v.label.includes(process.env.BENCH_ENGINE_ONLY ?? ''));

export async function createNoopQueue(url: string, queue: NoopQueue): Promise<void> {
  await withBoss(url, (boss) => boss.createQueue(queue.name, { policy: queue.policy, retryLimit: 2 }));
}

async function prepare(db: Db, boss: PgBoss, queue: NoopQueue): Promise<void> {
  await sql`delete from pgboss.job where name = ${queue.name}`.execute(db);
  await sql`vacuum pgboss.job`.execute(db).catch(() => {});
  const data = Array.from({ length: queue.jobs }, (_, i) => ({
    data: { i },
    ...(queue.policy === 'stately' ? { singletonKey: `bench:${i}` } : {}),
  }));
  for (let i = 0; i < data.length; i += 10_000) await boss.insert(queue.name, data.slice(i, i + 10_000));
  await sql`analyze pgboss.job`.execute(db);
  // What pg-boss's monitor would report for this backlog; read by raw work()'s burstWhenReadyExceeds.
  await sql`update pgboss.queue set ready_count = ${queue.jobs} where name = ${queue.name}`.execute(db);
}

async function check(db: Db, queue: NoopQueue, who: string, v: Variant): Promise<void> {
  const r = await sql<{ n: number }>`
    select count(*)::int as n from pgboss.job where name = ${queue.name} and state = 'completed'`.execute(db);
  const done = r.rows[0]?.n ?? 0;
  if (done !== queue.jobs) progress(`warning: ${who} ${v.label} completed ${done} of ${queue.jobs} jobs`);
}

async function withBoss<T>(url: string, fn: (boss: PgBoss) => Promise<T>): Promise<T> {
  const boss = createBoss(url, { max: POOL });
  await boss.start();
  try {
    return await fn(boss);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

/** Milliseconds for sumda's pump to take every job of `queue` through a no-op handler. */
export async function sumdaRun(url: string, db: Db, queue: NoopQueue, v: Variant): Promise<number> {
  return withBoss(url, async (boss) => {
    await prepare(db, boss, queue);
    const definition = noopDefinition(queue.name);
    const handler = (v.output ? noopWithOutput : noop)(definition);
    const pump = new QueuePump(boss, definition, handler.create({} as JobContext), {
      batchSize: v.batchSize,
      concurrency: v.batchSize * v.localConcurrency,
      pollIntervalMs: 500,
      once: true,
      isPaused: () => false,
      log: sinkLogger('info'),
    });
    const { ms } = await timed(async () => {
      await pump.start();
      await pump.drained();
    });
    await check(db, queue, 'sumda', v);
    return ms;
  });
}

/** Milliseconds for raw pg-boss `work()` to take every job of `queue` through a no-op handler. */
export async function rawRun(url: string, db: Db, queue: NoopQueue, v: Variant): Promise<number> {
  // The queue's ready count is read into pg-boss's cache when it starts: prime it first.
  await withBoss(url, (boss) => prepare(db, boss, queue));
  return withBoss(url, async (boss) => {
    let seen = 0;
    let finish!: () => void;
    const all = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const count = (jobs: Job<unknown>[]) => {
      seen += jobs.length;
      if (seen >= queue.jobs) finish();
    };
    const options = {
      batchSize: v.batchSize,
      localConcurrency: v.localConcurrency,
      pollingIntervalSeconds: 0.5,
      burstWhenBatchFull: true,
      ...(v.batchSize === 1 ? { burstWhenReadyExceeds: 1 } : {}),
    };
    const { ms } = await timed(async () => {
      if (v.output) {
        await boss.work(queue.name, { ...options, perJobResults: true }, async (jobs) => {
          count(jobs);
          return jobs.map((j) => ({
            id: j.id,
            status: 'completed' as const,
            output: { status: 'stored', n: 1 },
          }));
        });
      } else {
        await boss.work(queue.name, options, async (jobs) => {
          count(jobs);
        });
      }
      await all;
      // Stops the workers and waits for the last batches to be completed in the database.
      await boss.offWork(queue.name, { wait: true });
    });
    await check(db, queue, 'pg-boss', v);
    return ms;
  });
}

export async function runEngine(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'engine', { migrated: true });
  const db = createDb(scratch.url, { max: 2, applicationName: 'sumda-bench' });
  const queue: NoopQueue = { name: 'bench.noop', policy: 'standard', jobs: JOBS };
  const figures: Figure[] = [];
  const n = runs();
  try {
    await createNoopQueue(scratch.url, queue);
    for (const v of VARIANTS) {
      const sumda: number[] = [];
      const raw: number[] = [];
      for (let i = 0; i < n; i++) {
        progress(`engine ${v.label}: run ${i + 1} of ${n} (${num(JOBS)} jobs each side)`);
        // Alternate who goes first, so drift (autovacuum, caches, neighbours) hits both alike.
        if (i % 2 === 0) {
          sumda.push(await sumdaRun(scratch.url, db, queue, v));
          raw.push(await rawRun(scratch.url, db, queue, v));
        } else {
          raw.push(await rawRun(scratch.url, db, queue, v));
          sumda.push(await sumdaRun(scratch.url, db, queue, v));
        }
      }
      const s = rate(JOBS, median(sumda));
      const r = rate(JOBS, median(raw));
      figures.push(
        { label: `raw pg-boss work(), ${v.label}`, value: `${num(r)} jobs/s` },
        {
          label: `sumda pump, ${v.label}`,
          value: `${num(s)} jobs/s`,
          ratio: s / r,
          against: 'raw pg-boss',
          goal: `≥ ${ENGINE_GOAL.toFixed(2)}×`,
          met: s / r >= ENGINE_GOAL,
          headline: true,
        },
      );
    }
  } finally {
    await db.destroy();
    await scratch.drop();
  }
  return { name: `engine: ${num(JOBS)} no-op jobs, end to end (median of ${n})`, figures };
}

if (import.meta.main) await runStandalone(runEngine);
