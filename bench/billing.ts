/**
 * Billing renewals: 10,000 due subscriptions against the Toss double answering in 50 ms, renewed by
 * the real worker engine (`billing.scan` → `billing.renew` jobs, `worker --once`) with the catalog's
 * batch and hold and at most TOSS_MAX_IN_FLIGHT (64) Toss calls at a time. Ideal wall time with every
 * call slot always waiting on Toss: 10,000 × 0.05 s / 64; the ratio to it says what the database
 * work around each call costs. The scenario runs once per entry of `BENCH_BILLING_WORKERS` (default
 * `1,2`): one `worker --once` in this process, then N worker daemons in processes of their own
 * (bench/billing-worker.ts, started with deploy/worker.env as deployed; this process sends the scan's
 * tick as the schedule does) sharing the 64 calls in flight — a worker spends about 1 ms of CPU per
 * renewal, so on a machine whose other core runs PostgreSQL and the double, one process is bound by
 * its own CPU before it is by Toss.
 * The double runs in a process of its own (Toss is remote: its CPU is not the worker's). Also
 * counted: charges per subscription in the double's ledger (must be exactly one).
 * `BENCH_BILLING_SUBS` changes the size (small while developing), `BENCH_BILLING_CONCURRENCY` the
 * calls in flight, `BENCH_BILLING_BATCH` and `BENCH_BILLING_HOLD` the queue's batch size and jobs
 * held (default the catalog's).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { TossDoubleOptions } from '../src/billing/double.ts';
import { loadConfig } from '../src/config/index.ts';
import { createDb } from '../src/db/connect.ts';
import { createBoss, enqueueTick } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { bulkSubscribers, ensurePlan, TEST_KEY_B64 } from '../test/billing/support.ts';
import { TEST_SECRET_KEY } from '../test/support/toss.ts';
import {
  type Bench,
  type Figure,
  num,
  progress,
  runStandalone,
  type Summary,
  scratchDatabase,
  sinkLogger,
} from './support.ts';

const SUBS = Number(process.env.BENCH_BILLING_SUBS) || 10_000;
const LATENCY_MS = 50;
/** The worker's Node settings as deployed (semi-space and heap limits): the worker processes start with them. */
const WORKER_ENV = new URL('../deploy/worker.env', import.meta.url);
/** Toss calls in flight at most (TOSS_MAX_IN_FLIGHT): the concurrency of the ideal. */
const CONCURRENCY = Number(process.env.BENCH_BILLING_CONCURRENCY) || 64;
export const BILLING_GOAL = 1.5;

