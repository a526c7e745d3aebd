/**
 * Renewals against real PostgreSQL and the real Toss client talking to the double: exactly one
 * charge per period whatever fails, dunning, trials, cancellation, banned users, month-end anchors
 * and the consent rule. The clock is the test's (passed as `now`), so days pass instantly.
 */
import { sql } from 'kysely';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renewalOrderId, renewSubscription, renewSubscriptions } from '../../src/billing/renewal.ts';
import { reconcilePending, sendRenewalNotices } from '../../src/billing/scan.ts';
import { useTestDatabase } from '../support/db.ts';
import { useTossDouble } from '../support/toss.ts';
import { clock, createSubscriber, deps, ensurePlan, kst, paymentsOf, subscription } from './support.ts';

const database = useTestDatabase();
const toss = useTossDouble();

beforeAll(async () => {
  await ensurePlan(database.db, 'basic', 9900);
  await ensurePlan(database.db, 'yearly', 99000, 'year');
});

beforeEach(() => {
  toss.double.clearFaults();
  toss.double.latencyMs = 0;
});

function chargesFor(subscriptionId: string): number {
  const hex = subscriptionId.replaceAll('-', '');
  return toss.double.ledger.filter((c) => c.orderId.includes(hex)).length;
}

async function notifications(userId: string) {
  return database.db
    .selectFrom('notifications')
    .select(['title', 'message', 'dedupe_key'])
    .where('user_id', '=', userId)
    .execute();
}

