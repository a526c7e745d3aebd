/**
 * `sumda billing …`: the renewal machinery — what is due, renewing now, reconciling lost answers,
 * refunds, the numbers. Thin wrappers over src/billing; every mutation is role-checked and audited
 * there.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { billingDeps, parseWon } from '../billing.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseUuid } from '../input.ts';

export function registerBilling(program: Command): void {
  const billing = program
    .command('billing')
    .description('renewals through Toss Payments: due, run, reconcile, refund, stats');

  examples(
    billing
      .command('due')
      .description(
        'subscriptions due for renewal now (trial/active past their date, past_due on a retry day)',
      )
      .option('--limit <n>', 'at most this many', '100')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ limit: string }>(async (ctx, opts) => {
          const { listDue } = await import('../../billing/scan.ts');
          const rows = await listDue(
            await ctx.db(),
            new Date(),
            parseIntFlag(opts.limit, '--limit', 1, 100_000),
          );
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['subscription', 'user', 'plan', 'status', 'due', 'attempt', 'amount', 'open order'],
            rows.map((r) => [
              r.subscription_id,
              r.user_id,
              r.plan,
              r.status,
              r.next_billing_at,
              r.dunning_attempt + 1,
              r.amount,
              r.open_order,
            ]),
          );
        }),
      ),
    ['sumda billing due', 'sumda billing due --json --limit 1000'],
  );

  examples(
    billing
      .command('run')
      .description('renew what is due now, here (the same code the workers run; safe beside them)')
      .option('--dry-run', 'list what would be renewed; charge nothing')
      .option('--limit <n>', 'at most this many subscriptions', '10000')
      .option('--concurrency <n>', 'renewals in flight', '16')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ dryRun?: boolean; limit: string; concurrency: string }>(async (ctx, opts) => {
          const limit = parseIntFlag(opts.limit, '--limit', 1, 1_000_000);
          if (opts.dryRun) {
            const { listDue } = await import('../../billing/scan.ts');
            const rows = await listDue(await ctx.db(), new Date(), limit);
            if (ctx.out.json) return ctx.out.data({ dryRun: true, due: rows });
            ctx.out.table(
              ['subscription', 'plan', 'status', 'due', 'amount (list)'],
              rows.map((r) => [r.subscription_id, r.plan, r.status, r.next_billing_at, r.amount]),
            );
            ctx.out.note(`dry run: ${rows.length} due; nothing was charged`);
            return;
          }
          const deps = await billingDeps(ctx);
          const op = await ctx.operation();
          const { authorize } = await import('../../admins/permissions.ts');
          const { writeAudit } = await import('../../audit/index.ts');
          await authorize(deps.db, op, 'billing.run');
          const { dueSubscriptionIds } = await import('../../billing/scan.ts');
          const due = await dueSubscriptionIds(deps.db, new Date(), { limit });
          await writeAudit(deps.db, op, {
            action: 'billing.run',
            targetType: 'billing',
            after: { due: due.length },
          });
          const { runDueRenewals } = await import('../../billing/operators.ts');
          const bar = ctx.progress('renewals', due.length);
          const result = await runDueRenewals(deps, {
            limit,
            concurrency: parseIntFlag(opts.concurrency, '--concurrency', 1, 256),
            onDone: () => bar.tick(),
          });
          bar.done();
          const counts: Record<string, number> = {};
          for (const r of result.results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
          if (ctx.out.json)
            return ctx.out.data({ due: result.due, outcomes: counts, results: result.results });
          ctx.out.table(['outcome', 'subscriptions'], Object.entries(counts));
          if (counts.unknown)
            ctx.out.note('outcome unknown: settled later by `sumda billing reconcile` (never charged twice)');
        }),
      ),
    ['sumda billing run --dry-run', 'sumda billing run --concurrency 32'],
  );

  examples(
    billing
      .command('reconcile')
      .description('look up payments pending too long by order id and settle them (never charges)')
      .option(
        '--older-than <seconds>',
        'pending at least this long (default SUMDA_BILLING_RECONCILE_AFTER_S)',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ olderThan?: string }>(async (ctx, opts) => {
          const deps = await billingDeps(ctx);
          const op = await ctx.operation();
          const { authorize } = await import('../../admins/permissions.ts');
          const { writeAudit } = await import('../../audit/index.ts');
          await authorize(deps.db, op, 'billing.reconcile');
          const { reconcilePending } = await import('../../billing/scan.ts');
          const result = await reconcilePending(deps, {
            olderThanSeconds:
              opts.olderThan === undefined
                ? undefined
                : parseIntFlag(opts.olderThan, '--older-than', 0, 86_400 * 30),
          });
          await writeAudit(deps.db, op, {
            action: 'billing.reconcile',
            targetType: 'billing',
            after: result,
          });
          if (ctx.out.json) return ctx.out.data(result);
          ctx.out.fields(Object.entries(result).map(([k, v]) => [k, v]));
        }),
      ),
    ['sumda billing reconcile', 'sumda billing reconcile --older-than 0 --json'],
  );

  examples(
    billing
      .command('refund <payment>')
      .description(
        'refund a payment through Toss (all of it, or --amount KRW); replaying the same refund refunds once',
      )
      .option('--amount <krw>', 'partial refund in whole KRW')
      .requiredOption('--reason <text>', 'the cancel reason sent to Toss (≤ 200 characters) and audited')
      .option('--yes', 'confirm without asking')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ amount?: string; reason: string; yes?: boolean }>(async (ctx, opts, [payment]) => {
          if (opts.reason.length > 200) throw new UsageError('--reason: at most 200 characters');
          const id = parseUuid(payment!, 'payment');
          const amount = opts.amount === undefined ? undefined : parseWon(opts.amount, '--amount');
          await confirm({
            yes: Boolean(opts.yes),
            action: `refund ${amount === undefined ? 'all of' : `${amount} KRW of`} payment ${id}`,
          });
          const { refundPayment } = await import('../../billing/operators.ts');
          const r = await refundPayment(await billingDeps(ctx), await ctx.operation(), id, {
            amount,
            reason: opts.reason,
          });
          if (ctx.out.json) return ctx.out.data(r);
          ctx.out.success(
            r.replayed
              ? `${r.orderId}: this refund was already made (refunded ${r.refundedTotal} KRW in total)`
              : `${r.orderId}: refunded ${r.refunded} KRW (${r.status}, ${r.refundedTotal} KRW in total)`,
          );
        }),
      ),
    [
      'sumda billing refund 2b7c… --reason "중복 결제 환불" --yes',
      'sumda billing refund 2b7c… --amount 4950 --reason "부분 환불" --yes',
    ],
  );

  examples(
    billing
      .command('stats')
      .description('revenue by plan, renewal success rate, failure codes, dunning recoveries, churn')
      .option('--since <when>', 'from (date, ISO time, or 30d for 30 days ago)', '30d')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ since: string }>(async (ctx, opts) => {
          const { billingStats } = await import('../../billing/operators.ts');
          const stats = await billingStats(await ctx.db(), parseInstant(opts.since, '--since'));
          if (ctx.out.json) return ctx.out.data(stats);
          ctx.out.table(
            ['plan', 'payments', 'revenue (KRW)', 'refunded (KRW)'],
            stats.revenueByPlan.map((r) => [r.plan, r.payments, r.revenue, r.refunded]),
          );
          const r = stats.renewals;
          ctx.out.fields([
            ['renewal attempts', r.attempts],
            ['approved', r.approved],
            ['failed', r.failed],
            ['pending', r.pending],
            ['success rate', r.successRate === null ? '-' : `${r.successRate}%`],
            ['dunning recoveries', stats.dunningRecoveries],
          ]);
          if (stats.failureCodes.length > 0)
            ctx.out.table(
              ['failure code', 'payments'],
              stats.failureCodes.map((f) => [f.code, f.n]),
            );
          if (stats.churn.length > 0)
            ctx.out.table(
              ['canceled because', 'subscriptions'],
              stats.churn.map((c) => [c.reason, c.n]),
            );
        }),
      ),
    ['sumda billing stats', 'sumda billing stats --since 2026-11-01 --json'],
  );
}
