/**
 * What operators do with billing: plans, one subscription (show, cancel, resume, change plan),
 * refunds and the numbers. Every mutation is role-checked and written with its audit row in one
 * transaction; calls to Toss happen between transactions, with deterministic idempotency keys so a
 * replayed command never charges or refunds twice.
 *
 * Proration (upgrade now): the price difference for the rest of the current period,
 * `floor((new - old) × remaining / period length)` in whole KRW — rounded down, so a user is never
 * charged a won more than the exact share. Below Toss's card minimum (100 KRW) nothing is charged
 * and the plan changes anyway. A downgrade waits for the next renewal (`pending_plan`).
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, SumdaError, UsageError } from '../errors.ts';
import { notify } from '../notifications/index.ts';
import { maskBillingKey, openBillingKey } from './keys.ts';
import { billingMessages } from './messages.ts';
import {
  type BillingDeps,
  periodStartFor,
  prorationOrderId,
  type RenewalResult,
  renewSubscriptions,
  settleApproved,
} from './renewal.ts';
import { dueSubscriptionIds } from './scan.ts';
import { applyPlanChange } from './upgrades.ts';

const CARD_MINIMUM = 100;

// --- plans

export interface PlanInput {
  code: string;
  name: string;
  price: number;
  interval: 'month' | 'year';
  trialDays: number;
  features?: Record<string, unknown>;
}

export async function listPlans(db: Kysely<Database>) {
  return db
    .selectFrom('plans as p')
    .select((eb) => [
      'p.code',
      'p.name',
      'p.price',
      'p.currency',
      'p.billing_interval',
      'p.trial_days',
      'p.is_active',
      eb
        .selectFrom('subscriptions as s')
        .select((e) => e.fn.countAll<number>().as('n'))
        .whereRef('s.plan', '=', 'p.code')
        .where('s.status', '<>', 'canceled')
        .as('subscribers'),
    ])
    .orderBy('p.price')
    .execute();
}

export async function createPlan(db: Kysely<Database>, op: Operation, input: PlanInput) {
  return mutate(
    db,
    op,
    'plan.manage',
    async (trx) => {
      const existing = await trx
        .selectFrom('plans')
        .select('code')
        .where('code', '=', input.code)
        .executeTakeFirst();
      if (existing)
        throw new UsageError(`plan ${input.code} already exists`, { hint: 'use `sumda plan update`' });
      const row = await trx
        .insertInto('plans')
        .values({
          code: input.code,
          name: input.name,
          price: input.price,
          billing_interval: input.interval,
          trial_days: input.trialDays,
          features: JSON.stringify(input.features ?? {}),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: 'plan.create',
        targetType: 'plan',
        targetId: row.code,
        after: row,
      });
      return row;
    },
    { type: 'plan', id: input.code },
  );
}

export async function updatePlan(
  db: Kysely<Database>,
  op: Operation,
  code: string,
  patch: { name?: string; price?: number; trialDays?: number; active?: boolean },
  reason: string,
) {
  const permission = 'plan.manage';
  return mutate(
    db,
    op,
    permission,
    async (trx) => {
      const before = await trx
        .selectFrom('plans')
        .selectAll()
        .where('code', '=', code)
        .forUpdate()
        .executeTakeFirst();
      if (!before) throw new NotFoundError(`no plan ${code}`, { hint: 'see `sumda plan list`' });
      const after = await trx
        .updateTable('plans')
        .set({
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.price !== undefined ? { price: patch.price } : {}),
          ...(patch.trialDays !== undefined ? { trial_days: patch.trialDays } : {}),
          ...(patch.active !== undefined ? { is_active: patch.active } : {}),
        })
        .where('code', '=', code)
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: patch.active === false ? 'plan.deactivate' : 'plan.update',
        targetType: 'plan',
        targetId: code,
        before,
        after,
        reason,
      });
      return { before, after };
    },
    { type: 'plan', id: code },
  );
}

// --- one subscription

async function subscriptionOf(db: Kysely<Database>, who: string) {
  const sub = await db
    .selectFrom('subscriptions')
    .selectAll()
    .where((eb) => eb.or([eb('user_id', '=', who), eb('id', '=', who)]))
    .executeTakeFirst();
  if (!sub)
    throw new NotFoundError(`no subscription for ${who}`, { hint: 'pass a user id or a subscription id' });
  return sub;
}

export async function showSubscription(db: Kysely<Database>, who: string) {
  const sub = await subscriptionOf(db, who);
  const { billing_key_enc: _e, billing_key_digest: _d, ...rest } = sub;
  const [payments, history, consents] = await Promise.all([
    db
      .selectFrom('payments')
      .select([
        'id',
        'order_id',
        'kind',
        'amount',
        'refunded_amount',
        'status',
        'period_start',
        'attempt',
        'failure_code',
        'requested_at',
        'approved_at',
      ])
      .where('subscription_id', '=', sub.id)
      .orderBy('requested_at', 'desc')
      .limit(20)
      .execute(),
    db
      .selectFrom('subscription_history')
      .select(['at', 'event', 'from_status', 'to_status', 'detail'])
      .where('subscription_id', '=', sub.id)
      .orderBy('id', 'desc')
      .limit(20)
      .execute(),
    db
      .selectFrom('billing_consents')
      .select(['kind', 'plan', 'amount', 'consented_at', 'channel'])
      .where('subscription_id', '=', sub.id)
      .orderBy('consented_at', 'desc')
      .execute(),
  ]);
  return {
    subscription: { ...rest, billing_key: maskBillingKey(sub.billing_key_hint) },
    payments,
    history,
    consents,
  };
}

export async function cancelSubscription(
  db: Kysely<Database>,
  op: Operation,
  who: string,
  options: { immediately: boolean; reason: string; now?: Date },
) {
  const sub = await subscriptionOf(db, who);
  return mutate(
    db,
    op,
    'subscription.cancel',
    async (trx) => {
      const before = await trx
        .selectFrom('subscriptions')
        .selectAll()
        .where('id', '=', sub.id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (before.status === 'canceled')
        return { id: sub.id, before: 'canceled', after: 'canceled', changed: false };
      const now = options.now ?? new Date();
      if (options.immediately) {
        await trx
          .updateTable('subscriptions')
          .set({
            status: 'canceled',
            end_date: now,
            cancel_at: now,
            cancel_reason: options.reason,
            next_billing_at: null,
            retry_at: null,
            past_due_since: null,
          })
          .where('id', '=', sub.id)
          .execute();
      } else {
        await trx
          .updateTable('subscriptions')
          .set({ cancel_at: before.next_billing_at ?? now, cancel_reason: options.reason })
          .where('id', '=', sub.id)
          .execute();
      }
      await trx
        .insertInto('subscription_history')
        .values({
          subscription_id: sub.id,
          event: options.immediately ? 'canceled' : 'cancel_scheduled',
          from_status: before.status,
          to_status: options.immediately ? 'canceled' : before.status,
          detail: JSON.stringify({ reason: options.reason, at_period_end: !options.immediately }),
          actor_id: op.actor?.id ?? null,
        })
        .execute();
      await writeAudit(trx, op, {
        action: 'subscription.cancel',
        targetType: 'subscription',
        targetId: sub.id,
        before: { status: before.status, cancel_at: before.cancel_at },
        after: {
          status: options.immediately ? 'canceled' : before.status,
          cancel_at: options.immediately ? now : before.next_billing_at,
        },
        reason: options.reason,
      });
      return {
        id: sub.id,
        before: before.status,
        after: options.immediately ? 'canceled' : `${before.status} (cancels at period end)`,
        changed: true,
      };
    },
    { type: 'subscription', id: sub.id },
  );
}

export async function resumeSubscription(db: Kysely<Database>, op: Operation, who: string, reason: string) {
  const sub = await subscriptionOf(db, who);
  return mutate(
    db,
    op,
    'subscription.resume',
    async (trx) => {
      const before = await trx
        .selectFrom('subscriptions')
        .selectAll()
        .where('id', '=', sub.id)
        .forUpdate()
        .executeTakeFirstOrThrow();
      if (before.status === 'canceled') {
        throw new UsageError(
          'a canceled subscription cannot be resumed; the user subscribes again in the app',
        );
      }
      if (!before.cancel_at) return { id: sub.id, changed: false };
      await trx
        .updateTable('subscriptions')
        .set({ cancel_at: null, cancel_reason: null })
        .where('id', '=', sub.id)
        .execute();
      await trx
        .insertInto('subscription_history')
        .values({
          subscription_id: sub.id,
          event: 'resumed',
          from_status: before.status,
          to_status: before.status,
          detail: JSON.stringify({ reason }),
          actor_id: op.actor?.id ?? null,
        })
        .execute();
      await writeAudit(trx, op, {
        action: 'subscription.resume',
        targetType: 'subscription',
        targetId: sub.id,
        before: { cancel_at: before.cancel_at },
        after: { cancel_at: null },
        reason,
      });
      return { id: sub.id, changed: true };
    },
    { type: 'subscription', id: sub.id },
  );
}

/** The prorated difference of an upgrade, whole KRW rounded down (never a won too many). */
export function prorate(
  oldPrice: number,
  newPrice: number,
  periodStart: Date,
  periodEnd: Date,
  now: Date,
): number {
  const length = periodEnd.getTime() - periodStart.getTime();
  const remaining = Math.max(0, Math.min(length, periodEnd.getTime() - now.getTime()));
  if (length <= 0 || newPrice <= oldPrice) return 0;
  return Math.floor(((newPrice - oldPrice) * remaining) / length);
}