describe('renewals', () => {
  it('charges a due subscription once and moves to the next period from the anchor', async () => {
    const c = clock(kst('2026-03-01T09:00:00'));
    const { subscriptionId, userId } = await createSubscriber(database.db, {
      due: kst('2026-03-01T00:00:00'),
    });
    const d = deps(database.db, toss.url, c.now);
    const first = await renewSubscription(d, subscriptionId);
    expect(first).toMatchObject({ outcome: 'approved', amount: 9900, posted: true });
    expect(first.orderId).toBe(renewalOrderId(subscriptionId, kst('2026-03-01T00:00:00'), 1));
    const again = await renewSubscription(d, subscriptionId);
    expect(again.outcome).toBe('not_due');
    const sub = await subscription(database.db, subscriptionId);
    expect(sub.status).toBe('active');
    expect(sub.next_billing_at).toEqual(kst('2026-04-01T00:00:00'));
    expect(sub.billing_cycle).toBe(1);
    const payments = await paymentsOf(database.db, subscriptionId);
    expect(payments).toHaveLength(1);
    expect(payments[0]).toMatchObject({ status: 'approved', amount: 9900, kind: 'renewal', attempt: 1 });
    expect(payments[0]!.provider_tx_id).toMatch(/^tpk_/);
    expect(chargesFor(subscriptionId)).toBe(1);
    // The renewal notice went out (it had not been sent ahead), once.
    expect((await notifications(userId)).filter((n) => n.title === '정기결제 예정 안내')).toHaveLength(1);
  });

  it('a 31st-of-month anchor bills Jan 31 → Feb 28 → Mar 31 (Asia/Seoul)', async () => {
    const c = clock(kst('2026-01-31T10:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, { due: kst('2026-01-31T09:30:00') });
    const d = deps(database.db, toss.url, c.now);
    const seen: Date[] = [];
    for (let i = 0; i < 3; i++) {
      const sub = await subscription(database.db, subscriptionId);
      seen.push(sub.next_billing_at!);
      c.set(new Date(sub.next_billing_at!.getTime() + 60_000));
      expect((await renewSubscription(d, subscriptionId)).outcome).toBe('approved');
    }
    seen.push((await subscription(database.db, subscriptionId)).next_billing_at!);
    expect(seen).toEqual([
      kst('2026-01-31T09:30:00'),
      kst('2026-02-28T09:30:00'),
      kst('2026-03-31T09:30:00'),
      kst('2026-04-30T09:30:00'),
    ]);
    expect(chargesFor(subscriptionId)).toBe(3);
  });

  it('a timeout after Toss charged is never a failure: reconciled by order id, one charge', async () => {
    const c = clock(kst('2026-03-02T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, { due: kst('2026-03-02T00:00:00') });
    const d = deps(database.db, toss.url, c.now);
    const orderId = renewalOrderId(subscriptionId, kst('2026-03-02T00:00:00'), 1);
    toss.double.addFault({ kind: 'drop', orderId });
    const result = await renewSubscription(d, subscriptionId);
    expect(result).toMatchObject({ outcome: 'unknown', code: 'NETWORK_ERROR' });
    expect((await paymentsOf(database.db, subscriptionId))[0]!.status).toBe('pending');
    c.advanceMs(10 * 60_000);
    const reconciled = await reconcilePending(d);
    expect(reconciled.approved).toBeGreaterThanOrEqual(1);
    const payments = await paymentsOf(database.db, subscriptionId);
    expect(payments.map((p) => p.status)).toEqual(['approved']);
    expect((await subscription(database.db, subscriptionId)).next_billing_at).toEqual(
      kst('2026-04-02T00:00:00'),
    );
    expect(chargesFor(subscriptionId)).toBe(1);
    expect(toss.double.chargeRequests(orderId)).toBe(1);
  });

  it('an open attempt whose answer was lost is looked up first: settled with no second POST', async () => {
    const c = clock(kst('2026-03-03T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, { due: kst('2026-03-03T00:00:00') });
    const d = deps(database.db, toss.url, c.now);
    const orderId = renewalOrderId(subscriptionId, kst('2026-03-03T00:00:00'), 1);
    toss.double.addFault({ kind: 'drop', orderId });
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('unknown');
    c.advanceMs(3 * 60_000); // past the unknown back-off
    const retried = await renewSubscription(d, subscriptionId);
    expect(retried).toMatchObject({ outcome: 'approved' });
    expect(retried.posted).toBeUndefined();
    expect(toss.double.chargeRequests(orderId)).toBe(1);
    expect(chargesFor(subscriptionId)).toBe(1);
  });

  it('two workers renewing the same subscriptions at once charge each exactly once', async () => {
    const c = clock(kst('2026-03-04T09:00:00'));
    const subs = await Promise.all(
      Array.from({ length: 12 }, () => createSubscriber(database.db, { due: kst('2026-03-04T00:00:00') })),
    );
    toss.double.latencyMs = 40;
    const d = deps(database.db, toss.url, c.now);
    const runs = subs.flatMap((s) => [
      renewSubscription(d, s.subscriptionId),
      renewSubscription(d, s.subscriptionId),
    ]);
    const results = await Promise.all(runs);
    for (const s of subs) {
      expect(chargesFor(s.subscriptionId)).toBe(1);
      const mine = results.filter((r) => r.subscriptionId === s.subscriptionId).map((r) => r.outcome);
      // One approved; the other either found it done, found it not due, or lost the race and backed off.
      expect(mine).toContain('approved');
    }
    // Anything left pending (a 409 while the first ran) settles on the next pass, without a charge.
    c.advanceMs(3 * 60_000);
    for (const s of subs) await renewSubscription(d, s.subscriptionId);
    for (const s of subs) {
      const payments = await paymentsOf(database.db, s.subscriptionId);
      expect(payments.map((p) => p.status)).toEqual(['approved']);
      expect(chargesFor(s.subscriptionId)).toBe(1);
    }
  });

  it('a batch decides each subscription on its own terms, and overlapping batches charge each once', async () => {
    const due = kst('2026-03-05T00:00:00');
    const c = clock(kst('2026-03-05T09:00:00'));
    const ok = await Promise.all(Array.from({ length: 6 }, () => createSubscriber(database.db, { due })));
    const declined = await createSubscriber(database.db, { due });
    const leaving = await createSubscriber(database.db, { due, cancelAt: due });
    const banned = await createSubscriber(database.db, { due, state: 'banned' });
    const later = await createSubscriber(database.db, { due: kst('2026-04-05T00:00:00') });
    toss.double.setCardCode(declined.billingKey, 'REJECT_CARD_COMPANY');
    toss.double.latencyMs = 30;
    const d = deps(database.db, toss.url, c.now);
    const all = [...ok, declined, leaving, banned, later].map((s) => s.subscriptionId);
    // Two workers took overlapping batches (the same ids, in another order).
    const [a, b] = await Promise.all([
      renewSubscriptions(d, all),
      renewSubscriptions(d, [...all].reverse().slice(0, 7)),
    ]);
    const outcome = (id: string) =>
      [a.get(id), b.get(id)].flatMap((r) => (r && !(r instanceof Error) ? [r.outcome] : []));
    for (const s of ok) {
      expect(outcome(s.subscriptionId)).toContain('approved');
      expect(chargesFor(s.subscriptionId)).toBe(1);
      expect((await subscription(database.db, s.subscriptionId)).next_billing_at).toEqual(
        kst('2026-04-05T00:00:00'),
      );
    }
    expect(outcome(declined.subscriptionId)).toContain('soft_decline');
    expect(outcome(leaving.subscriptionId)).toContain('canceled');
    expect(outcome(banned.subscriptionId)).toContain('canceled');
    expect(a.get(later.subscriptionId)).toMatchObject({ outcome: 'not_due' });
    for (const s of [declined, leaving, banned, later]) {
      expect(chargesFor(s.subscriptionId)).toBe(0);
    }
    // Whatever was left pending by the race settles on the next pass, without a charge.
    c.advanceMs(3 * 60_000);
    await renewSubscriptions(
      d,
      ok.map((s) => s.subscriptionId),
    );
    for (const s of ok) {
      expect((await paymentsOf(database.db, s.subscriptionId)).map((p) => p.status)).toEqual(['approved']);
      expect(chargesFor(s.subscriptionId)).toBe(1);
    }
    const history = await database.db
      .selectFrom('subscription_history')
      .select(['subscription_id', 'event'])
      .where(
        'subscription_id',
        'in',
        ok.map((s) => s.subscriptionId),
      )
      .where('event', '=', 'renewed')
      .execute();
    expect(history).toHaveLength(ok.length);
  });

  it('temporary errors retry later with the same order id and key; one payment row', async () => {
    const c = clock(kst('2026-03-05T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, { due: kst('2026-03-05T00:00:00') });
    const d = deps(database.db, toss.url, c.now);
    const orderId = renewalOrderId(subscriptionId, kst('2026-03-05T00:00:00'), 1);
    toss.double.addFault({ kind: 'error', code: 'PROVIDER_ERROR', orderId, times: 2 });
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('temporary');
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('not_due'); // backing off
    c.advanceMs(11 * 60_000);
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('temporary');
    c.advanceMs(11 * 60_000);
    expect(await renewSubscription(d, subscriptionId)).toMatchObject({ outcome: 'approved', orderId });
    const payments = await paymentsOf(database.db, subscriptionId);
    expect(payments.map((p) => [p.order_id, p.status])).toEqual([[orderId, 'approved']]);
    expect(chargesFor(subscriptionId)).toBe(1);
    const attempts = await database.db
      .selectFrom('payment_attempts')
      .select(['operation', 'outcome'])
      .where('payment_id', '=', payments[0]!.id)
      .orderBy('id')
      .execute();
    expect(attempts.filter((a) => a.outcome === 'temporary')).toHaveLength(2);
  });
});

describe('dunning', () => {
  it('soft declines retry at D+1, D+3, D+5, D+7, each its own order id, then cancel', async () => {
    const due = kst('2026-03-10T00:00:00');
    const c = clock(kst('2026-03-10T09:00:00'));
    const { subscriptionId, billingKey, userId } = await createSubscriber(database.db, { due });
    toss.double.setCardCode(billingKey, 'REJECT_CARD_COMPANY');
    const d = deps(database.db, toss.url, c.now);
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('soft_decline');
    const retries: Date[] = [];
    for (const day of [1, 3, 5, 7]) {
      const sub = await subscription(database.db, subscriptionId);
      expect(sub.status).toBe('past_due');
      retries.push(sub.retry_at!);
      c.set(new Date(due.getTime() + day * 86_400_000 + 60_000));
      await renewSubscription(d, subscriptionId);
    }
    expect(retries).toEqual([1, 3, 5, 7].map((n) => new Date(due.getTime() + n * 86_400_000)));
    const sub = await subscription(database.db, subscriptionId);
    expect(sub.status).toBe('canceled');
    expect(sub.cancel_reason).toMatch(/payment failed 5 times/);
    const payments = await paymentsOf(database.db, subscriptionId);
    expect(payments.map((p) => p.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(payments.map((p) => p.order_id)).size).toBe(5);
    expect(payments.every((p) => p.status === 'failed' && p.failure_code === 'REJECT_CARD_COMPANY')).toBe(
      true,
    );
    expect(chargesFor(subscriptionId)).toBe(0);
    const told = await notifications(userId);
    expect(told.filter((n) => n.title === '정기결제에 실패했어요')).toHaveLength(4);
    expect(told.filter((n) => n.title === '구독이 해지되었어요')).toHaveLength(1);
  });

  it('recovers on a retry day: active again, the next period still from the original anchor', async () => {
    const due = kst('2026-03-11T00:00:00');
    const c = clock(kst('2026-03-11T09:00:00'));
    const { subscriptionId, billingKey } = await createSubscriber(database.db, { due });
    toss.double.setCardCode(billingKey, 'EXCEED_MAX_AMOUNT');
    const d = deps(database.db, toss.url, c.now);
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('soft_decline');
    c.set(kst('2026-03-12T00:01:00'));
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('soft_decline');
    toss.double.setCardCode(billingKey, null);
    c.set(kst('2026-03-14T00:01:00'));
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('approved');
    const sub = await subscription(database.db, subscriptionId);
    expect(sub).toMatchObject({ status: 'active', dunning_attempt: 0, retry_at: null, past_due_since: null });
    expect(sub.next_billing_at).toEqual(kst('2026-04-11T00:00:00'));
    const events = await database.db
      .selectFrom('subscription_history')
      .select('event')
      .where('subscription_id', '=', subscriptionId)
      .orderBy('id')
      .execute();
    expect(events.map((e) => e.event)).toContain('recovered');
    expect(chargesFor(subscriptionId)).toBe(1);
  });

  it('a hard decline stops retries, drops the card and asks for a new one; canceled at the end of grace', async () => {
    const due = kst('2026-03-12T00:00:00');
    const c = clock(kst('2026-03-12T09:00:00'));
    const { subscriptionId, billingKey, userId } = await createSubscriber(database.db, { due });
    toss.double.setCardCode(billingKey, 'INVALID_STOPPED_CARD');
    const d = deps(database.db, toss.url, c.now);
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('hard_decline');
    let sub = await subscription(database.db, subscriptionId);
    expect(sub).toMatchObject({ status: 'past_due', billing_key_enc: null, billing_key_digest: null });
    expect(sub.retry_at).toEqual(kst('2026-03-19T00:00:00'));
    expect((await notifications(userId)).map((n) => n.title)).toContain('결제 카드를 바꿔 주세요');
    c.set(kst('2026-03-15T00:00:00'));
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('not_due');
    c.set(kst('2026-03-19T00:00:01'));
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('canceled');
    sub = await subscription(database.db, subscriptionId);
    expect(sub.status).toBe('canceled');
    expect(
      toss.double.requests.filter((r) => r.orderId?.includes(subscriptionId.replaceAll('-', ''))),
    ).toHaveLength(1);
  });

  it('our own error (config) alerts operators and never starts dunning', async () => {
    const c = clock(kst('2026-03-13T09:00:00'));
    const due = kst('2026-03-13T00:00:00');
    const { subscriptionId } = await createSubscriber(database.db, { due });
    const d = deps(database.db, toss.url, c.now);
    toss.double.addFault({
      kind: 'error',
      code: 'INVALID_API_KEY',
      orderId: renewalOrderId(subscriptionId, due, 1),
    });
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('config');
    const sub = await subscription(database.db, subscriptionId);
    expect(sub).toMatchObject({ status: 'active', dunning_attempt: 0 });
    expect(sub.retry_at!.getTime()).toBeGreaterThan(c.now().getTime());
    const errors = await sql<{ n: number }>`
      select count(*)::int as n from admin.error_logs where service = 'billing' and message like ${'%INVALID_API_KEY%'}`.execute(
      database.db,
    );
    expect(errors.rows[0]!.n).toBe(1);
  });
});

describe('no charge at all', () => {
  it('cancel_at on or before the due date: canceled at period end, never charged', async () => {
    const due = kst('2026-03-20T00:00:00');
    const c = clock(kst('2026-03-20T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, {
      due,
      cancelAt: kst('2026-03-18T12:00:00'),
    });
    expect((await renewSubscription(deps(database.db, toss.url, c.now), subscriptionId)).outcome).toBe(
      'canceled',
    );
    const sub = await subscription(database.db, subscriptionId);
    expect(sub).toMatchObject({ status: 'canceled', cancel_reason: 'canceled at period end' });
    expect(sub.end_date).toEqual(due);
    expect(chargesFor(subscriptionId)).toBe(0);
    expect(await paymentsOf(database.db, subscriptionId)).toHaveLength(0);
  });

  it('a banned user is never charged', async () => {
    const c = clock(kst('2026-03-21T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, {
      due: kst('2026-03-21T00:00:00'),
      state: 'banned',
    });
    expect((await renewSubscription(deps(database.db, toss.url, c.now), subscriptionId)).outcome).toBe(
      'canceled',
    );
    expect(chargesFor(subscriptionId)).toBe(0);
  });

  it('a trial without a card or without consent ends without a charge; with consent it converts', async () => {
    const due = kst('2026-03-22T00:00:00');
    const c = clock(kst('2026-03-22T09:00:00'));
    const d = deps(database.db, toss.url, c.now);
    const noCard = await createSubscriber(database.db, { due, status: 'trial', card: false });
    const noConsent = await createSubscriber(database.db, { due, status: 'trial' });
    const consented = await createSubscriber(database.db, { due, status: 'trial' });
    await database.db
      .insertInto('billing_consents')
      .values({
        subscription_id: consented.subscriptionId,
        user_id: consented.userId,
        kind: 'trial_conversion',
        plan: 'basic',
        amount: 9900,
        consented_at: kst('2026-03-15T10:00:00'),
      })
      .execute();
    expect(await renewSubscription(d, noCard.subscriptionId)).toMatchObject({
      outcome: 'canceled',
      code: 'NO_CARD',
    });
    expect(await renewSubscription(d, noConsent.subscriptionId)).toMatchObject({
      outcome: 'canceled',
      code: 'NO_CONSENT',
    });
    expect(await renewSubscription(d, consented.subscriptionId)).toMatchObject({
      outcome: 'approved',
      amount: 9900,
    });
    expect(chargesFor(noCard.subscriptionId) + chargesFor(noConsent.subscriptionId)).toBe(0);
    expect((await subscription(database.db, consented.subscriptionId)).status).toBe('active');
  });
});

describe('the consent rule', () => {
  it('a price increase without consent never charges more; with consent within 30 days it does', async () => {
    await ensurePlan(database.db, 'rising', 9900);
    const due = kst('2026-03-25T00:00:00');
    const c = clock(kst('2026-03-25T09:00:00'));
    const d = deps(database.db, toss.url, c.now);
    const silent = await createSubscriber(database.db, { due, plan: 'rising' });
    const agreed = await createSubscriber(database.db, { due, plan: 'rising' });
    const stale = await createSubscriber(database.db, { due, plan: 'rising' });
    await database.db.updateTable('plans').set({ price: 12900 }).where('code', '=', 'rising').execute();
    const consent = (userId: string, subscriptionId: string, at: Date) =>
      database.db
        .insertInto('billing_consents')
        .values({
          subscription_id: subscriptionId,
          user_id: userId,
          kind: 'price_increase',
          plan: 'rising',
          amount: 12900,
          consented_at: at,
        })
        .execute();
    await consent(agreed.userId, agreed.subscriptionId, kst('2026-03-10T12:00:00'));
    await consent(stale.userId, stale.subscriptionId, kst('2026-02-10T12:00:00')); // 43 days before: lapsed
    expect(await renewSubscription(d, silent.subscriptionId)).toMatchObject({
      outcome: 'approved',
      amount: 9900,
    });
    expect(await renewSubscription(d, agreed.subscriptionId)).toMatchObject({
      outcome: 'approved',
      amount: 12900,
    });
    expect(await renewSubscription(d, stale.subscriptionId)).toMatchObject({
      outcome: 'approved',
      amount: 9900,
    });
    const charged = (s: { subscriptionId: string }) =>
      toss.double.ledger
        .filter((l) => l.orderId.includes(s.subscriptionId.replaceAll('-', '')))
        .map((l) => l.amount);
    expect(charged(silent)).toEqual([9900]);
    expect(charged(agreed)).toEqual([12900]);
    const asked = await notifications(silent.userId);
    expect(asked.map((n) => n.title)).toContain('이용료 변경 동의 요청');
  });

  it('renewal notices go out once, lead days ahead, saying how to cancel', async () => {
    const c = clock(kst('2026-04-01T09:00:00'));
    const { userId } = await createSubscriber(database.db, { due: kst('2026-04-05T00:00:00') });
    const later = await createSubscriber(database.db, { due: kst('2026-04-20T00:00:00') });
    const d = deps(database.db, toss.url, c.now);
    expect(await sendRenewalNotices(database.db, d.config, c.now())).toBeGreaterThanOrEqual(1);
    await sendRenewalNotices(database.db, d.config, c.now());
    const told = (await notifications(userId)).filter((n) => n.title === '정기결제 예정 안내');
    expect(told).toHaveLength(1);
    expect(told[0]!.message).toContain('4월 5일');
    expect(told[0]!.message).toContain('해지는 앱의');
    expect(await notifications(later.userId)).toHaveLength(0);
    // The renewal itself, days later, finds the notice sent and sends none.
    c.set(kst('2026-04-05T09:00:00'));
    const { subscriptionId } = (
      await database.db
        .selectFrom('subscriptions')
        .select('id as subscriptionId')
        .where('user_id', '=', userId)
        .execute()
    )[0]!;
    expect((await renewSubscription(d, subscriptionId)).outcome).toBe('approved');
    expect((await notifications(userId)).filter((n) => n.title === '정기결제 예정 안내')).toHaveLength(1);
  });
});
