/**
 * The billing benchmark's renewal run, shared by its in-process run (bench/billing.ts) and each of
 * its worker processes (bench/billing-worker.ts): `worker --once` over the billing queues with the
 * catalog's batch and hold unless BENCH_BILLING_BATCH / BENCH_BILLING_HOLD say otherwise.
 * Returns how many renewal jobs completed.
 */
import { runWorker } from '../jobs/runtime.ts';
import type { Config } from '../src/config/index.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { sinkLogger } from './support.ts';

export async function runRenewals(url: string, config: Config): Promise<number> {
  const result = await runWorker({
    url,
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
  return result.processed[QUEUES.billingRenew.name]?.completed ?? 0;
}
