/**
 * Chaos: 1,000 due subscriptions, three `sumda worker` processes, the double dropping 10% of its
 * answers after charging, scans sent over and over (overlapping), and workers SIGKILLed at random
 * and replaced, several times. Afterwards the double's ledger shows exactly one charge per
 * subscription and every payment row is settled (approved, none pending).
 */
import { afterAll, expect, it } from 'vitest';
import { createBoss, enqueue } from '../../src/queue/boss.ts';
import { useTestDatabase } from '../support/db.ts';
import { type SumdaProcess, startSumda, waitUntil } from '../support/process.ts';
import { TEST_SECRET_KEY, useTossDouble } from '../support/toss.ts';
import { bulkSubscribers, ensurePlan, TEST_KEY_B64 } from './support.ts';

const SUBSCRIPTIONS = 1000;
const WORKERS = 3;
const KILLS = 4;

const database = useTestDatabase();
// A seeded generator: the same 10% of answers are dropped on every run.
let seed = 20_261_202;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const toss = useTossDouble({ dropRate: 0.1, random });
const workers: SumdaProcess[] = [];

afterAll(async () => {
  for (const w of workers) await w.kill();
});

function startWorker(): SumdaProcess {
  const p = startSumda(
    [
      'worker',
      '--queues',
      'billing.scan,billing.renew,billing.reconcile',
      '--poll-interval',
      '200ms',
      '--heartbeat',
      '60s',
    ],
    {
      env: {
        DATABASE_URL: database.url,
        SUMDA_ENCRYPTION_KEYS: `bill1:${TEST_KEY_B64}`,
        TOSS_SECRET_KEY: TEST_SECRET_KEY,
        TOSS_API_URL: toss.url,
        TOSS_TIMEOUT_MS: '10000',
        // Unknown outcomes are looked up again after a second, not minutes.
        SUMDA_BILLING_RECONCILE_AFTER_S: '1',
        LOG_LEVEL: 'warn',
      },
    },
  );
  workers.push(p);
  return p;
}

it('1,000 renewals, 3 workers, 10% dropped answers, random kills: one charge each, every payment settled', async () => {
  await ensurePlan(database.db, 'basic', 9900);
  const due = new Date(Date.now() - 60_000);
  const ids = await bulkSubscribers(database.db, SUBSCRIPTIONS, due);
  toss.double.latencyMs = 20;
  const live: SumdaProcess[] = [];
  for (let i = 0; i < WORKERS; i++) live.push(startWorker());

  const boss = createBoss(database.url);
  await boss.start();
  let stop = false;
  // Scans keep coming (the cron's job, every second here): overlapping with the renewals in flight.
  const scans = (async () => {
    while (!stop) {
      await enqueue(boss, 'billingScan', {}).catch(() => null);
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  const remaining = async () => {
    const row = await database.db
      .selectFrom('subscriptions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('next_billing_at', '<=', due)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  try {
    // Kill a random worker whenever the ledger has grown by another fifth, and start a new one.
    for (let k = 0; k < KILLS; k++) {
      const target = Math.floor((SUBSCRIPTIONS * (k + 1)) / (KILLS + 1));
      await waitUntil(() => toss.double.ledger.length >= target, {
        timeoutMs: 120_000,
        what: `${target} charges`,
      });
      const victim = live.splice(Math.floor(random() * live.length), 1)[0]!;
      victim.send('SIGKILL');
      await victim.exited;
      live.push(startWorker());
    }
    await waitUntil(async () => (await remaining()) === 0, {
      timeoutMs: 180_000,
      intervalMs: 500,
      what: 'every renewal',
    });
    await waitUntil(
      async () => {
        const pending = await database.db
          .selectFrom('payments')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('status', '=', 'pending')
          .executeTakeFirstOrThrow();
        return Number(pending.n) === 0;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'no pending payment' },
    );
  } finally {
    stop = true;
    await scans;
    await boss.stop({ graceful: false, close: true });
  }

  const charges = toss.double.chargesByOrder();
  const perSubscription = new Map<string, number>();
  for (const c of toss.double.ledger) {
    const hex = c.orderId.split('-')[1]!;
    perSubscription.set(hex, (perSubscription.get(hex) ?? 0) + 1);
  }
  expect(toss.double.ledger).toHaveLength(SUBSCRIPTIONS);
  expect([...charges.values()].every((n) => n === 1)).toBe(true);
  for (const id of ids) expect(perSubscription.get(id.replaceAll('-', '')), id).toBe(1);

  const statuses = await database.db
    .selectFrom('payments')
    .select(['status', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('status')
    .execute();
  expect(statuses.map((s) => [s.status, Number(s.n)])).toEqual([['approved', SUBSCRIPTIONS]]);
  // The drops really happened, and were settled by look-ups rather than by posting again.
  const lookups = toss.double.requests.filter((r) => r.method === 'GET').length;
  expect(lookups).toBeGreaterThan(SUBSCRIPTIONS * 0.05);
}, 300_000);