export interface ChangePlanResult {
  subscriptionId: string;
  from: string;
  to: string;
  kind: 'upgrade' | 'downgrade' | 'same';
  charged: number;
  orderId: string | null;
  outcome: 'applied' | 'scheduled' | 'unknown' | 'declined';
  code?: string;
}

export async function changePlan(
  deps: BillingDeps,
  op: Operation,
  who: string,
  target: string,
  options: { reason: string; consentedAt?: Date },
): Promise<ChangePlanResult> {
  const { db } = deps;
  const now = (deps.now ?? (() => new Date()))();
  const sub = await subscriptionOf(db, who);
  if (sub.status === 'canceled') throw new UsageError('the subscription is canceled');
  const [from, to] = await Promise.all([
    db.selectFrom('plans').selectAll().where('code', '=', sub.plan).executeTakeFirstOrThrow(),
    db.selectFrom('plans').selectAll().where('code', '=', target).executeTakeFirst(),
  ]);
  if (!to) throw new NotFoundError(`no plan ${target}`, { hint: 'see `sumda plan list`' });
  if (!to.is_active) throw new UsageError(`plan ${target} is not on sale`);
  if (to.billing_interval !== from.billing_interval) {
    throw new UsageError(
      `plan change between ${from.billing_interval}ly and ${to.billing_interval}ly plans is not supported`,
      {
        hint: 'cancel at period end; the user subscribes to the other plan in the app',
      },
    );
  }
  const base = { subscriptionId: sub.id, from: from.code, to: to.code };
  if (to.code === from.code) return { ...base, kind: 'same', charged: 0, orderId: null, outcome: 'applied' };

  if (to.price < from.price) {
    await mutate(
      db,
      op,
      'subscription.change_plan',
      async (trx) => {
        await trx
          .updateTable('subscriptions')
          .set({ pending_plan: to.code })
          .where('id', '=', sub.id)
          .execute();
        await trx
          .insertInto('subscription_history')
          .values({
            subscription_id: sub.id,
            event: 'downgrade_scheduled',
            detail: JSON.stringify({ from: from.code, to: to.code, reason: options.reason }),
            actor_id: op.actor?.id ?? null,
          })
          .execute();
        if (sub.next_billing_at) {
          await notify(trx, sub.user_id, {
            kind: 'billing',
            message: billingMessages.downgradeScheduled(to.name, sub.next_billing_at),
            dedupeKey: `billing:downgrade:${sub.id}:${to.code}:${sub.billing_cycle}`,
          });
        }
        await writeAudit(trx, op, {
          action: 'subscription.change_plan',
          targetType: 'subscription',
          targetId: sub.id,
          before: { plan: from.code },
          after: { pending_plan: to.code },
          reason: options.reason,
        });
      },
      { type: 'subscription', id: sub.id },
    );
    return { ...base, kind: 'downgrade', charged: 0, orderId: null, outcome: 'scheduled' };
  }

  // Upgrade: a price increase needs the user's consent (전자상거래법), recorded with the change.
  if (!options.consentedAt) {
    throw new UsageError(
      'an upgrade charges more: pass --consented-at <when the user agreed to the new price>',
      {
        hint: 'the consent is recorded; sumda never charges more than the user agreed to',
      },
    );
  }
  if (!sub.next_billing_at || !sub.billing_key_enc || sub.status !== 'active') {
    throw new UsageError('only an active subscription with a card can be upgraded now');
  }
  const anchor = sub.billing_anchor ?? sub.next_billing_at;
  const periodStart =
    sub.billing_anchor && sub.billing_cycle > 0
      ? periodStartFor(anchor, sub.billing_cycle - 1, from.billing_interval)
      : new Date(sub.next_billing_at.getTime() - 30 * 86_400_000);
  const amount =
    prorate(sub.price_override ?? from.price, to.price, periodStart, sub.next_billing_at, now) * sub.quantity;
  let orderId = prorationOrderId(sub.id, sub.billing_cycle, to.code);

  const apply = async (trx: Kysely<Database>, paymentId: string | null) => {
    await applyPlanChange(trx, {
      subscription: { ...sub, plan: from.code },
      to,
      cycle: sub.billing_cycle,
      paymentId,
      charged: amount,
      noticeAmount: paymentId ? amount : 0,
      detail: { reason: options.reason },
      actorId: op.actor?.id ?? null,
    });
    await writeAudit(trx, op, {
      action: 'subscription.change_plan',
      targetType: 'subscription',
      targetId: sub.id,
      before: { plan: from.code },
      after: { plan: to.code, charged: paymentId ? amount : 0, order_id: paymentId ? orderId : null },
      reason: options.reason,
    });
  };

  // Step 1: the consent and (when there is something to charge) the pending payment, committed first.
  const paymentId = await mutate(
    db,
    op,
    'subscription.change_plan',
    async (trx) => {
      await trx
        .insertInto('billing_consents')
        .values({
          subscription_id: sub.id,
          user_id: sub.user_id,
          kind: 'plan_change',
          plan: to.code,
          amount: to.price * sub.quantity,
          consented_at: options.consentedAt!,
          channel: 'operator',
          recorded_by: op.actor?.id ?? null,
        })
        .execute();
      if (amount < CARD_MINIMUM) {
        await apply(trx, null);
        return null;
      }
      // The attempts of this change (same cycle and plan): a replayed command carries on with an
      // open or approved one; after a failed one (declined, or settled as never charged by the
      // reconciler) a new attempt gets its own order id.
      const attempts = await trx
        .selectFrom('payments')
        .select(['id', 'status', 'order_id'])
        .where('subscription_id', '=', sub.id)
        .where('kind', '=', 'proration')
        .where((eb) => eb.or([eb('order_id', '=', orderId), eb('order_id', 'like', `${orderId}-%`)]))
        .orderBy('requested_at', 'desc')
        .execute();
      const latest = attempts[0];
      if (latest && latest.status !== 'failed') {
        orderId = latest.order_id;
        return latest.id;
      }
      if (latest) orderId = prorationOrderId(sub.id, sub.billing_cycle, to.code, attempts.length + 1);
      const row = await trx
        .insertInto('payments')
        .values({
          user_id: sub.user_id,
          subscription_id: sub.id,
          amount,
          order_id: orderId,
          status: 'pending',
          kind: 'proration',
          requested_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return row.id;
    },
    { type: 'subscription', id: sub.id },
  );
  if (paymentId === null) return { ...base, kind: 'upgrade', charged: 0, orderId: null, outcome: 'applied' };

  const payment = await db
    .selectFrom('payments')
    .select(['status'])
    .where('id', '=', paymentId)
    .executeTakeFirstOrThrow();
  if (payment.status === 'approved') {
    await db.transaction().execute((trx) => apply(trx, paymentId));
    return { ...base, kind: 'upgrade', charged: amount, orderId, outcome: 'applied' };
  }
  if (payment.status !== 'pending') {
    throw new SumdaError(`the upgrade payment ${orderId} is ${payment.status}`);
  }
  // Step 2: look up first (a replayed command), then charge with the order id as Idempotency-Key.
  let result = await deps.toss.findByOrderId(orderId, deps.signal);
  if (!result.ok && result.code === 'NOT_FOUND_PAYMENT') {
    result = await deps.toss.charge(
      {
        billingKey: openBillingKey(deps.keyring, sub.id, sub.billing_key_enc),
        customerKey: sub.customer_key ?? `cus_${sub.user_id.replaceAll('-', '')}`,
        amount,
        orderId,
        orderName: `${to.name} 변경 차액`,
        idempotencyKey: orderId,
      },
      deps.signal,
    );
  }
  if (result.ok && result.value.status === 'DONE') {
    // Settled by whoever gets there first: when the reconciler did (this command's answer was slow),
    // it also changed the plan, and there is nothing left to apply.
    if (await settleApproved(db, paymentId, result.value, now, 'charge')) {
      await db.transaction().execute((trx) => apply(trx, paymentId));
    }
    return { ...base, kind: 'upgrade', charged: amount, orderId, outcome: 'applied' };
  }
  if (!result.ok && result.class !== 'unknown' && result.class !== 'temporary') {
    await db
      .updateTable('payments')
      .set({ status: 'failed', failure_code: result.code, failure_message: result.message.slice(0, 500) })
      .where('id', '=', paymentId)
      .where('status', '=', 'pending')
      .execute();
    return { ...base, kind: 'upgrade', charged: 0, orderId, outcome: 'declined', code: result.code };
  }
  return {
    ...base,
    kind: 'upgrade',
    charged: 0,
    orderId,
    outcome: 'unknown',
    code: result.ok ? result.value.status : result.code,
  };
}

// --- refunds

export interface RefundResult {
  paymentId: string;
  orderId: string;
  refunded: number;
  refundedTotal: number;
  status: string;
  replayed: boolean;
}

/**
 * Refunds a payment (fully, or `amount` KRW) through Toss's cancel API. The idempotency key is
 * derived from (payment, amount, reason): the same refund replayed refunds once.
 */
export async function refundPayment(
  deps: BillingDeps,
  op: Operation,
  paymentId: string,
  options: { amount?: number; reason: string },
): Promise<RefundResult> {
  const { db } = deps;
  const payment = await db.selectFrom('payments').selectAll().where('id', '=', paymentId).executeTakeFirst();
  if (!payment) throw new NotFoundError(`no payment ${paymentId}`);
  if (!payment.provider_tx_id || !['approved', 'partially_refunded', 'refunded'].includes(payment.status)) {
    throw new UsageError(
      `payment ${payment.order_id} is ${payment.status}: only an approved payment can be refunded`,
    );
  }
  const key = `refund-${createHash('sha256')
    .update(`${paymentId}|${options.amount ?? 'all'}|${options.reason}`)
    .digest('hex')
    .slice(0, 40)}`;
  const refund = await mutate(
    db,
    op,
    'billing.refund',
    async (trx) => {
      const existing = await trx
        .selectFrom('payment_refunds')
        .selectAll()
        .where('idempotency_key', '=', key)
        .executeTakeFirst();
      if (existing) return existing;
      const remaining = payment.amount - payment.refunded_amount;
      if (remaining <= 0) throw new UsageError(`payment ${payment.order_id} is already fully refunded`);
      if (options.amount !== undefined && options.amount > remaining) {
        throw new UsageError(`--amount ${options.amount} is more than the ${remaining} KRW left to refund`);
      }
      const row = await trx
        .insertInto('payment_refunds')
        .values({
          payment_id: paymentId,
          idempotency_key: key,
          amount: options.amount ?? null,
          reason: options.reason,
          requested_by: op.actor?.id ?? null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: 'billing.refund',
        targetType: 'payment',
        targetId: paymentId,
        before: { status: payment.status, refunded_amount: payment.refunded_amount },
        after: { requested: options.amount ?? remaining, idempotency_key: key },
        reason: options.reason,
      });
      return row;
    },
    { type: 'payment', id: paymentId },
  );
  if (refund.status === 'done') {
    return {
      paymentId,
      orderId: payment.order_id,
      refunded: 0,
      refundedTotal: payment.refunded_amount,
      status: payment.status,
      replayed: true,
    };
  }
  const result = await deps.toss.cancel(
    {
      paymentKey: payment.provider_tx_id,
      cancelReason: options.reason,
      cancelAmount: options.amount,
      idempotencyKey: key,
    },
    deps.signal,
  );
  if (!result.ok) {
    if (result.class !== 'unknown' && result.class !== 'temporary') {
      await db
        .updateTable('payment_refunds')
        .set({ status: 'failed', failure_code: result.code })
        .where('id', '=', refund.id)
        .execute();
    }
    throw new SumdaError(`Toss did not refund ${payment.order_id}: ${result.code} ${result.message}`, {
      hint:
        result.class === 'unknown' || result.class === 'temporary'
          ? 'run the same command again: it refunds at most once'
          : undefined,
    });
  }
  const refundedTotal = result.value.totalAmount - result.value.balanceAmount;
  return db.transaction().execute(async (trx) => {
    const before = await trx
      .selectFrom('payments')
      .select(['status', 'refunded_amount'])
      .where('id', '=', paymentId)
      .forUpdate()
      .executeTakeFirstOrThrow();
    const status =
      refundedTotal >= payment.amount ? 'refunded' : refundedTotal > 0 ? 'partially_refunded' : before.status;
    await trx
      .updateTable('payments')
      .set({ refunded_amount: refundedTotal, status })
      .where('id', '=', paymentId)
      .execute();
    const done = await trx
      .updateTable('payment_refunds')
      .set({ status: 'done', done_at: new Date() })
      .where('id', '=', refund.id)
      .where('status', '<>', 'done')
      .returning('id')
      .executeTakeFirst();
    await trx
      .insertInto('payment_attempts')
      .values({
        payment_id: paymentId,
        operation: 'cancel',
        outcome: 'canceled',
        http_status: result.httpStatus,
      })
      .execute();
    const refunded = refundedTotal - before.refunded_amount;
    if (done && refunded > 0 && payment.user_id) {
      await notify(trx, payment.user_id, {
        kind: 'billing',
        message: billingMessages.refunded(refunded),
        dedupeKey: `billing:refund:${key}`,
      });
    }
    await writeAudit(trx, op, {
      action: 'billing.refund',
      targetType: 'payment',
      targetId: paymentId,
      before,
      after: { status, refunded_amount: refundedTotal },
      reason: options.reason,
    });
    return {
      paymentId,
      orderId: payment.order_id,
      refunded,
      refundedTotal,
      status,
      replayed: !done || refunded === 0,
    };
  });
}

// --- running renewals from the CLI

/** Renewals per batch in `billing run` (as the worker's `billing.renew` batches). */
const RUN_BATCH = 8;

export interface RunResult {
  due: number;
  results: RenewalResult[];
}

/** Renews what is due now, `concurrency` at a time in batches (the same code as the worker's). */
export async function runDueRenewals(
  deps: BillingDeps,
  options: { limit: number; concurrency: number; onDone?: (r: RenewalResult) => void },
): Promise<RunResult> {
  const now = (deps.now ?? (() => new Date()))();
  const ids = await dueSubscriptionIds(deps.db, now, { limit: options.limit });
  const results: RenewalResult[] = [];
  // The worker's batch size: enough renewals per lane that their round trips are shared.
  const batch = Math.max(1, Math.min(RUN_BATCH, Math.ceil(ids.length / options.concurrency)));
  const lanes = Math.max(1, Math.floor(options.concurrency / batch));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(lanes, ids.length) }, async () => {
      while (next < ids.length && !deps.signal?.aborted) {
        const chunk = ids.slice(next, next + batch);
        next += chunk.length;
        const done = await renewSubscriptions(deps, chunk);
        for (const id of chunk) {
          const r = done.get(id)!;
          if (r instanceof Error) throw r;
          results.push(r);
          options.onDone?.(r);
        }
      }
    }),
  );
  return { due: ids.length, results };
}

