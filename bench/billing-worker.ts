/**
 * One worker process of the billing benchmark's multi-process runs (bench/billing.ts): forked with
 * its database URL and environment as JSON in argv[2]. It loads the engine, sends
 * `{ ready: true }`, runs the worker daemon over the billing queues (bench/billing-run.ts) from `'go'`
 * until `'stop'`, and sends back `{ renewed }` — so module loading is not timed, everything after is.
 */
import { loadConfig } from '../src/config/index.ts';
import { runRenewals } from './billing-run.ts';

const options = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  env: Record<string, string>;
};
const config = loadConfig({}, options.env, process.cwd());
process.send?.({ ready: true });
const stop = new AbortController();
process.on('message', async (message) => {
  if (message === 'stop') stop.abort();
  if (message !== 'go') return;
  process.send?.({ renewed: await runRenewals(options.url, config, stop.signal) });
  process.disconnect();
});
