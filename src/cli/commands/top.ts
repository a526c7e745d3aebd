/** `sumda top`: a live view of the queues for people without Grafana; `--json` streams NDJSON snapshots. */
import type { Command } from 'commander';
import { parseDuration } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerTop(program: Command): void {
  examples(
    program
      .command('top')
      .description('live view of the queues: depth, rate, failures, oldest waiting job, dead letters')
      .option('--interval <duration>', 'time between snapshots', '2s')
      .option('--count <n>', 'stop after this many snapshots (default: until Ctrl-C)')
      .option('--json', 'one NDJSON snapshot per interval on stdout')
      .action(
        act<{ interval: string; count?: string }>(async (ctx, opts) => {
          const intervalMs = parseDuration(opts.interval, '--interval');
          const count = opts.count ? parseIntFlag(opts.count, '--count', 1, 1_000_000) : undefined;
          const { topSnapshot } = await import('../../queue/top.ts');
          const db = await ctx.db();
          const live = process.stdout.isTTY && !ctx.out.json;
          for (let n = 0; count === undefined || n < count; n++) {
            if (ctx.signal.aborted) break;
            const snap = await topSnapshot(db);
            if (ctx.out.json) ctx.out.record(snap);
            else {
              // On a terminal, redraw in place; piped, print one table per snapshot.
              if (live) process.stdout.write('\x1b[H\x1b[2J');
              ctx.out.line(
                `sumda top — ${snap.at}${snap.countersAgeSeconds === null ? ' (no worker has refreshed the counters yet)' : ` (counters ${snap.countersAgeSeconds}s old)`}`,
              );
              ctx.out.table(
                ['queue', 'ready', 'deferred', 'active', 'oldest', 'done/min', 'failed/min', 'dead'],
                snap.queues.map((q) => [
                  q.queue,
                  q.ready,
                  q.deferred,
                  q.active,
                  q.oldestSeconds > 0 ? `${q.oldestSeconds}s` : '-',
                  q.completedPerMin,
                  q.failedPerMin,
                  q.dead,
                ]),
                // Redrawn in place: one table, however narrow the terminal.
                { records: false },
              );
            }
            if (count !== undefined && n + 1 >= count) break;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, intervalMs);
              ctx.signal.addEventListener(
                'abort',
                () => {
                  clearTimeout(timer);
                  resolve();
                },
                { once: true },
              );
            });
          }
          return 0;
        }),
      ),
    ['sumda top', 'sumda top --interval 5s', 'sumda top --json --count 1 | jq .queues'],
  );
}
