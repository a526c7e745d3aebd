/**
 * Billing's Prometheus metrics: renewal outcomes, charges sent to Toss and what came back, dunning
 * steps, reconciler results and Toss latency. Everything is read from what the billing jobs already
 * return (a renewal's `RenewalResult`, the reconciler's `ReconcileResult`) and from a wrapper around
 * the Toss client, so billing itself carries no metrics code.
 *
 * Labels are closed sets fixed here (an outcome billing adds later is counted as `other` until it is
 * listed): never a subscription, user, order or payment id, a Toss code or message, an amount, or
 * anything of a card or billing key.
 */
import { type Counter, Histogram, type Registry } from 'prom-client';
import type { RenewalOutcome } from '../billing/renewal.ts';
import type { TossClient, TossErrorClass, TossResult } from '../billing/toss.ts';
import { counterIn } from './families.ts';

const RENEWAL_OUTCOMES: readonly RenewalOutcome[] = [
  'approved',
  'unknown',
  'temporary',
  'soft_decline',
  'hard_decline',
  'config',
  'canceled',
  'free_renewal',
  'not_due',
  'busy',
];
const TOSS_RESULTS: readonly ('ok' | TossErrorClass)[] = [
  'ok',
  'unknown',
  'temporary',
  'soft_decline',
  'hard_decline',
  'config',
];
const RECONCILE_RESULTS = {
  approved: 'approved',
  notFound: 'not_found',
  stillUnknown: 'still_unknown',
  failed: 'failed',
} as const;

export interface BillingMetrics {
  readonly renewals: Counter<'outcome'>;
  readonly charges: Counter<'result'>;
  readonly dunning: Counter<'step'>;
  readonly reconciled: Counter<'result'>;
  readonly tossDuration: Histogram<'operation' | 'result'>;
  /** Wraps a Toss client so every call's latency is observed by operation and result class. */
  instrumentToss(toss: TossClient): TossClient;
  /** Reads a settled billing job's output; other queues and skipped runs are ignored. */
  observeOutput(queue: string, output: unknown): void;
}

/** What a charge that reached Toss came to, from the renewal's outcome. */
function chargeResult(outcome: string): 'approved' | 'failed' | 'unknown' {
  if (outcome === 'approved') return 'approved';
  // `busy`: another writer settled the payment first; this worker cannot say how.
  if (outcome === 'unknown' || outcome === 'busy') return 'unknown';
  return 'failed';
}

/** The dunning step a renewal took, if any (see applyFailure in billing/renewal.ts). */
function dunningStep(outcome: string, posted: boolean): string | undefined {
  if (outcome === 'soft_decline') return 'retry_scheduled';
  if (outcome === 'hard_decline') return 'card_required';
  // Canceled right after a charge: the last dunning attempt failed.
  if (outcome === 'canceled' && posted) return 'canceled';
  return undefined;
}

export function createBillingMetrics(registry: Registry): BillingMetrics {
  const counter = counterIn(registry);
  const renewals = counter(
    'sumda_billing_renewals_total',
    'Renewal jobs by outcome (approved, unknown, temporary, soft_decline, hard_decline, config, canceled, free_renewal, not_due, busy)',
    ['outcome'],
  );
  const charges = counter(
    'sumda_billing_charges_total',
    'Renewal charges sent to Toss (attempted), by what came back: approved, failed, unknown (looked up later)',
    ['result'],
  );
  const dunning = counter(
    'sumda_billing_dunning_total',
    'Dunning steps: retry_scheduled (soft decline), card_required (hard decline), canceled (dunning exhausted)',
    ['step'],
  );
  const reconciled = counter(
    'sumda_billing_reconciled_total',
    'Pending payments the reconciler looked up, by result (approved, not_found, still_unknown, failed)',
    ['result'],
  );
  const tossDuration = new Histogram({
    name: 'sumda_toss_request_duration_seconds',
    help: 'Toss Payments API calls by operation (charge, lookup, cancel) and result (ok or the error class)',
    labelNames: ['operation', 'result'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  for (const outcome of RENEWAL_OUTCOMES) renewals.inc({ outcome }, 0);
  for (const result of ['approved', 'failed', 'unknown']) charges.inc({ result }, 0);
  for (const result of Object.values(RECONCILE_RESULTS)) reconciled.inc({ result }, 0);

  const timed = async <T>(
    operation: 'charge' | 'lookup' | 'cancel',
    call: () => Promise<TossResult<T>>,
  ): Promise<TossResult<T>> => {
    const stop = tossDuration.startTimer({ operation });
    let result: TossResult<T> | undefined;
    try {
      result = await call();
      return result;
    } finally {
      // `error`: the client threw (it returns its failures as values, so this is our bug).
      const cls = result === undefined ? 'error' : result.ok ? 'ok' : result.class;
      stop({ result: TOSS_RESULTS.includes(cls as never) ? cls : 'error' });
    }
  };

  return {
    renewals,
    charges,
    dunning,
    reconciled,
    tossDuration,
    instrumentToss(toss) {
      return {
        mode: toss.mode,
        charge: (request, signal) => timed('charge', () => toss.charge(request, signal)),
        findByOrderId: (orderId, signal) => timed('lookup', () => toss.findByOrderId(orderId, signal)),
        cancel: (request, signal) => timed('cancel', () => toss.cancel(request, signal)),
      };
    },
    observeOutput(queue, output) {
      if (!output || typeof output !== 'object') return;
      if (queue === 'billing.renew') {
        const o = output as { outcome?: unknown; posted?: unknown };
        if (typeof o.outcome !== 'string') return;
        const outcome = RENEWAL_OUTCOMES.includes(o.outcome as RenewalOutcome) ? o.outcome : 'other';
        renewals.inc({ outcome });
        const posted = o.posted === true;
        if (posted) charges.inc({ result: chargeResult(outcome) });
        const step = dunningStep(outcome, posted);
        if (step) dunning.inc({ step });
      } else if (queue === 'billing.reconcile') {
        const o = output as Record<string, unknown>;
        for (const [field, result] of Object.entries(RECONCILE_RESULTS)) {
          const n = o[field];
          if (typeof n === 'number' && n > 0) reconciled.inc({ result }, n);
        }
      }
    },
  };
}
