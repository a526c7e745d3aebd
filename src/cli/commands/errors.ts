/** `sumda errors …`: admin.error_logs, newest first, and counts per service and severity. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

const SERVICES = [
  'api',
  'worker',
  'batch',
  'analysis',
  'slip',
  'report',
  'billing',
  'event',
  'payment',
  'diary',
  'user',
  'admin',
  'login',
  'support',
];
const SEVERITIES = ['debug', 'info', 'warn', 'error', 'fatal'];

export function registerErrors(program: Command): void {
  const errors = program.command('errors').description('the error log of every service');

  examples(
    errors
      .command('list')
      .description('errors, newest first (messages only; no stacks)')
      .option('--service <name>', `one of ${SERVICES.join(', ')}`)
      .option('--severity <level>', SEVERITIES.join(' | '))
      .option('--since <when>', 'since (date, ISO time or 7d)', '24h')
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ service?: string; severity?: string; since: string; limit: string }>(async (ctx, opts) => {
          if (opts.service && !SERVICES.includes(opts.service))
            throw new UsageError(`--service ${opts.service}: one of ${SERVICES.join(', ')}`);
          if (opts.severity && !SEVERITIES.includes(opts.severity))
            throw new UsageError(`--severity ${opts.severity}: one of ${SEVERITIES.join(', ')}`);
          const { listErrors } = await import('../../logs/views.ts');
          const rows = await listErrors(await ctx.db(), {
            since: parseInstant(opts.since, '--since'),
            ...(opts.service ? { service: opts.service } : {}),
            ...(opts.severity ? { severity: opts.severity } : {}),
            limit: parseIntFlag(opts.limit, '--limit', 1, 10_000),
          });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['id', 'at', 'severity', 'service', 'ref', 'message'],
            rows.map((r) => [r.id, r.created_at, r.severity, r.service, r.ref_id, r.message.slice(0, 100)]),
          );
        }),
      ),
    ['sumda errors list --service billing --since 7d', 'sumda errors list --severity fatal --json'],
  );

  examples(
    errors
      .command('stats')
      .description('errors per service and severity, with the most frequent message')
      .option('--since <when>', 'since (date, ISO time or 7d)', '7d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { errorStats } = await import('../../logs/views.ts');
          const rows = await errorStats(await ctx.db(), { since: parseInstant(opts.since, '--since') });
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['service', 'severity', 'errors', 'first', 'last', 'most frequent', '×'],
            rows.map((r) => [
              r.service,
              r.severity,
              r.errors,
              r.first,
              r.last,
              r.top_message.slice(0, 80),
              r.top_count,
            ]),
          );
        }),
      ),
    ['sumda errors stats', 'sumda errors stats --since 2026-11-01 --json'],
  );
}
