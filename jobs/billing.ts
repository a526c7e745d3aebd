/**
 * Billing jobs: the scan (every five minutes: renewal notices, then one renewal job per due
 * subscription, in chained batches whose successor is enqueued in the batch's own transaction),
 * the renewal itself (exactly once per period, see src/billing/renewal.ts) and the reconciler.
 */

import { createBillingDeps } from '../src/billing/index.ts';
import type { BillingDeps } from '../src/billing/renewal.ts';
import { type RenewalResult, renewSubscriptions } from '../src/billing/renewal.ts';
import { dueSubscriptionIds, reconcilePending, sendRenewalNotices } from '../src/billing/scan.ts';
import { enqueue, enqueueMany } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { createGate, type Gate } from '../src/util/gate.ts';
import { defineHandler, type JobContext } from './context.ts';

/** Due subscriptions enqueued per scan job; more chain a successor. */
export const SCAN_BATCH = 1000;

function billingDeps(ctx: JobContext, signal?: AbortSignal, gate?: Gate): BillingDeps {
  const deps = createBillingDeps({
    db: ctx.db,
    keyring: ctx.keyring,
    config: ctx.config,
    log: ctx.log,
    signal,
    gate,
  });
  return ctx.instrumentToss ? { ...deps, toss: ctx.instrumentToss(deps.toss) } : deps;
}

/** Without a Toss key the scheduled billing jobs do nothing (and say so) rather than fail every tick. */
function unconfigured(ctx: JobContext, jobs: { id: string }[]): JobOutcome[] | undefined {
  if (ctx.config.billing.tossSecretKey) return undefined;
  ctx.log.info('TOSS_SECRET_KEY is not set: billing jobs skip (no renewals, no reconciliation)');
  return jobs.map((j) => ({
    id: j.id,
    status: 'completed',
    output: { skipped: 'TOSS_SECRET_KEY is not set' },
  }));
}

export const billingScan = defineHandler(QUEUES.billingScan, (ctx) => async (jobs) => {
  const skipped = unconfigured(ctx, jobs);
  if (skipped) return skipped;
  const outcomes: JobOutcome[] = [];
  for (const job of jobs) {
    const { data } = job;
    const now = new Date();
    const notices = data.after ? 0 : await sendRenewalNotices(ctx.db, ctx.config.billing, now);
    const ids = await dueSubscriptionIds(ctx.db, now, { after: data.after ?? null, limit: SCAN_BATCH });
    const enqueued = await ctx.db.transaction().execute(async (trx) => {
      const n = await enqueueMany(
        ctx.boss,
        'billingRenew',
        ids.map((subscriptionId) => ({
          payload: { subscriptionId, requestId: data.requestId },
          singletonKey: subscriptionId,
        })),
        { trx },
      );
      if (ids.length === SCAN_BATCH) {
        await enqueue(ctx.boss, 'billingScan', { after: ids.at(-1), requestId: data.requestId }, { trx });
      }
      return n;
    });
    ctx.log.info(
      { queue: QUEUES.billingScan.name, due: ids.length, enqueued, notices },
      'billing scan batch',
    );
    outcomes.push({
      id: job.id,
      status: 'completed',
      output: { due: ids.length, enqueued, notices, more: ids.length === SCAN_BATCH },
    });
  }
  return outcomes;
});

export const billingRenew = defineHandler(QUEUES.billingRenew, (ctx) => {
  // One gate per worker process (the handler is made once per pump): however many renewals it
  // holds, at most TOSS_MAX_IN_FLIGHT of them talk to Toss at a time.
  const gate = createGate(ctx.config.billing.tossMaxInFlight);
  return async (jobs, signal) => renew(billingDeps(ctx, signal, gate), jobs);
});

async function renew(
  deps: BillingDeps,
  jobs: { id: string; data: { subscriptionId: string } }[],
): Promise<JobOutcome[]> {
  // The batch shares its round trips (one transaction opens every pending payment, one statement
  // settles every approval); each job still gets its own subscription's outcome.
  let results: Map<string, RenewalResult | Error>;
  try {
    results = await renewSubscriptions(
      deps,
      jobs.map((j) => j.data.subscriptionId),
    );
  } catch (error) {
    return jobs.map(({ id }) => ({ id, status: 'retry' as const, error: error as Error }));
  }
  return jobs.map(({ id, data }): JobOutcome => {
    const result = results.get(data.subscriptionId);
    if (result instanceof Error) return { id, status: 'retry', error: result };
    return {
      id,
      status: 'completed',
      output: result ?? { subscriptionId: data.subscriptionId, outcome: 'busy' },
    };
  });
}

export const billingReconcile = defineHandler(QUEUES.billingReconcile, (ctx) => async (jobs, signal) => {
  const skipped = unconfigured(ctx, jobs);
  if (skipped) return skipped;
  const result = await reconcilePending(billingDeps(ctx, signal));
  if (result.checked > 0) ctx.log.info({ ...result }, 'billing reconcile');
  return jobs.map((j) => ({ id: j.id, status: 'completed' as const, output: { ...result } }));
});
