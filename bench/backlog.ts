/**
 * The slip.check backlog cliff: 100,000 slip checks queued at once (a re-analysis or a backfill
 * produces exactly this), worked by three worker processes' worth of pumps (sumda's slip.check
 * defaults: batch 20, 40 in flight each), with a no-op handler so the figure is the queue's own cost.
 * Each variant gets a fresh queue with the full backlog, `ANALYZE`d after the bulk insert, and is
 * measured over its first BENCH_BACKLOG_MEASURE jobs (the backlog never drops below 80 %).
 *
 * Variants: the queue as it was installed (stately policy, in pg-boss's shared `job_common` table)
 * and as it is now (standard policy — the singleton key per analysis already makes each check unique
 * — in a partition of its own), each through raw pg-boss `work()` and through sumda's pump.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Job } from 'pg-boss';
import { createDb, type Db } from '../src/db/connect.ts';
import { createBoss, type PgBoss } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { type JobOutcome, QueuePump } from '../src/queue/pump.ts';
import {
  type Bench,
  type Figure,
  num,
  progress,
  rate,
  runStandalone,
  type Summary,
  scratchDatabase,
  sinkLogger,
} from './support.ts';

const BACKLOG = Number(process.env.BENCH_BACKLOG_JOBS) || 100_000;
const MEASURE = Number(process.env.BENCH_BACKLOG_MEASURE) || 20_000;
const WORKERS = 3;
const BATCH = QUEUES.slipCheck.worker.batchSize;
const IN_FLIGHT = QUEUES.slipCheck.worker.concurrency;
export const BACKLOG_GOAL = 1000;

interface Layout {
  label: string;
  policy: 'stately' | 'standard';
  partition: boolean;
}
const OLD: Layout = {
  label: 'stately, shared job_common (as installed before)',
  policy: 'stately',
  partition: false,
};
const POLICY_ONLY: Layout = {
  label: 'standard, shared job_common (policy changed in place)',
  policy: 'standard',
  partition: false,
};
const NEW: Layout = {
  label: 'standard, own partition (as installed now)',
  policy: 'standard',
  partition: true,
};

async function fill(url: string, db: Db, name: string, layout: Layout): Promise<void> {
  const boss = createBoss(url, { max: 4 });
  await boss.start();
  try {
    await boss.createQueue(name, {
      policy: layout.policy,
      partition: layout.partition,
      retryLimit: QUEUES.slipCheck.retryLimit,
    } as never);
    for (let i = 0; i < BACKLOG; i += 10_000) {
      const rows = Array.from({ length: Math.min(10_000, BACKLOG - i) }, () => {
        const analysisId = randomUUID();
        return { data: { analysisId }, singletonKey: analysisId };
      });
      await boss.insert(name, rows);
    }
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  await sql`analyze pgboss.job`.execute(db);
  await sql`analyze pgboss.job_common`.execute(db);
  await sql`update pgboss.queue set ready_count = ${BACKLOG} where name = ${name}`.execute(db);
}

/** Runs `start` on WORKERS bosses until MEASURE jobs completed; returns jobs/s. */
async function measure(
  url: string,
  start: (boss: PgBoss, done: (n: number) => void) => Promise<() => Promise<void>>,
): Promise<number> {
  const bosses = Array.from({ length: WORKERS }, () => createBoss(url, { max: 10 }));
  for (const b of bosses) await b.start();
  let completed = 0;
  let finish!: () => void;
  const reached = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const done = (n: number) => {
    completed += n;
    if (completed >= MEASURE) finish();
  };
  const started = performance.now();
  const stops = await Promise.all(bosses.map((b) => start(b, done)));
  await reached;
  const ms = performance.now() - started;
  await Promise.all(stops.map((s) => s()));
  for (const b of bosses) await b.stop({ graceful: false, close: true });
  return rate(completed, ms);
}

const noopOutcomes = async (jobs: Job<unknown>[]) =>
  jobs.map((j): JobOutcome => ({ id: j.id, status: 'completed' }));

function sumdaStart(name: string) {
  return async (boss: PgBoss, done: (n: number) => void) => {
    const definition = { ...QUEUES.slipCheck, name };
    const pump = new QueuePump(boss, definition, noopOutcomes, {
      batchSize: BATCH,
      concurrency: IN_FLIGHT,
      pollIntervalMs: 500,
      once: false,
      isPaused: () => false,
      log: sinkLogger('warn'),
      onSettled: (b) => done(b.completed.length),
    });
    void pump.start();
    return async () => {
      pump.stop();
      await pump.drained();
    };
  };
}

function rawStart(name: string) {
  return async (boss: PgBoss, done: (n: number) => void) => {
    await boss.work(
      name,
      {
        batchSize: BATCH,
        localConcurrency: IN_FLIGHT / BATCH,
        pollingIntervalSeconds: 0.5,
        burstWhenBatchFull: true,
      },
      async (jobs) => {
        // Counted after pg-boss completes the batch would be fairer still; the difference is one round trip.
        queueMicrotask(() => done(jobs.length));
      },
    );
    return () => boss.offWork(name, { wait: true });
  };
}

export async function runBacklog(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'backlog', { migrated: true });
  const db = createDb(scratch.url, { max: 2, applicationName: 'sumda-bench' });
  const figures: Figure[] = [];
  try {
    const results: Record<string, number> = {};
    let n = 0;
    const layouts = (process.env.BENCH_BACKLOG_LAYOUTS ?? 'old,policy,new').split(',');
    for (const layout of [OLD, POLICY_ONLY, NEW].filter((_, i) =>
      layouts.includes(['old', 'policy', 'new'][i]!),
    )) {
      for (const who of ['raw pg-boss work()', 'sumda pump'] as const) {
        const name = `bench.slip.${n++}`;
        progress(`backlog: ${who}, ${layout.label}: filling ${num(BACKLOG)} jobs`);
        await fill(scratch.url, db, name, layout);
        progress(`backlog: ${who}, ${layout.label}: working ${num(MEASURE)}`);
        const r = await measure(scratch.url, who === 'sumda pump' ? sumdaStart(name) : rawStart(name));
        results[`${who} / ${layout.label}`] = r;
      }
    }
    const rawOld = results[`raw pg-boss work() / ${OLD.label}`]!;
    const rawNew = results[`raw pg-boss work() / ${NEW.label}`]!;
    for (const [label, r] of Object.entries(results)) {
      const isSumdaNew = label === `sumda pump / ${NEW.label}`;
      figures.push({
        label,
        value: `${num(r)} jobs/s`,
        ratio:
          label.startsWith('raw') && label.includes(NEW.label)
            ? r / rawOld
            : r / (label.includes(NEW.label) ? rawNew : rawOld),
        against:
          label.startsWith('raw') && label.includes(NEW.label)
            ? 'raw pg-boss, old layout'
            : `raw pg-boss, same layout`,
        ...(isSumdaNew
          ? { goal: `≥ ${num(BACKLOG_GOAL)} jobs/s`, met: r >= BACKLOG_GOAL, headline: true }
          : {}),
      });
    }
  } finally {
    await db.destroy();
    await scratch.drop();
  }
  return {
    name: `backlog: slip checks with ${num(BACKLOG)} queued, ${WORKERS} workers × ${IN_FLIGHT} in flight (batch ${BATCH}), first ${num(MEASURE)} jobs`,
    figures,
  };
}

if (import.meta.main) await runStandalone(runBacklog);
