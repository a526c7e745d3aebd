/**
 * Operators' billing: plans, cancel/resume, plan changes with proration and consent, refunds that
 * happen once however often they are replayed, role checks and audit rows, and the CLI end to end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cancelSubscription,
  changePlan,
  createPlan,
  prorate,
  refundPayment,
  resumeSubscription,
  updatePlan,
} from '../../src/billing/operators.ts';
import { renewSubscription } from '../../src/billing/renewal.ts';
import { reconcilePending } from '../../src/billing/scan.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { TEST_SECRET_KEY, useTossDouble } from '../support/toss.ts';
import {
  clock,
  createSubscriber,
  deps,
  ensurePlan,
  kst,
  paymentsOf,
  subscription,
  TEST_KEY_B64,
} from './support.ts';

const database = useTestDatabase();
const toss = useTossDouble();
let team: Team;

beforeAll(async () => {
  team = await seedTeam(database.db);
  await ensurePlan(database.db, 'basic', 9900);
  await ensurePlan(database.db, 'premium', 14900);
});

async function audit(action: string, targetId: string) {
  return database.db
    .selectFrom('admin.audit_log')
    .select(['action', 'outcome', 'reason'])
    .where('action', '=', action)
    .where('target_id', '=', targetId)
    .execute();
}

describe('plans', () => {
  it('create and update are admin-only and audited', async () => {
    await expect(
      createPlan(database.db, operation(team.manager), {
        code: 'family',
        name: '가족',
        price: 19900,
        interval: 'month',
        trialDays: 0,
      }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    const row = await createPlan(database.db, operation(team.admin), {
      code: 'family',
      name: '가족',
      price: 19900,
      interval: 'month',
      trialDays: 0,
    });
    expect(row.price).toBe(19900);
    await updatePlan(database.db, operation(team.admin), 'family', { price: 21900 }, '2027 price');
    expect((await audit('plan.update', 'family'))[0]).toMatchObject({
      outcome: 'success',
      reason: '2027 price',
    });
    expect((await audit('plan.create', 'family')).map((a) => a.outcome)).toEqual(['success']);
    expect((await audit('plan.manage', 'family')).map((a) => a.outcome)).toEqual(['denied']);
  });
});

describe('subscriptions', () => {
  it('cancel at period end is honoured by the renewal; resume withdraws it', async () => {
    const due = kst('2026-05-01T00:00:00');
    const { subscriptionId, userId } = await createSubscriber(database.db, { due });
    await cancelSubscription(database.db, operation(team.manager), userId, {
      immediately: false,
      reason: '사용자 요청',
    });
    expect((await subscription(database.db, subscriptionId)).cancel_at).toEqual(due);
    await resumeSubscription(database.db, operation(team.manager), userId, '마음이 바뀜');
    expect((await subscription(database.db, subscriptionId)).cancel_at).toBeNull();
    await cancelSubscription(database.db, operation(team.manager), userId, {
      immediately: false,
      reason: '다시 해지',
    });
    const c = clock(kst('2026-05-01T09:00:00'));
    expect((await renewSubscription(deps(database.db, toss.url, c.now), subscriptionId)).outcome).toBe(
      'canceled',
    );
    expect(await audit('subscription.cancel', subscriptionId)).toHaveLength(2);
    await expect(
      cancelSubscription(database.db, operation(team.operator), userId, { immediately: true, reason: 'x' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('prorates an upgrade in whole KRW, rounded down', () => {
    const start = kst('2026-06-01T00:00:00');
    const end = kst('2026-07-01T00:00:00');
    // 5000 KRW difference, 10 of 30 days left: 1666.67 → 1666.
    expect(prorate(9900, 14900, start, end, kst('2026-06-21T00:00:00'))).toBe(1666);
    expect(prorate(14900, 9900, start, end, kst('2026-06-21T00:00:00'))).toBe(0);
    expect(prorate(9900, 14900, start, end, end)).toBe(0);
  });

  it('an upgrade needs consent, charges the prorated difference once (replayed too); a downgrade waits', async () => {
    const due = kst('2026-07-01T00:00:00');
    const { subscriptionId, userId } = await createSubscriber(database.db, {
      due,
      anchor: kst('2026-05-01T00:00:00'),
      cycle: 2,
    });
    const c = clock(kst('2026-06-21T00:00:00'));
    const d = deps(database.db, toss.url, c.now);
    await expect(
      changePlan(d, operation(team.admin), userId, 'premium', { reason: 'upgrade' }),
    ).rejects.toBeInstanceOf(UsageError);
    const consentedAt = kst('2026-06-20T12:00:00');
    const first = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt,
    });
    expect(first).toMatchObject({ kind: 'upgrade', outcome: 'applied', charged: 1666 });
    const again = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt,
    });
    expect(again.kind).toBe('same');
    expect(toss.double.ledger.filter((l) => l.orderId === first.orderId)).toHaveLength(1);
    expect((await subscription(database.db, subscriptionId)).plan).toBe('premium');
    // The next renewal charges the new price: the plan_change consent covers it.
    c.set(kst('2026-07-01T09:00:00'));
    expect(await renewSubscription(d, subscriptionId)).toMatchObject({ outcome: 'approved', amount: 14900 });

    const down = await changePlan(d, operation(team.admin), userId, 'basic', { reason: 'downgrade' });
    expect(down).toMatchObject({ kind: 'downgrade', outcome: 'scheduled', charged: 0 });
    expect((await subscription(database.db, subscriptionId)).pending_plan).toBe('basic');
    c.set(kst('2026-08-01T09:00:00'));
    expect(await renewSubscription(d, subscriptionId)).toMatchObject({ outcome: 'approved', amount: 9900 });
    expect((await subscription(database.db, subscriptionId)).plan).toBe('basic');
  });
});

describe('an upgrade whose answer was lost', () => {
  it('charged: the reconciler approves it and changes the plan; a re-run has nothing left to do', async () => {
    const { subscriptionId, userId } = await createSubscriber(database.db, {
      due: kst('2026-07-01T00:00:00'),
      anchor: kst('2026-05-01T00:00:00'),
      cycle: 2,
    });
    const c = clock(kst('2026-06-21T00:00:00'));
    const d = deps(database.db, toss.url, c.now);
    toss.double.addFault({ kind: 'drop' });
    const lost = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt: kst('2026-06-20T12:00:00'),
    });
    expect(lost).toMatchObject({ kind: 'upgrade', outcome: 'unknown', charged: 0 });
    expect((await subscription(database.db, subscriptionId)).plan).toBe('basic');

    c.advanceMs(6 * 60_000);
    expect(await reconcilePending(d)).toMatchObject({ approved: 1 });
    expect((await subscription(database.db, subscriptionId)).plan).toBe('premium');
    const payment = (await paymentsOf(database.db, subscriptionId)).find((p) => p.kind === 'proration')!;
    expect(payment).toMatchObject({ status: 'approved', order_id: lost.orderId, amount: 1666 });
    const changed = await database.db
      .selectFrom('subscription_history')
      .select(['event', 'payment_id'])
      .where('subscription_id', '=', subscriptionId)
      .where('event', '=', 'plan_changed')
      .execute();
    expect(changed).toEqual([{ event: 'plan_changed', payment_id: payment.id }]);
    const again = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt: kst('2026-06-20T12:00:00'),
    });
    expect(again.kind).toBe('same');
    expect(toss.double.ledger.filter((l) => l.orderId === lost.orderId)).toHaveLength(1);
  });

  it('never charged: failed after the abandon age, the plan unchanged, the user told; a re-run is a new attempt', async () => {
    const { subscriptionId, userId } = await createSubscriber(database.db, {
      due: kst('2026-07-01T00:00:00'),
      anchor: kst('2026-05-01T00:00:00'),
      cycle: 2,
    });
    const c = clock(kst('2026-06-21T00:00:00'));
    const d = deps(database.db, toss.url, c.now);
    toss.double.addFault({ kind: 'bare5xx' });
    const lost = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt: kst('2026-06-20T12:00:00'),
    });
    expect(lost).toMatchObject({ outcome: 'unknown' });

    // Unknown to Toss a few minutes on: it may still be on its way, so it stays open.
    c.advanceMs(6 * 60_000);
    expect(await reconcilePending(d)).toMatchObject({ notFound: 1, approved: 0 });
    expect((await paymentsOf(database.db, subscriptionId)).map((p) => p.status)).toEqual(['pending']);
    // An hour on it was never posted: the change fails, nothing was charged.
    c.advanceMs(60 * 60_000);
    expect(await reconcilePending(d)).toMatchObject({ notFound: 1 });
    const [failed] = await paymentsOf(database.db, subscriptionId);
    expect(failed).toMatchObject({ status: 'failed', failure_code: 'NOT_FOUND_PAYMENT' });
    expect((await subscription(database.db, subscriptionId)).plan).toBe('basic');
    const told = await database.db
      .selectFrom('notifications')
      .select('title')
      .where('user_id', '=', userId)
      .where('dedupe_key', '=', `billing:upgrade-failed:${lost.orderId}`)
      .execute();
    expect(told).toHaveLength(1);
    expect(toss.double.ledger.filter((l) => l.orderId.startsWith(lost.orderId!))).toHaveLength(0);

    const retried = await changePlan(d, operation(team.admin), userId, 'premium', {
      reason: 'upgrade',
      consentedAt: kst('2026-06-20T12:00:00'),
    });
    expect(retried).toMatchObject({ outcome: 'applied', orderId: `${lost.orderId}-2` });
    expect((await subscription(database.db, subscriptionId)).plan).toBe('premium');
    expect(toss.double.ledger.filter((l) => l.orderId.startsWith(lost.orderId!))).toHaveLength(1);
  });
});

describe('refunds', () => {
  it('a replayed refund refunds once; a partial then the rest; roles checked', async () => {
    const c = clock(kst('2026-09-01T09:00:00'));
    const { subscriptionId } = await createSubscriber(database.db, { due: kst('2026-09-01T00:00:00') });
    const d = deps(database.db, toss.url, c.now);
    await renewSubscription(d, subscriptionId);
    const [payment] = await paymentsOf(database.db, subscriptionId);
    await expect(
      refundPayment(d, operation(team.operator), payment!.id, { amount: 900, reason: '부분 환불' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    const partial = await refundPayment(d, operation(team.manager), payment!.id, {
      amount: 900,
      reason: '부분 환불',
    });
    expect(partial).toMatchObject({
      refunded: 900,
      refundedTotal: 900,
      status: 'partially_refunded',
      replayed: false,
    });
    const replay = await refundPayment(d, operation(team.manager), payment!.id, {
      amount: 900,
      reason: '부분 환불',
    });
    expect(replay).toMatchObject({ refunded: 0, replayed: true });
    const rest = await refundPayment(d, operation(team.manager), payment!.id, { reason: '나머지 환불' });
    expect(rest).toMatchObject({ refunded: 9000, refundedTotal: 9900, status: 'refunded' });
    await expect(
      refundPayment(d, operation(team.manager), payment!.id, { reason: '또' }),
    ).rejects.toBeInstanceOf(UsageError);
    expect(toss.double.cancels.filter((x) => x.orderId === payment!.order_id).map((x) => x.amount)).toEqual([
      900, 9000,
    ]);
    const after = await database.db
      .selectFrom('payments')
      .select(['status', 'refunded_amount'])
      .where('id', '=', payment!.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({ status: 'refunded', refunded_amount: 9900 });
  });
});

describe('the CLI', () => {
  it('billing due, run, refund and stats end to end, the secret key redacted in config', async () => {
    const due = new Date(Date.now() - 3_600_000);
    const subs = await Promise.all([1, 2, 3].map(() => createSubscriber(database.db, { due })));
    const env = {
      DATABASE_URL: database.url,
      SUMDA_ENCRYPTION_KEYS: `bill1:${TEST_KEY_B64}`,
      TOSS_SECRET_KEY: TEST_SECRET_KEY,
      TOSS_API_URL: toss.url,
      SUMDA_ACTOR: 'lead@sumda.test',
    };
    const listed = await runSumda(['billing', 'due', '--json'], { env });
    expect(listed.code).toBe(0);
    const dueIds = (JSON.parse(listed.stdout) as { subscription_id: string }[]).map((r) => r.subscription_id);
    for (const s of subs) expect(dueIds).toContain(s.subscriptionId);
    const dry = await runSumda(['billing', 'run', '--dry-run', '--json'], { env });
    expect(dry.code).toBe(0);
    expect(
      toss.double.ledger.some((l) => l.orderId.includes(subs[0]!.subscriptionId.replaceAll('-', ''))),
    ).toBe(false);
    const run = await runSumda(['billing', 'run', '--json'], { env });
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).outcomes.approved).toBeGreaterThanOrEqual(3);
    const [payment] = await paymentsOf(database.db, subs[0]!.subscriptionId);
    const refund = ['billing', 'refund', payment!.id, '--reason', '중복 결제', '--yes', '--json'];
    expect((await runSumda(refund, { env })).code).toBe(0);
    const replay = await runSumda(refund, { env });
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: true });
    expect(toss.double.cancels.filter((c) => c.orderId === payment!.order_id)).toHaveLength(1);
    const stats = await runSumda(['billing', 'stats', '--since', '2020-01-01', '--json'], { env });
    expect(JSON.parse(stats.stdout).renewals.approved).toBeGreaterThanOrEqual(3);
    const config = await runSumda(['config', '--json'], { env });
    expect(config.stdout).not.toContain(TEST_SECRET_KEY);
    expect(JSON.parse(config.stdout).TOSS_SECRET_KEY).toBe('test_sk_*****');
    const noRefundWithoutTty = await runSumda(['billing', 'refund', payment!.id, '--reason', 'x'], { env });
    expect(noRefundWithoutTty.code).toBe(2);
  }, 120_000);

  it('a live key against the local double is refused at start-up', async () => {
    const out = await runSumda(['billing', 'due'], {
      env: { DATABASE_URL: database.url, TOSS_SECRET_KEY: 'live_sk_abc123', TOSS_API_URL: toss.url },
    });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/live key: TOSS_API_URL must be an https URL/);
    expect(out.stderr).not.toContain('live_sk_abc123');
  });
});
