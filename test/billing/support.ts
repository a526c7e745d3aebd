/** Billing fixtures: plans, users with subscriptions and sealed billing keys the double accepts, consents. */
import { randomUUID } from 'node:crypto';
import { testBillingKeyFor } from '../../src/billing/double.ts';
import { sealBillingKey } from '../../src/billing/keys.ts';
import type { BillingDeps } from '../../src/billing/renewal.ts';
import { createTossClient } from '../../src/billing/toss.ts';
import type { BillingConfig } from '../../src/config/index.ts';
import { createKeyring, type Keyring } from '../../src/crypto/index.ts';
import type { Db } from '../../src/db/connect.ts';
import { TEST_SECRET_KEY } from './../support/toss.ts';

export const TEST_KEY_B64 = Buffer.alloc(32, 9).toString('base64');
export const KEYRING: Keyring = createKeyring([{ id: 'bill1', key: Buffer.alloc(32, 9) }]);

export function billingConfig(url: string, over: Partial<BillingConfig> = {}): BillingConfig {
  return {
    tossSecretKey: TEST_SECRET_KEY,
    tossMode: 'test',
    tossApiUrl: url,
    tossTimeoutMs: 3000,
    tossMaxInFlight: 64,
    dunningDays: [1, 3, 5, 7],
    noticeLeadDays: 7,
    reconcileAfterSeconds: 300,
    ...over,
  };
}

export function deps(db: Db, url: string, now: () => Date, over: Partial<BillingConfig> = {}): BillingDeps {
  const config = billingConfig(url, over);
  return {
    db,
    keyring: KEYRING,
    config,
    toss: createTossClient({ secretKey: TEST_SECRET_KEY, baseUrl: url, timeoutMs: config.tossTimeoutMs }),
    now,
  };
}

export async function ensurePlan(db: Db, code: string, price: number, interval: 'month' | 'year' = 'month') {
  await db
    .insertInto('plans')
    .values({ code, name: `플랜 ${code}`, price, billing_interval: interval, trial_days: 7 })
    .onConflict((oc) => oc.column('code').doUpdateSet({ price }))
    .execute();
}

export interface SubOptions {
  plan?: string;
  status?: 'trial' | 'active' | 'past_due';
  due: Date;
  anchor?: Date;
  cycle?: number;
  card?: boolean;
  /** Amount the user consented to at signup (kind subscribe); default the plan price; null for none. */
  consent?: number | null;
  state?: 'active' | 'banned' | 'resigned' | 'inactive';
  cancelAt?: Date | null;
}

/** A user and a subscription due at `due`; returns ids and the billing key. */
export async function createSubscriber(db: Db, options: SubOptions) {
  const userId = randomUUID();
  const subscriptionId = randomUUID();
  const plan = options.plan ?? 'basic';
  await db
    .insertInto('users')
    .values({
      id: userId,
      email: `${userId.slice(0, 8)}@example.com`,
      nickname: '구독자',
      state: options.state ?? 'active',
    })
    .execute();
  const customerKey = `cus_${userId.replaceAll('-', '')}`;
  const billingKey = testBillingKeyFor(customerKey);
  const status = options.status ?? 'active';
  await db
    .insertInto('subscriptions')
    .values({
      id: subscriptionId,
      user_id: userId,
      plan,
      status,
      start_date: new Date(options.due.getTime() - 40 * 86_400_000),
      customer_key: customerKey,
      next_billing_at: options.due,
      trial_end: status === 'trial' ? options.due : null,
      billing_anchor: options.anchor ?? options.due,
      billing_cycle: options.cycle ?? 0,
      cancel_at: options.cancelAt ?? null,
      past_due_since: status === 'past_due' ? options.due : null,
      ...(options.card === false ? {} : sealBillingKey(KEYRING, subscriptionId, billingKey)),
    })
    .execute();
  if (options.consent !== null && status !== 'trial') {
    const price = (
      await db.selectFrom('plans').select('price').where('code', '=', plan).executeTakeFirstOrThrow()
    ).price;
    await db
      .insertInto('billing_consents')
      .values({
        subscription_id: subscriptionId,
        user_id: userId,
        kind: 'subscribe',
        plan,
        amount: options.consent ?? price,
        consented_at: new Date(options.due.getTime() - 40 * 86_400_000),
      })
      .execute();
  }
  return { userId, subscriptionId, customerKey, billingKey };
}

export async function subscription(db: Db, id: string) {
  return db.selectFrom('subscriptions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

export async function paymentsOf(db: Db, subscriptionId: string) {
  return db
    .selectFrom('payments')
    .selectAll()
    .where('subscription_id', '=', subscriptionId)
    .orderBy('period_start')
    .orderBy('attempt')
    .execute();
}

/** A settable clock for the domain under test. */
export function clock(start: Date) {
  let at = start;
  return {
    now: () => at,
    set(to: Date) {
      at = to;
    },
    advanceDays(days: number) {
      at = new Date(at.getTime() + days * 86_400_000);
    },
    advanceMs(ms: number) {
      at = new Date(at.getTime() + ms);
    },
  };
}

/** Seoul wall-clock instant. */
export function kst(text: string): Date {
  return new Date(`${text}+09:00`);
}

/**
 * Many due subscribers at once (chaos test, benchmark): users, subscriptions with sealed billing
 * keys the double accepts and a subscribe consent, in a few multi-row statements.
 */
export async function bulkSubscribers(
  db: Db,
  count: number,
  due: Date,
  plan = 'basic',
  price = 9900,
): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += 1000) {
    const n = Math.min(1000, count - offset);
    const users = Array.from({ length: n }, () => randomUUID());
    const subs = Array.from({ length: n }, () => randomUUID());
    await db
      .insertInto('users')
      .values(users.map((id, i) => ({ id, nickname: `구독자${offset + i}` })))
      .execute();
    await db
      .insertInto('subscriptions')
      .values(
        subs.map((id, i) => {
          const customerKey = `cus_${users[i]!.replaceAll('-', '')}`;
          return {
            id,
            user_id: users[i]!,
            plan,
            status: 'active' as const,
            start_date: new Date(due.getTime() - 40 * 86_400_000),
            customer_key: customerKey,
            next_billing_at: due,
            billing_anchor: due,
            ...sealBillingKey(KEYRING, id, testBillingKeyFor(customerKey)),
          };
        }),
      )
      .execute();
    await db
      .insertInto('billing_consents')
      .values(
        subs.map((id, i) => ({
          subscription_id: id,
          user_id: users[i]!,
          kind: 'subscribe' as const,
          plan,
          amount: price,
          consented_at: new Date(due.getTime() - 40 * 86_400_000),
        })),
      )
      .execute();
    ids.push(...subs);
  }
  return ids;
}
