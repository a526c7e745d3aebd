/**
 * What the billing command modules (plan.ts, subscription.ts, billing.ts) share: Toss-backed
 * dependencies built from configuration, and the KRW and plan-code inputs.
 */
import { UsageError } from '../errors.ts';
import type { CommandContext } from './context.ts';
import { parseIntFlag } from './input.ts';

export const PLAN_CODE = /^[a-z0-9_-]+$/;

/** A whole-KRW flag value (VAT included), e.g. 9900. */
export function parseWon(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} ${JSON.stringify(text)}: whole KRW, e.g. 9900`);
  return parseIntFlag(text, flag, 0, 100_000_000);
}

/** Billing's dependencies (the keyring opens billing keys; Toss from TOSS_SECRET_KEY / TOSS_API_URL). */
export async function billingDeps(ctx: CommandContext) {
  const { loadCheckedKeyring } = await import('../keys/checks.ts');
  const { createBillingDeps } = await import('../billing/index.ts');
  const { keyring } = await loadCheckedKeyring(ctx.config, ctx.log, await ctx.db());
  return createBillingDeps({
    db: await ctx.db(),
    keyring,
    config: ctx.config,
    log: ctx.log,
    signal: ctx.signal,
  });
}
