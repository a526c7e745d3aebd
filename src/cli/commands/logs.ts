/** `sumda logs …`: retention of the API, login and error logs. */
import type { Command } from 'commander';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag } from '../input.ts';

export function registerLogs(program: Command): void {
  const logs = program.command('logs').description('log tables: retention of API, login and error logs');

  examples(
    logs
      .command('retention')
      .description(
        'delete API, login and error log rows past their retention (SUMDA_RETENTION_*_DAYS): enqueue the run, or --inline',
      )
      .option('--dry-run', 'count what would be deleted per table; delete nothing')
      .option('--inline', 'delete here, batch by batch, instead of enqueueing the logs.retention job')
      .option('--batch-size <n>', 'rows per transaction', '5000')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ dryRun?: boolean; inline?: boolean; batchSize: string }>(async (ctx, opts) => {
          const { retentionPlan, runRetentionInline, startRetention } = await import(
            '../../logs/retention.ts'
          );
          const batchSize = parseIntFlag(opts.batchSize, '--batch-size', 1, 50_000);
          const db = await ctx.db();
          const plan = await retentionPlan(db, ctx.config);
          if (opts.dryRun) {
            if (ctx.out.json) return ctx.out.data({ dryRun: true, plan });
            ctx.out.table(
              ['table', 'keep days', 'cutoff', 'would delete', 'rows'],
              plan.map((p) => [`admin.${p.table}`, p.days, p.cutoff, p.expired, p.total]),
            );
            return;
          }
          const op = await ctx.operation();
          if (opts.inline) {
            const bar = ctx.progress(
              'rows',
              plan.reduce((n, p) => n + p.expired, 0),
            );
            const deleted = await runRetentionInline(db, op, ctx.config, {
              batchSize,
              signal: ctx.signal,
              onBatch: (n) => bar.set(n),
            });
            bar.done();
            if (ctx.out.json) return ctx.out.data({ deleted });
            return ctx.out.success(
              `deleted ${deleted.api_logs} API log rows and ${deleted.login_logs} login log rows`,
            );
          }
          const { createBoss } = await import('../../queue/boss.ts');
          const boss = createBoss(await ctx.databaseUrl(), { log: ctx.log });
          await boss.start();
          ctx.onCleanup(() => boss.stop({ graceful: false, close: true }));
          const jobId = await startRetention(db, boss, op, plan, { batchSize });
          if (ctx.out.json) return ctx.out.data({ job: jobId, plan });
          ctx.out.success(
            jobId
              ? `retention run enqueued (job ${jobId}): ${plan.map((p) => `${p.table} ${p.expired}`).join(', ')} rows to delete`
              : 'a retention run is already queued; nothing enqueued',
          );
        }),
      ),
    [
      'sumda logs retention --dry-run',
      'sumda logs retention',
      'sumda logs retention --inline --batch-size 2000',
    ],
  );
}