// --- numbers

export async function billingStats(db: Kysely<Database>, since: Date) {
  const [revenue, renewals, failures, recoveries, churn] = await Promise.all([
    sql<{ plan: string; payments: number; revenue: number; refunded: number }>`
      select coalesce(s.plan, '(detached)') as plan, count(*)::int as payments,
             sum(p.amount)::bigint as revenue, sum(p.refunded_amount)::bigint as refunded
      from public.payments p left join public.subscriptions s on s.id = p.subscription_id
      where p.status in ('approved', 'partially_refunded', 'refunded') and p.approved_at >= ${since}
      group by 1 order by revenue desc`.execute(db),
    sql<{ attempts: number; approved: number; failed: number; pending: number }>`
      select count(*)::int as attempts,
             count(*) filter (where status in ('approved', 'partially_refunded', 'refunded'))::int as approved,
             count(*) filter (where status = 'failed')::int as failed,
             count(*) filter (where status = 'pending')::int as pending
      from public.payments where kind = 'renewal' and requested_at >= ${since}`.execute(db),
    sql<{ code: string; n: number }>`
      select failure_code as code, count(*)::int as n from public.payments
      where status = 'failed' and requested_at >= ${since} and failure_code is not null
      group by 1 order by n desc limit 10`.execute(db),
    sql<{ n: number }>`
      select count(*)::int as n from public.subscription_history where event = 'recovered' and at >= ${since}`.execute(
      db,
    ),
    sql<{ reason: string; n: number }>`
      select coalesce(detail->>'reason', '(unknown)') as reason, count(*)::int as n from public.subscription_history
      where event = 'canceled' and at >= ${since} group by 1 order by n desc`.execute(db),
  ]);
  const r = renewals.rows[0] ?? { attempts: 0, approved: 0, failed: 0, pending: 0 };
  const settled = r.approved + r.failed;
  return {
    since,
    revenueByPlan: revenue.rows,
    renewals: { ...r, successRate: settled > 0 ? Math.round((r.approved / settled) * 1000) / 10 : null },
    failureCodes: failures.rows,
    dunningRecoveries: recoveries.rows[0]?.n ?? 0,
    churn: churn.rows,
  };
}
