/**
 * `sumda subscription …`: one subscriber (show, cancel, resume, change-plan with a prorated upgrade
 * and recorded consent). Thin wrappers over src/billing/operators.ts; every change is role-checked
 * and audited there.
 */
import type { Command } from 'commander';
import { parseInstant } from '../../time/grammar.ts';
import { billingDeps } from '../billing.ts';
import { confirm } from '../confirm.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseUuid } from '../input.ts';

export function registerSubscription(program: Command): void {
  const subscription = program
    .command('subscription')
    .description('one subscriber: status, payments, cancel, resume, change plan');

  examples(
    subscription
      .command('show <user>')
      .description(
        'a subscription (by user id or subscription id): state, card (masked), payments, history, consents',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx, _opts, [who]) => {
          const { showSubscription } = await import('../../billing/operators.ts');
          const shown = await showSubscription(await ctx.db(), parseUuid(who!, 'user'));
          if (ctx.out.json) return ctx.out.data(shown);
          const s = shown.subscription;
          ctx.out.fields([
            ['subscription', s.id],
            ['user', s.user_id],
            ['plan', s.pending_plan ? `${s.plan} (→ ${s.pending_plan} at renewal)` : s.plan],
            ['status', s.status],
            ['next billing', s.next_billing_at],
            ['retry at', s.retry_at],
            ['cancel at', s.cancel_at],
            ['card', s.billing_key],
          ]);
          ctx.out.table(
            ['payment', 'order id', 'kind', 'amount', 'refunded', 'status', 'failure', 'requested'],
            shown.payments.map((p) => [
              p.id,
              p.order_id,
              p.kind,
              p.amount,
              p.refunded_amount,
              p.status,
              p.failure_code,
              p.requested_at,
            ]),
          );
          ctx.out.table(
            ['at', 'event', 'from', 'to'],
            shown.history.map((h) => [h.at, h.event, h.from_status, h.to_status]),
          );
        }),
      ),
    ['sumda subscription show 6f1c…', 'sumda subscription show 6f1c… --json'],
  );

  examples(
    subscription
      .command('cancel <user>')
      .description('cancel at the end of the paid period (default), or --now')
      .requiredOption('--reason <text>', 'why, for the history and the audit trail')
      .option('--now', 'end it immediately (no refund is made; see `billing refund`)')
      .option('--yes', 'confirm without asking')
      .action(
        act<{ reason: string; now?: boolean; yes?: boolean }>(async (ctx, opts, [who]) => {
          if (opts.now)
            await confirm({ yes: Boolean(opts.yes), action: 'cancel this subscription immediately' });
          const { cancelSubscription } = await import('../../billing/operators.ts');
          const r = await cancelSubscription(await ctx.db(), await ctx.operation(), parseUuid(who!, 'user'), {
            immediately: Boolean(opts.now),
            reason: opts.reason,
          });
          ctx.out.success(r.changed ? `${r.id}: ${r.before} → ${r.after}` : `${r.id}: already canceled`);
        }),
      ),
    [
      'sumda subscription cancel 6f1c… --reason "user asked by e-mail"',
      'sumda subscription cancel 6f1c… --now --yes --reason "chargeback"',
    ],
  );

  examples(
    subscription
      .command('resume <user>')
      .description('undo a cancellation scheduled for the period end')
      .requiredOption('--reason <text>', 'why, for the history and the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [who]) => {
          const { resumeSubscription } = await import('../../billing/operators.ts');
          const r = await resumeSubscription(
            await ctx.db(),
            await ctx.operation(),
            parseUuid(who!, 'user'),
            opts.reason,
          );
          ctx.out.success(r.changed ? `${r.id}: cancellation withdrawn` : `${r.id}: nothing was scheduled`);
        }),
      ),
    ['sumda subscription resume 6f1c… --reason "user changed their mind"'],
  );

  examples(
    subscription
      .command('change-plan <user> <plan>')
      .description(
        'upgrade now (the prorated difference is charged, rounded down) or downgrade at the next renewal',
      )
      .requiredOption('--reason <text>', 'why, for the history and the audit trail')
      .option(
        '--consented-at <when>',
        'for an upgrade: when the user agreed to the new price (recorded as consent)',
      )
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ reason: string; consentedAt?: string }>(async (ctx, opts, [who, plan]) => {
          const { changePlan } = await import('../../billing/operators.ts');
          const r = await changePlan(
            await billingDeps(ctx),
            await ctx.operation(),
            parseUuid(who!, 'user'),
            plan!,
            {
              reason: opts.reason,
              consentedAt: opts.consentedAt ? parseInstant(opts.consentedAt, '--consented-at') : undefined,
            },
          );
          if (ctx.out.json) return ctx.out.data(r);
          if (r.outcome === 'unknown') {
            ctx.out.note(
              `the charge ${r.orderId} has no answer yet (${r.code}); run the same command again — it never charges twice`,
            );
            return 1;
          }
          if (r.outcome === 'declined') {
            ctx.out.error(`the card declined the difference (${r.code}); the plan is unchanged`);
            return 1;
          }
          ctx.out.success(
            r.kind === 'downgrade'
              ? `${r.from} → ${r.to} at the next renewal`
              : `${r.from} → ${r.to} now${r.charged > 0 ? `, charged ${r.charged} KRW (${r.orderId})` : ''}`,
          );
        }),
      ),
    [
      'sumda subscription change-plan 6f1c… premium_monthly --consented-at 2026-12-01T10:00+09:00 --reason "in-app upgrade"',
      'sumda subscription change-plan 6f1c… basic_monthly --reason "downgrade request"',
    ],
  );
}
