/**
 * `sumda plan …`, `sumda subscription …`, `sumda billing …`: the catalogue, one subscriber, and the
 * renewal machinery (what is due, renewing now, reconciling, refunds, the numbers). Thin wrappers
 * over src/billing; every mutation is role-checked and audited there.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { parseInstant } from '../../time/grammar.ts';
import { confirm } from '../confirm.ts';
import type { CommandContext } from '../context.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseJson, parseUuid } from '../input.ts';

const PLAN_CODE = /^[a-z0-9_-]+$/;

function parseWon(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} ${JSON.stringify(text)}: whole KRW, e.g. 9900`);
  return parseIntFlag(text, flag, 0, 100_000_000);
}

async function billingDeps(ctx: CommandContext) {
  const { loadCheckedKeyring } = await import('../../keys/checks.ts');
  const { createBillingDeps } = await import('../../billing/index.ts');
  const { keyring } = await loadCheckedKeyring(ctx.config, ctx.log, await ctx.db());
  return createBillingDeps({
    db: await ctx.db(),
    keyring,
    config: ctx.config,
    log: ctx.log,
    signal: ctx.signal,
  });
}

function registerPlan(program: Command): void {
  const plan = program
    .command('plan')
    .description('subscription plans: the catalogue on sale (prices in KRW, VAT included)');

  examples(
    plan
      .command('list')
      .description('every plan with its price, interval, trial and live subscribers')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act(async (ctx) => {
          const { listPlans } = await import('../../billing/operators.ts');
          const rows = await listPlans(await ctx.db());
          if (ctx.out.json) return ctx.out.data(rows);
          ctx.out.table(
            ['code', 'name', 'price (KRW)', 'interval', 'trial days', 'on sale', 'subscribers'],
            rows.map((r) => [
              r.code,
              r.name,
              r.price,
              r.billing_interval,
              r.trial_days,
              r.is_active ? 'yes' : 'no',
              r.subscribers,
            ]),
          );
        }),
      ),
    ['sumda plan list', 'sumda plan list --json'],
  );

  examples(
    plan
      .command('create <code>')
      .description('put a new plan on sale')
      .requiredOption('--name <text>', 'the name users see, in Korean')
      .requiredOption('--price <krw>', 'price per interval in whole KRW, VAT included')
      .option('--interval <month|year>', 'billing interval', 'month')
      .option('--trial-days <n>', 'free trial days', '0')
      .option('--features <json>', 'feature flags as a JSON object', '{}')
      .action(
        act<{ name: string; price: string; interval: string; trialDays: string; features: string }>(
          async (ctx, opts, [code]) => {
            if (!PLAN_CODE.test(code!))
              throw new UsageError(`plan code ${JSON.stringify(code)}: use a-z, 0-9, _ and -`);
            if (opts.interval !== 'month' && opts.interval !== 'year')
              throw new UsageError('--interval: month or year');
            const features = parseJson(opts.features, '--features');
            if (!features || typeof features !== 'object' || Array.isArray(features))
              throw new UsageError('--features must be a JSON object');
            const { createPlan } = await import('../../billing/operators.ts');
            const row = await createPlan(await ctx.db(), await ctx.operation(), {
              code: code!,
              name: opts.name,
              price: parseWon(opts.price, '--price'),
              interval: opts.interval,
              trialDays: parseIntFlag(opts.trialDays, '--trial-days', 0, 365),
              features: features as Record<string, unknown>,
            });
            if (ctx.out.json) return ctx.out.data(row);
            ctx.out.success(`plan ${row.code} created: ${row.price} KRW per ${row.billing_interval}`);
          },
        ),
      ),
    ['sumda plan create premium_monthly --name "숨다 프리미엄 (월간)" --price 14900 --trial-days 7'],
  );

  examples(
    plan
      .command('update <code>')
      .description(
        "rename, reprice or change the trial of a plan (a higher price needs each subscriber's consent before it is charged)",
      )
      .option('--name <text>', 'new name')
      .option('--price <krw>', 'new price in whole KRW')
      .option('--trial-days <n>', 'new trial length')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .option('--json', 'machine-readable result on stdout')
      .action(
        act<{ name?: string; price?: string; trialDays?: string; reason: string }>(
          async (ctx, opts, [code]) => {
            if (opts.name === undefined && opts.price === undefined && opts.trialDays === undefined) {
              throw new UsageError('nothing to change: pass --name, --price or --trial-days');
            }
            const { updatePlan } = await import('../../billing/operators.ts');
            const { before, after } = await updatePlan(
              await ctx.db(),
              await ctx.operation(),
              code!,
              {
                name: opts.name,
                price: opts.price === undefined ? undefined : parseWon(opts.price, '--price'),
                trialDays:
                  opts.trialDays === undefined
                    ? undefined
                    : parseIntFlag(opts.trialDays, '--trial-days', 0, 365),
              },
              opts.reason,
            );
            if (ctx.out.json) return ctx.out.data({ before, after });
            ctx.out.success(`plan ${code} updated`);
            if (after.price > before.price) {
              ctx.out.note(
                'existing subscribers keep paying the old price until they consent to the new one (전자상거래법 13조 6항)',
              );
            }
          },
        ),
      ),
    ['sumda plan update basic_monthly --price 10900 --reason "2027 price"'],
  );

  examples(
    plan
      .command('deactivate <code>')
      .description('take a plan off sale (existing subscriptions keep renewing on it)')
      .requiredOption('--reason <text>', 'why, for the audit trail')
      .action(
        act<{ reason: string }>(async (ctx, opts, [code]) => {
          const { updatePlan } = await import('../../billing/operators.ts');
          await updatePlan(await ctx.db(), await ctx.operation(), code!, { active: false }, opts.reason);
          ctx.out.success(`plan ${code} is off sale`);
        }),
      ),
    ['sumda plan deactivate premium_yearly --reason "replaced by premium_yearly_2027"'],
  );
}

function registerSubscription(program: Command): void {
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

function registerBilling(program: Command): void {
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

export function registerBillingCommands(program: Command): void {
  registerPlan(program);
  registerSubscription(program);
  registerBilling(program);
}
