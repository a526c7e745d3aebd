/**
 * Billing's metrics: the worker's billing handlers, run with the worker's metrics hooks (the Toss
 * client wrapped for latency, each settled job's output read for outcomes), against the Toss double
 * over HTTP. The exposition parses with the strict test parser; every renewal outcome, charge result,
 * dunning step and reconciler result is counted once; no label or line carries an id or a key.
 */
import type { Job } from 'pg-boss';
import { beforeAll, describe, expect, it } from 'vitest';
import { billingReconcile, billingRenew } from '../../jobs/billing.ts';
import type { JobContext } from '../../jobs/context.ts';
import { renewalOrderId } from '../../src/billing/renewal.ts';
import { createWorkerMetrics, type WorkerMetrics } from '../../src/metrics/worker.ts';
import { QUEUES } from '../../src/queue/catalog.ts';
import type { JobOutcome } from '../../src/queue/pump.ts';
import { createSubscriber, ensurePlan, KEYRING, TEST_KEY_B64 } from '../billing/support.ts';
import { captureLogs, testConfig } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { type Family, parsePrometheus } from '../support/prometheus.ts';
import { TEST_SECRET_KEY, useTossDouble } from '../support/toss.ts';

const database = useTestDatabase();
const toss = useTossDouble();

let metrics: WorkerMetrics;
let ctx: JobContext;

beforeAll(async () => {
  await ensurePlan(database.db, 'basic', 9900);
  metrics = createWorkerMetrics({
    db: database.db,
    definitions: [QUEUES.billingRenew, QUEUES.billingReconcile],
  });
  const config = testConfig(database.url, `bill1:${TEST_KEY_B64}`, {
    TOSS_SECRET_KEY: TEST_SECRET_KEY,
    TOSS_API_URL: toss.url,
    TOSS_TIMEOUT_MS: '5000',
    SUMDA_BILLING_RECONCILE_AFTER_S: '0',
  });
  // What the worker gives the billing handlers (runtime.ts): nothing else is used by them.
  ctx = {
    db: database.db,
    config,
    log: captureLogs('info').log,
    keyring: KEYRING,
    instrumentToss: metrics.billing.instrumentToss,
  } as unknown as JobContext;
});

let jobSeq = 0;
function job<T>(data: T): Job<T> {
  jobSeq += 1;
  return { id: `job-${jobSeq}`, name: 'billing', data } as unknown as Job<T>;
}

/** Runs one batch of a billing handler and settles it into the metrics, as the worker's pump does. */
async function run(
  queue: 'billing.renew' | 'billing.reconcile',
  jobs: Job<unknown>[],
): Promise<JobOutcome[]> {
  const handler = (queue === 'billing.renew' ? billingRenew : billingReconcile).create(ctx);
  const outcomes = await handler(jobs, new AbortController().signal);
  for (const o of outcomes) if (o.status === 'completed') metrics.observeOutput(queue, o.output);
  return outcomes;
}

const outputOf = (o: JobOutcome | undefined) => (o?.status === 'completed' ? o.output : o?.status);

function value(families: Family[], name: string, labels: Record<string, string>, sample = name): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const found = family.samples.find(
    (m) => m.name === sample && Object.entries(labels).every(([k, v]) => m.labels[k] === v),
  );
  return found?.value ?? 0;
}

describe('billing metrics', { timeout: 60_000 }, () => {
  it('count renewals, charges, dunning, the reconciler and Toss latency, with no ids or keys', async () => {
    const due = new Date(Date.now() - 60_000);
    const approved = await createSubscriber(database.db, { due });
    const soft = await createSubscriber(database.db, { due });
    const hard = await createSubscriber(database.db, { due });
    const dropped = await createSubscriber(database.db, { due });
    const notDue = await createSubscriber(database.db, { due: new Date(Date.now() + 86_400_000) });
    const orderOf = (s: { subscriptionId: string }) => renewalOrderId(s.subscriptionId, due, 1);
    toss.double.addFault({ kind: 'error', code: 'REJECT_CARD_PAYMENT', orderId: orderOf(soft) });
    toss.double.addFault({ kind: 'error', code: 'INVALID_STOPPED_CARD', orderId: orderOf(hard) });
    // Toss charges, then the connection drops: the outcome is unknown until the reconciler looks.
    toss.double.addFault({ kind: 'drop', orderId: orderOf(dropped) });

    const renewed = await run(
      'billing.renew',
      [approved, soft, hard, dropped, notDue].map((s) => job({ subscriptionId: s.subscriptionId })),
    );
    expect(renewed.map((o) => (outputOf(o) as { outcome: string }).outcome)).toEqual([
      'approved',
      'soft_decline',
      'hard_decline',
      'unknown',
      'not_due',
    ]);
    const [reconciled] = await run('billing.reconcile', [job({})]);
    expect(outputOf(reconciled)).toMatchObject({ checked: 1, approved: 1 });

    const text = await metrics.registry.metrics();
    const families = parsePrometheus(text);
    const renewals = (outcome: string) => value(families, 'sumda_billing_renewals_total', { outcome });
    expect(['approved', 'soft_decline', 'hard_decline', 'unknown', 'not_due', 'busy'].map(renewals)).toEqual([
      1, 1, 1, 1, 1, 0,
    ]);
    const charges = (result: string) => value(families, 'sumda_billing_charges_total', { result });
    expect(['approved', 'failed', 'unknown'].map(charges)).toEqual([1, 2, 1]);
    const dunning = (step: string) => value(families, 'sumda_billing_dunning_total', { step });
    expect(['retry_scheduled', 'card_required', 'canceled'].map(dunning)).toEqual([1, 1, 0]);
    const reconcile = (result: string) => value(families, 'sumda_billing_reconciled_total', { result });
    expect(['approved', 'not_found', 'still_unknown', 'failed'].map(reconcile)).toEqual([1, 0, 0, 0]);

    const latency = families.find((f) => f.name === 'sumda_toss_request_duration_seconds');
    expect(latency?.type).toBe('histogram');
    const calls = (operation: string, result: string) =>
      value(
        families,
        'sumda_toss_request_duration_seconds',
        { operation, result },
        'sumda_toss_request_duration_seconds_count',
      );
    expect(
      [
        ['charge', 'ok'],
        ['charge', 'soft_decline'],
        ['charge', 'hard_decline'],
        ['charge', 'unknown'],
        ['lookup', 'ok'],
      ].map(([op, result]) => calls(op!, result!)),
    ).toEqual([1, 1, 1, 1, 1]);

    // Nothing that identifies a person, a payment or a card, and no secret.
    const subs = [approved, soft, hard, dropped, notDue];
    for (const s of subs) {
      for (const secret of [s.subscriptionId, s.userId, s.customerKey, s.billingKey, orderOf(s)]) {
        expect(text).not.toContain(secret);
      }
    }
    expect(text).not.toContain(TEST_SECRET_KEY);
    for (const f of families.filter((x) => x.name.startsWith('sumda_'))) {
      for (const m of f.samples) {
        for (const v of Object.values(m.labels)) expect(v).toMatch(/^[a-z_.]+$|^[0-9.]+$|^\+Inf$/);
      }
    }
  });
});
