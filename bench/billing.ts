/**
 * Billing renewals: 10,000 due subscriptions against the Toss double answering in 50 ms, renewed by
 * the real worker engine (`billing.scan` → `billing.renew` jobs, `worker --once` in-process) with
 * the catalog's batch and hold and at most TOSS_MAX_IN_FLIGHT (64) Toss calls at a time. Ideal wall
 * time with every call slot always waiting on Toss: 10,000 × 0.05 s / 64; the ratio to it says what
 * the database work around each call costs. The double runs in a process of its own (Toss is
 * remote: its CPU is not the worker's). Also counted: charges per subscription in the double's
 * ledger (must be exactly one). `BENCH_BILLING_SUBS` changes the size (small while developing),
 * `BENCH_BILLING_CONCURRENCY` the calls in flight, `BENCH_BILLING_BATCH` and `BENCH_BILLING_HOLD` the
 * queue's batch size and jobs held (default the catalog's).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import type { TossDoubleOptions } from '../src/billing/double.ts';
import { loadConfig } from '../src/config/index.ts';
import { createDb } from '../src/db/connect.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { bulkSubscribers, ensurePlan, TEST_KEY_B64 } from '../test/billing/support.ts';
import { TEST_SECRET_KEY } from '../test/support/toss.ts';
import {
  type Bench,
  num,
  progress,
  runStandalone,
  type Summary,
  scratchDatabase,
  sinkLogger,
} from './support.ts';

const SUBS = Number(process.env.BENCH_BILLING_SUBS) || 10_000;
const LATENCY_MS = 50;
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

export async function runBilling(bench: Bench): Promise<Summary> {
  const scratch = await scratchDatabase(bench, 'billing', { migrated: true });
  const double = await startDouble({ secretKey: TEST_SECRET_KEY, latencyMs: LATENCY_MS });
  const db = createDb(scratch.url, { max: 5, applicationName: 'sumda-bench' });
  try {
    await ensurePlan(db, 'basic', 9900);
    progress(`billing: creating ${num(SUBS)} due subscriptions`);
    const due = new Date(Date.now() - 60_000);
    await bulkSubscribers(db, SUBS, due);
    await db.destroy();
    const config = loadConfig(
      {},
      {
        DATABASE_URL: scratch.url,
        SUMDA_ENCRYPTION_KEYS: `bill1:${TEST_KEY_B64}`,
        TOSS_SECRET_KEY: TEST_SECRET_KEY,
        TOSS_API_URL: double.url,
        TOSS_MAX_IN_FLIGHT: String(CONCURRENCY),
      },
      process.cwd(),
    );
    const idealMs = (SUBS * LATENCY_MS) / CONCURRENCY;
    progress(
      `billing: renewing, Toss answering in ${LATENCY_MS} ms, ${CONCURRENCY} calls in flight, ${QUEUES.billingRenew.worker.concurrency} jobs held`,
    );
    const { runWorker } = await import('../jobs/runtime.ts');
    const started = performance.now();
    const result = await runWorker({
      url: scratch.url,
      config,
      log: sinkLogger('warn'),
      queues: [QUEUES.billingScan.name, QUEUES.billingRenew.name],
      concurrency: Number(process.env.BENCH_BILLING_HOLD) || undefined,
      batchSize: Number(process.env.BENCH_BILLING_BATCH) || undefined,
      once: true,
      drainTimeoutMs: 60_000,
      heartbeatMs: 60_000,
      pollIntervalMs: 200,
      retryHorizonMs: 0,
      signal: new AbortController().signal,
    });
    const ms = performance.now() - started;
    const perSub = new Map<string, number>();
    const ledger = await double.ledger();
    for (const orderId of ledger) {
      const hex = orderId.split('-')[1]!;
      perSub.set(hex, (perSub.get(hex) ?? 0) + 1);
    }
    const duplicates = [...perSub.values()].filter((n) => n > 1).length;
    const renewed = result.processed[QUEUES.billingRenew.name]?.completed ?? 0;
    return {
      name: `billing: ${num(SUBS)} renewals, Toss at ${LATENCY_MS} ms, concurrency ${CONCURRENCY}`,
      figures: [
        {
          label: `ideal ${num(SUBS)} × ${LATENCY_MS / 1000} s / ${CONCURRENCY}`,
          value: `${num(idealMs / 1000, 2)} s`,
        },
        {
          label: 'scan + renewals (`worker --once`)',
          value: `${num(ms / 1000, 2)} s, ${num(renewed)} jobs, ${num(ledger.length)} charges`,
          ratio: ms / idealMs,
          against: 'ideal',
          goal: `≤ ${BILLING_GOAL.toFixed(1)}×`,
          met: ms / idealMs <= BILLING_GOAL,
          headline: true,
        },
        {
          label: 'subscriptions charged more than once',
          value: `${duplicates} (of ${num(perSub.size)} charged)`,
          headline: true,
        },
      ],
    };
  } finally {
    await double.stop();
    await scratch.drop();
  }
}

if (import.meta.main) await runStandalone(runBilling);
