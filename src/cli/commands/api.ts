/** `sumda api …`: the API server's request log, per endpoint. */
import type { Command } from 'commander';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerApi(program: Command): void {
  const api = program.command('api').description("the app API's request log (admin.api_logs)");

  examples(
    api
      .command('stats')
      .description('per endpoint: calls, latency p50/p95/p99, 4xx and 5xx rates')
      .option('--since <when>', 'since (date, ISO time or 7d)', '24h')
      .option('--limit <n>', 'at most this many endpoints', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string; limit: string }>(async (ctx, opts) => {
          const { apiStats } = await import('../../logs/views.ts');
          const rows = await apiStats(await ctx.db(), {
            since: parseInstant(opts.since, '--since'),
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          const pct = (r: number) => `${(r * 100).toFixed(2)}%`;
          ctx.out.table(
            ['method', 'endpoint', 'calls', 'p50 ms', 'p95 ms', 'p99 ms', '4xx', '5xx'],
            rows.map((r) => [
              r.method,
              r.endpoint,
              r.calls,
              r.p50,
              r.p95,
              r.p99,
              pct(r.clientErrorRate),
              pct(r.errorRate),
            ]),
          );
        }),
      ),
    ['sumda api stats', 'sumda api stats --since 7d --json'],
  );
}
