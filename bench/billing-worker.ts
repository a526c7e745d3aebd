/**
 * One worker process of the billing benchmark's multi-process runs (bench/billing.ts): forked with
 * its options as JSON in argv[2] (database URL, environment, queues, batch and hold). It loads the
 * engine, sends `{ ready: true }`, runs `worker --once` (`runWorker`, as the in-process run does) on
 * `'go'`, and sends back `{ processed }` — so module loading is not timed, everything after is.
 */
import { loadConfig } from '../src/config/index.ts';
import { sinkLogger } from './support.ts';

interface Options {
  url: string;
  env: Record<string, string>;
  queues: string[];
  concurrency?: number;
  batchSize?: number;
}

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const { runWorker } = await import('../jobs/runtime.ts');
const config = loadConfig({}, options.env, process.cwd());
process.send?.({ ready: true });
process.once('message', async (message) => {
  if (message !== 'go') return;
  const result = await runWorker({
    url: options.url,
    config,
    log: sinkLogger('warn'),
    queues: options.queues,
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    once: true,
    drainTimeoutMs: 60_000,
    heartbeatMs: 60_000,
    pollIntervalMs: 200,
    retryHorizonMs: 0,
    signal: new AbortController().signal,
  });
  process.send?.({ processed: result.processed });
  process.disconnect();
});
