/**
 * Renewals through real `sumda worker` processes (real pg-boss, the real client, the double over
 * HTTP): two workers with overlapping scans charge each subscription once, and a worker SIGKILLed
 * after Toss charged but before our commit leaves a pending payment that the next worker settles by
 * looking it up — no second POST.
 */
import { afterEach, beforeAll, expect, it } from 'vitest';
import { renewalOrderId } from '../../src/billing/renewal.ts';
import { createBoss, enqueue } from '../../src/queue/boss.ts';
import { QUEUES } from '../../src/queue/catalog.ts';
import { useTestDatabase } from '../support/db.ts';
import { type SumdaProcess, startSumda, waitUntil } from '../support/process.ts';
import { TEST_SECRET_KEY, useTossDouble } from '../support/toss.ts';
import { createSubscriber, ensurePlan, paymentsOf, TEST_KEY_B64 } from './support.ts';

const database = useTestDatabase();
const toss = useTossDouble();
const running: SumdaProcess[] = [];

function env() {
  return {
    DATABASE_URL: database.url,
    SUMDA_ENCRYPTION_KEYS: `bill1:${TEST_KEY_B64}`,
    TOSS_SECRET_KEY: TEST_SECRET_KEY,
    TOSS_API_URL: toss.url,
    TOSS_TIMEOUT_MS: '20000',
    LOG_LEVEL: 'info',
  };
}

function worker(args: string[] = []): SumdaProcess {
  const p = startSumda(
    [
      'worker',
      '--queues',
      'billing.scan,billing.renew,billing.reconcile',
      '--poll-interval',
      '200ms',
      ...args,
    ],
    { env: env() },
  );
  running.push(p);
  return p;
}

beforeAll(async () => {
  await ensurePlan(database.db, 'basic', 9900);
});

afterEach(async () => {
  for (const p of running.splice(0)) await p.kill();
  toss.double.clearFaults();
  toss.double.latencyMs = 0;
});

const hexOf = (id: string) => id.replaceAll('-', '');

it('two workers and overlapping scans charge every due subscription exactly once', async () => {
  const due = new Date(Date.now() - 60_000);
  const subs = await Promise.all(Array.from({ length: 20 }, () => createSubscriber(database.db, { due })));
  toss.double.latencyMs = 30;
  const boss = createBoss(database.url);
  await boss.start();
  try {
    // Two scans' worth of renewal jobs for the same subscriptions (as if two scans overlapped and
    // neither deduplicated), plus a real scan.
    for (let round = 0; round < 2; round++) {
      for (const s of subs) {
        const id = await boss.send(
          QUEUES.billingRenew.name,
          { subscriptionId: s.subscriptionId },
          { singletonKey: `${s.subscriptionId}#${round}` },
        );
        expect(id).not.toBeNull();
      }
    }
    await enqueue(boss, 'billingScan', {});
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  worker();
  worker();
  await waitUntil(
    async () => {
      const left = await database.db
        .selectFrom('subscriptions')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('next_billing_at', '<=', due)
        .executeTakeFirstOrThrow();
      return Number(left.n) === 0;
    },
    // Two worker processes starting on a busy machine (load 19 here) took most of a minute before
    // their first job; the bound is for a hang, not for speed.
    { timeoutMs: 150_000, what: 'every subscription renewed' },
  ).catch((error: unknown) => {
    for (const p of running) console.error(p.stderr.slice(-15).join('\n'));
    throw error;
  });
  if (process.env.DEBUG_BILLING)
    for (const p of running) console.error(p.stderr.map((l) => l.slice(0, 300)).join('\n'));
  for (const s of subs) {
    const charges = toss.double.ledger.filter((c) => c.orderId.includes(hexOf(s.subscriptionId)));
    expect(charges, s.subscriptionId).toHaveLength(1);
    const payments = await paymentsOf(database.db, s.subscriptionId);
    expect(payments.filter((p) => p.status === 'approved')).toHaveLength(1);
  }
}, 180_000);

it('a worker killed between Toss charging and our commit: the next worker looks the order up, no second POST', async () => {
  const due = new Date(Date.now() - 60_000);
  const { subscriptionId } = await createSubscriber(database.db, { due });
  const orderId = renewalOrderId(subscriptionId, due, 1);
  toss.double.addFault({ kind: 'chargeThenHang', orderId });
  const first = worker();
  const boss = createBoss(database.url);
  await boss.start();
  try {
    await enqueue(boss, 'billingRenew', { subscriptionId }, { singletonKey: subscriptionId });
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  await waitUntil(() => toss.double.ledger.some((c) => c.orderId === orderId), {
    timeoutMs: 30_000,
    what: 'Toss charged',
  });
  first.send('SIGKILL');
  await first.exited;
  const [pending] = await paymentsOf(database.db, subscriptionId);
  expect(pending).toMatchObject({ order_id: orderId, status: 'pending' });

  // A fresh worker: its scan enqueues the still-due subscription; the renewal finds the open
  // attempt, looks it up and settles it.
  const second = worker(['--once', '--retry-horizon', '0']);
  await second.exited;
  const payments = await paymentsOf(database.db, subscriptionId);
  expect(payments.map((p) => [p.order_id, p.status])).toEqual([[orderId, 'approved']]);
  expect(toss.double.chargeRequests(orderId)).toBe(1);
  expect(toss.double.ledger.filter((c) => c.orderId === orderId)).toHaveLength(1);
  const lookups = toss.double.requests.filter((r) => r.method === 'GET' && r.orderId === orderId);
  expect(lookups.length).toBeGreaterThanOrEqual(1);
}, 90_000);
