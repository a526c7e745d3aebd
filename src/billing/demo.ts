/**
 * `sumda demo`'s billing stage: a SIMULATION. The renewals due in the demo data are run against the
 * in-process Toss double (src/billing/double.ts) — no real card, no real Toss — with one card
 * declining and one answer in ten dropped after charging, then the reconciler settles the dropped
 * ones. It shows the machinery, not real payments.
 */
import type { Kysely } from 'kysely';
import type { BillingConfig } from '../config/index.ts';
import type { Keyring } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { TossDouble, testBillingKeyFor } from './double.ts';
import { runDueRenewals } from './operators.ts';
import type { RenewalOutcome } from './renewal.ts';
import { dueSubscriptionIds, reconcilePending } from './scan.ts';
import { createTossClient } from './toss.ts';

const DEMO_KEY = 'test_sk_sumdaDemoSimulation';

export interface BillingSimulation {
  due: number;
  outcomes: Partial<Record<RenewalOutcome, number>>;
  droppedAnswers: number;
  reconciled: number;
  charges: number;
  chargedTwice: number;
  declinedCard: string | null;
}

export async function simulateBilling(
  db: Kysely<Database>,
  keyring: Keyring,
  config: BillingConfig,
): Promise<BillingSimulation> {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
  const double = new TossDouble({ secretKey: DEMO_KEY, dropRate: 0.1, random, latencyMs: 20 });
  const url = await double.start();
  try {
    const billing: BillingConfig = {
      ...config,
      tossSecretKey: DEMO_KEY,
      tossMode: 'test',
      tossApiUrl: url,
      reconcileAfterSeconds: 0,
    };
    const deps = {
      db,
      keyring,
      config: billing,
      toss: createTossClient({ secretKey: DEMO_KEY, baseUrl: url, timeoutMs: 5000 }),
    };
    const now = new Date();
    const due = await dueSubscriptionIds(db, now, { limit: 10_000 });
    // One card in the demo declines (a soft decline: dunning starts).
    let declinedCard: string | null = null;
    if (due.length > 1) {
      const sub = await db
        .selectFrom('subscriptions')
        .select(['id', 'customer_key'])
        .where('id', '=', due[0]!)
        .executeTakeFirst();
      if (sub?.customer_key) {
        double.setCardCode(testBillingKeyFor(sub.customer_key), 'REJECT_CARD_COMPANY');
        declinedCard = sub.id;
      }
    }
    const run = await runDueRenewals(deps, { limit: 10_000, concurrency: 8 });
    const outcomes: Partial<Record<RenewalOutcome, number>> = {};
    for (const r of run.results) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    const dropped = outcomes.unknown ?? 0;
    double.dropRate = 0;
    const reconciled = await reconcilePending(deps, { olderThanSeconds: 0 });
    const perSub = new Map<string, number>();
    for (const c of double.ledger)
      perSub.set(c.orderId.split('-')[1]!, (perSub.get(c.orderId.split('-')[1]!) ?? 0) + 1);
    return {
      due: due.length,
      outcomes,
      droppedAnswers: dropped,
      reconciled: reconciled.approved,
      charges: double.ledger.length,
      chargedTwice: [...perSub.values()].filter((n) => n > 1).length,
      declinedCard,
    };
  } finally {
    await double.stop();
  }
}
