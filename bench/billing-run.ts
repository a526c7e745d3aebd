/**
 * The billing benchmark's renewal run, shared by its in-process run (bench/billing.ts) and each of
 * its worker processes (bench/billing-worker.ts): `worker --once` (or the daemon, until stopped)
 * over the billing queues (the scan and the renewals) with the catalog's batch and hold
 * unless BENCH_BILLING_BATCH / BENCH_BILLING_HOLD say otherwise. Returns how many renewal jobs
 * completed.
 */
import { runWorker } from '../jobs/runtime.ts';
import type { Config } from '../src/config/index.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { sinkLogger } from './support.ts';

export async function runRenewals(
  url: string,
  config: Config,
  /** Run as the daemon (`sumda worker`) until this is aborted, instead of `--once`. */
  stop?: AbortSignal,
): Promise<number> {
  const result = await runWorker({
    url,
    config,
    log: sinkLogger('warn'),
    queues: [QUEUES.billingScan.name, QUEUES.billingRenew.name],
    concurrency: Number(process.env.BENCH_BILLING_HOLD) || undefined,
    batchSize: Number(process.env.BENCH_BILLING_BATCH) || undefined,
    once: !stop,
    drainTimeoutMs: 60_000,
    heartbeatMs: 60_000,
    pollIntervalMs: 200,
    retryHorizonMs: 0,
    signal: stop ?? new AbortController().signal,
  });
  return result.processed[QUEUES.billingRenew.name]?.completed ?? 0;
}
