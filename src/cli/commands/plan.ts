/**
 * `sumda plan …`: the subscription plans on sale (list, create, update, deactivate). Thin wrappers
 * over src/billing/operators.ts; every change is role-checked and audited there.
 */
import type { Command } from 'commander';
import { UsageError } from '../../errors.ts';
import { PLAN_CODE, parseWon } from '../billing.ts';
import { act } from '../context.ts';
import { examples } from '../help.ts';
import { parseIntFlag, parseJson } from '../input.ts';

export function registerPlan(program: Command): void {
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
