/** `sumda worker`: the long-lived job runner (any number of them, on any number of machines). */
import type { Command } from 'commander';
import { ExitCode } from '../../errors.ts';
import { parseDuration } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerWorker(program: Command): void {
  examples(
    program
      .command('worker')
      .description('run queued jobs: analysis, slip checks and releases, key rotation, housekeeping')
      .option('--queues <names>', 'comma-separated queues to work (default: all)')
      .option('--concurrency <n>', 'jobs in flight per queue (default: per queue, e.g. 32 for analysis.run)')
      .option('--batch-size <n>', 'jobs per handler call (default: per queue)')
      .option('--once', 'drain what is due (one tick of every schedule first), then exit')
      .option(
        '--retry-horizon <duration>',
        'with --once: wait for retries due within this long (0 = never wait); later ones are reported',
        '60s',
      )
      .option('--drain-timeout <duration>', 'on SIGTERM, how long in-flight jobs may take to finish', '30s')
      .option('--heartbeat <duration>', 'interval of the heartbeat log line', '30s')
      .option('--poll-interval <duration>', 'how often an idle queue is checked', '1s')
      .option(
        '--metrics-port <port>',
        'serve /metrics, /healthz and /readyz on this port (env SUMDA_METRICS_PORT)',
      )
      .option('--metrics-host <host>', 'address the metrics port listens on', '0.0.0.0')
      .option('--db-pool <n>', 'connections in each of the two pools (env SUMDA_DB_POOL_SIZE, default 10)')
      .option('--json', 'with --once: print what was processed as JSON')
      .action(
        act<{
          queues?: string;
          concurrency?: string;
          batchSize?: string;
          once?: boolean;
          drainTimeout: string;
          heartbeat: string;
          pollInterval: string;
          retryHorizon: string;
          metricsPort?: string;
          metricsHost: string;
          dbPool?: string;
        }>(async (ctx, opts) => {
          const { runJobRuntime } = await import('../runtime.ts');
          const result = await runJobRuntime({
            // The worker's own login when configured (its schema check happens in the runtime).
            url: ctx.config.workerDatabaseUrl ?? (await ctx.databaseUrl()),
            config: ctx.config,
            log: ctx.log,
            queues: opts.queues
              ?.split(',')
              .map((q) => q.trim())
              .filter(Boolean),
            concurrency: opts.concurrency
              ? parseIntFlag(opts.concurrency, '--concurrency', 1, 1000)
              : undefined,
            batchSize: opts.batchSize ? parseIntFlag(opts.batchSize, '--batch-size', 1, 1000) : undefined,
            once: Boolean(opts.once),
            drainTimeoutMs: parseDuration(opts.drainTimeout, '--drain-timeout'),
            heartbeatMs: parseDuration(opts.heartbeat, '--heartbeat'),
            pollIntervalMs: parseDuration(opts.pollInterval, '--poll-interval'),
            retryHorizonMs:
              opts.retryHorizon === '0' ? 0 : parseDuration(opts.retryHorizon, '--retry-horizon'),
            metricsPort: opts.metricsPort
              ? parseIntFlag(opts.metricsPort, '--metrics-port', 0, 65_535)
              : ctx.config.worker.metricsPort,
            metricsHost: opts.metricsHost,
            poolSize: opts.dbPool
              ? parseIntFlag(opts.dbPool, '--db-pool', 2, 100)
              : ctx.config.worker.poolSize,
            signal: ctx.signal,
          });
          if (opts.once) {
            if (ctx.out.json) ctx.out.data(result);
            else {
              ctx.out.table(
                ['queue', 'completed', 'failed'],
                Object.entries(result.processed).map(([queue, n]) => [queue, n.completed, n.failed]),
              );
            }
            if (result.left) {
              ctx.out.note(
                `${result.left.waiting} job(s) still wait for a later start (next at ${result.left.nextAt}); run again after that`,
              );
            }
          }
          if (!result.drained) return ExitCode.failure;
          return result.interrupted ? ExitCode.interrupted : ExitCode.ok;
        }),
      ),
    [
      'sumda worker',
      'sumda worker --queues analysis.run --concurrency 64',
      'sumda worker --metrics-port 9464   # Prometheus scrapes :9464/metrics; probes on /healthz, /readyz',
      'sumda worker --once   # drain what is due and exit (demo, cron, tests)',
      'sumda worker --once --retry-horizon 0 --json   # do not wait for retries; say how many are left',
    ],
  );
}