/** The double in its own process (see toss-process.ts); its ledger is fetched over IPC at the end. */
async function startDouble(options: TossDoubleOptions): Promise<{
  url: string;
  ledger: () => Promise<string[]>;
  stop: () => Promise<void>;
  child: ChildProcess;
}> {
  const child = fork(new URL('./toss-process.ts', import.meta.url), [JSON.stringify(options)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [{ url }] = (await once(child, 'message')) as [{ url: string }];
  return {
    url,
    child,
    ledger: async () => {
      child.send('ledger');
      const [{ orderIds }] = (await once(child, 'message')) as [{ orderIds: string[] }];
      return orderIds;
    },
    stop: async () => {
      if (child.exitCode !== null || !child.connected) return;
      const exited = once(child, 'exit');
      child.send('stop');
      await exited;
    },
  };
}

/** Worker processes per run: `BENCH_BILLING_WORKERS=1,2` (default) runs the scenario once for each. */
const WORKER_COUNTS = (process.env.BENCH_BILLING_WORKERS ?? '1,2')
  .split(',')
  .map(Number)
  .filter((n) => n >= 1);

/**
 * N worker daemons (`sumda worker` over the billing queues, started with deploy/worker.env as every
 * deployed worker is), each with TOSS_MAX_IN_FLIGHT / N calls in flight (the ideal's concurrency is
 * their sum). The clock starts when every process has loaded the engine, with the scan's tick sent
 * as the schedule sends it every five minutes, and stops when no scan or renewal job is left.
 * Daemons, not `--once`: `--once` drains what is due when it starts, so a process that looked while
 * another still held the scan job found nothing and finished at once, leaving the whole run to the
 * other's half of the calls in flight (every few runs, at twice the time).
 */
async function renewInProcesses(
  n: number,
  url: string,
  env: Record<string, string>,
): Promise<{ ms: number; renewed: number }> {
  const children = Array.from({ length: n }, () =>
    fork(
      new URL('./billing-worker.ts', import.meta.url),
      [
        JSON.stringify({
          url,
          env: { ...env, TOSS_MAX_IN_FLIGHT: String(Math.max(1, Math.round(CONCURRENCY / n))) },
        }),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: [...process.execArgv, `--env-file=${fileURLToPath(WORKER_ENV)}`],
      },
    ),
  );
  const boss = createBoss(url, { log: sinkLogger('warn') });
  await boss.start();
  try {
    await Promise.all(children.map((c) => once(c, 'message')));
    const done = children.map(async (c) => {
      const [{ renewed }] = (await once(c, 'message')) as [{ renewed: number }];
      return renewed;
    });
    const started = performance.now();
    for (const c of children) c.send('go');
    await enqueueTick(boss, QUEUES.billingScan);
    await billingDone(url);
    const ms = performance.now() - started;
    for (const c of children) c.send('stop');
    const renewed = (await Promise.all(done)).reduce((a, b) => a + b, 0);
    return { ms, renewed };
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

/** Resolves when no scan or renewal job is waiting or running (a scan batch enqueues its successor before it completes). */
async function billingDone(url: string): Promise<void> {
  const db = createDb(url, { max: 1, applicationName: 'sumda-bench' });
  try {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const { rows } = await sql<{ left: boolean }>`
        select exists (select 1 from pgboss.job
                        where name in (${QUEUES.billingScan.name}, ${QUEUES.billingRenew.name})
                          and state in ('created', 'retry', 'active')) as left`.execute(db);
      if (!rows[0]?.left) return;
      if (Date.now() > deadline) throw new Error('billing jobs still left after 5 minutes');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    await db.destroy();
  }
}

async function renewInProcess(
  url: string,
  env: Record<string, string>,
): Promise<{ ms: number; renewed: number }> {
  const config = loadConfig({}, { ...env, TOSS_MAX_IN_FLIGHT: String(CONCURRENCY) }, process.cwd());
  const { runRenewals } = await import('./billing-run.ts');
  const started = performance.now();
  const renewed = await runRenewals(url, config);
  return { ms: performance.now() - started, renewed };
}

/** One scenario: SUBS due subscriptions, a fresh double, renewed by `workers` processes. */
async function scenario(bench: Bench, workers: number): Promise<Figure[]> {
  const scratch = await scratchDatabase(bench, `billing${workers}`, { migrated: true });
  const double = await startDouble({ secretKey: TEST_SECRET_KEY, latencyMs: LATENCY_MS });
  try {
    const db = createDb(scratch.url, { max: 5, applicationName: 'sumda-bench' });
    await ensurePlan(db, 'basic', 9900);
    progress(`billing: creating ${num(SUBS)} due subscriptions`);
    await bulkSubscribers(db, SUBS, new Date(Date.now() - 60_000));
    await db.destroy();
    const env = {
      DATABASE_URL: scratch.url,
      SUMDA_ENCRYPTION_KEYS: `bill1:${TEST_KEY_B64}`,
      TOSS_SECRET_KEY: TEST_SECRET_KEY,
      TOSS_API_URL: double.url,
    };
    progress(
      `billing: renewing in ${workers} worker process${workers > 1 ? 'es' : ''}, Toss answering in ${LATENCY_MS} ms, ${CONCURRENCY} calls in flight in all, ${QUEUES.billingRenew.worker.concurrency} jobs held each`,
    );
    const { ms, renewed } =
      workers === 1
        ? await renewInProcess(scratch.url, env)
        : await renewInProcesses(workers, scratch.url, env);
    const perSub = new Map<string, number>();
    const ledger = await double.ledger();
    for (const orderId of ledger) {
      const hex = orderId.split('-')[1]!;
      perSub.set(hex, (perSub.get(hex) ?? 0) + 1);
    }
    const duplicates = [...perSub.values()].filter((n) => n > 1).length;
    const idealMs = (SUBS * LATENCY_MS) / CONCURRENCY;
    const who =
      workers === 1
        ? '`worker --once`'
        : `${workers} × \`sumda worker\`, ${Math.round(CONCURRENCY / workers)} calls in flight each`;
    return [
      {
        label: `scan + renewals (${who})`,
        value: `${num(ms / 1000, 2)} s, ${num(renewed)} jobs, ${num(ledger.length)} charges`,
        ratio: ms / idealMs,
        against: 'ideal',
        goal: `≤ ${BILLING_GOAL.toFixed(1)}×`,
        met: ms / idealMs <= BILLING_GOAL,
        headline: true,
      },
      {
        label: `subscriptions charged more than once (${workers} process${workers > 1 ? 'es' : ''})`,
        value: `${duplicates} (of ${num(perSub.size)} charged)`,
        headline: true,
      },
    ];
  } finally {
    await double.stop();
    await scratch.drop();
  }
}

export async function runBilling(bench: Bench): Promise<Summary> {
  const idealMs = (SUBS * LATENCY_MS) / CONCURRENCY;
  const figures: Figure[] = [
    {
      label: `ideal ${num(SUBS)} × ${LATENCY_MS / 1000} s / ${CONCURRENCY}`,
      value: `${num(idealMs / 1000, 2)} s`,
    },
  ];
  for (const workers of WORKER_COUNTS) figures.push(...(await scenario(bench, workers)));
  return {
    name: `billing: ${num(SUBS)} renewals, Toss at ${LATENCY_MS} ms, concurrency ${CONCURRENCY}`,
    figures,
  };
}

if (import.meta.main) await runStandalone(runBilling);
