/** `sumda queues …`: the catalog of queues, and pausing / resuming one (workers notice within ~3 s). */
import type { Command } from 'commander';
import { formatDuration } from '../../time/grammar.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';

export function registerQueues(program: Command): void {
  const queues = program.command('queues').description('the job queues: their settings, pause and resume');

  examples(
    queues
      .command('list')
      .description(
        'every queue of the catalog: policy, retries, expiry, dead letter, schedule, worker defaults, pause',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { listQueues } = await import('../../jobadmin/queues.ts');
          const rows = await listQueues(await ctx.db());
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            [
              'queue',
              'policy',
              'retries',
              'expiry',
              'dead letter',
              'schedule',
              'batch × conc.',
              'paused',
              'description',
            ],
            rows.map((q) => [
              q.name,
              q.policy,
              `${q.retryLimit} × ${q.retryDelaySeconds}s${q.retryBackoff ? ' backoff' : ''}`,
              formatDuration(q.expireInSeconds * 1000),
              q.deadLetter,
              q.schedule,
              `${q.batchSize} × ${q.concurrency}`,
              q.paused ? `by ${q.paused.by ?? '?'}: ${q.paused.reason}` : '',
              q.description,
            ]),
          );
        }),
      ),
    ['sumda queues list', "sumda queues list --json | jq '.[] | select(.paused)'"],
  );

  examples(
    queues
      .command('pause <queue>')
      .description('stop workers fetching from a queue (jobs in flight finish; new jobs wait)')
      .requiredOption('--reason <text>', 'why, for the audit trail and `queues list`')
      .option('--dry-run', 'say what would change; change nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ reason: string }>(async (ctx, opts, [queue]) => {
          const { listQueues, pauseQueue, requireWorkedQueue } = await import('../../jobadmin/queues.ts');
          const db = await ctx.db();
          if (opts.dryRun) {
            requireWorkedQueue(queue!);
            const current = (await listQueues(db)).find((q) => q.name === queue)!;
            const message = current.paused
              ? `${queue} is already paused (by ${current.paused.by ?? '?'}: ${current.paused.reason}); nothing would change`
              : `would pause ${queue}; nothing was changed (--dry-run)`;
            return ctx.out.json
              ? ctx.out.data({ queue, dryRun: true, paused: current.paused })
              : ctx.out.line(message);
          }
          const result = await pauseQueue(db, await ctx.operation(), queue!, opts.reason);
          if (ctx.out.json) return ctx.out.data(result);
          if (result.changed)
            ctx.out.success(`${queue} paused; workers stop fetching from it within a few seconds`);
          else
            ctx.out.line(
              `${queue} was already paused (since ${result.paused!.at.toISOString()} by ${result.paused!.by ?? '?'}: ${result.paused!.reason})`,
            );
        }),
      ),
    [
      'sumda queues pause analysis.run --reason "OpenAI incident, see #ops-912"',
      'sumda queues pause keys.reencrypt --reason "disk pressure" --dry-run',
    ],
  );

  examples(
    queues
      .command('resume <queue>')
      .description('let workers fetch from a paused queue again')
      .option('--reason <text>', 'why, for the audit trail')
      .option('--dry-run', 'say what would change; change nothing')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ reason?: string }>(async (ctx, opts, [queue]) => {
          const { listQueues, requireWorkedQueue, resumeQueue } = await import('../../jobadmin/queues.ts');
          const db = await ctx.db();
          if (opts.dryRun) {
            requireWorkedQueue(queue!);
            const current = (await listQueues(db)).find((q) => q.name === queue)!;
            const message = current.paused
              ? `would resume ${queue}; nothing was changed (--dry-run)`
              : `${queue} is not paused; nothing would change`;
            return ctx.out.json
              ? ctx.out.data({ queue, dryRun: true, paused: current.paused })
              : ctx.out.line(message);
          }
          const result = await resumeQueue(db, await ctx.operation(), queue!, opts.reason ?? null);
          if (ctx.out.json) return ctx.out.data(result);
          if (result.changed)
            ctx.out.success(`${queue} resumed; workers fetch from it again within a few seconds`);
          else ctx.out.line(`${queue} was not paused`);
        }),
      ),
    ['sumda queues resume analysis.run', 'sumda queues resume analysis.run --reason "incident closed"'],
  );
}
