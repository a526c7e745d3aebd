/**
 * Settling an upgrade whose answer was lost. `subscription change-plan` commits a pending
 * `proration` payment (order id from subscription, cycle and target plan) before it calls Toss;
 * when the answer never comes (timeout, dropped connection, the command killed), the reconciler
 * looks the order up and finishes the change here, without the operator:
 * - Toss charged it → the payment approved and the plan changed, in one transaction (or, when the
 *   subscription has moved on meanwhile — canceled, or a new cycle — an operator alert to refund);
 * - Toss closed it without charging, or never saw it → the payment failed and the plan unchanged;
 *   the user is told nothing was charged. `change-plan` run again opens a new attempt.
 * Like every worker action it is recorded in billing's rows (payment attempts, subscription
 * history), not the audit chain: the operator's request was audited when it was made.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, SubscriptionsRow } from '../db/types.ts';
import { notify } from '../notifications/index.ts';
import { billingMessages } from './messages.ts';
import type { TossPayment } from './toss.ts';

/** `u-<subscription hex>-<cycle>-<plan tag>[-<attempt>]`: see prorationOrderId. */
const PRORATION_ORDER = /^u-([0-9a-f]{32})-(\d+)-([0-9a-f]{8})(?:-(\d+))?$/;

export function planTag(plan: string): string {
  return createHash('sha256').update(plan).digest('hex').slice(0, 8);
}

/** The cycle and plan tag a proration order id was derived from. */
export function parseProrationOrderId(orderId: string): { cycle: number; tag: string } | undefined {
  const m = PRORATION_ORDER.exec(orderId);
  return m ? { cycle: Number(m[2]), tag: m[3]! } : undefined;
}

interface UpgradePayment {
  id: string;
  order_id: string;
  subscription_id: string | null;
  amount: number;
}

async function target(db: Kysely<Database>, orderId: string) {
  const parsed = parseProrationOrderId(orderId);
  if (!parsed) return undefined;
  const plans = await db.selectFrom('plans').select(['code', 'name']).execute();
  const plan = plans.find((p) => planTag(p.code) === parsed.tag);
  return plan ? { ...parsed, plan } : undefined;
}

/**
 * A plan change taking effect, in the caller's transaction: the subscription's plan (any pending
 * change cleared), its history row and the user's notice (once per subscription, plan and cycle).
 * `change-plan` applies it with the operator as actor; the reconciler when a lost upgrade payment
 * turns out approved.
 */
export async function applyPlanChange(
  trx: Kysely<Database>,
  change: {
    subscription: { id: string; user_id: string; plan: string; status: SubscriptionsRow['status'] };
    to: { code: string; name: string };
    cycle: number;
    paymentId: string | null;
    /** What the history row records as charged. */
    charged: number;
    /** What the notice tells the user was charged. */
    noticeAmount: number;
    detail: Record<string, unknown>;
    actorId: string | null;
  },
): Promise<void> {
  const { subscription: sub, to } = change;
  await trx
    .updateTable('subscriptions')
    .set({ plan: to.code, pending_plan: null })
    .where('id', '=', sub.id)
    .execute();
  await trx
    .insertInto('subscription_history')
    .values({
      subscription_id: sub.id,
      event: 'plan_changed',
      from_status: sub.status,
      to_status: sub.status,
      payment_id: change.paymentId,
      detail: JSON.stringify({ from: sub.plan, to: to.code, charged: change.charged, ...change.detail }),
      actor_id: change.actorId,
    })
    .execute();
  await notify(trx, sub.user_id, {
    kind: 'billing',
    message: billingMessages.planChanged(to.name, change.noticeAmount),
    dedupeKey: `billing:plan-changed:${sub.id}:${to.code}:${change.cycle}`,
  });
}

/**
 * Toss charged the upgrade: approve the payment (only if still pending) and change the plan, in
 * one transaction. Returns false when another writer settled the payment first.
 */
export async function settleUpgradeApproved(
  db: Kysely<Database>,
  payment: UpgradePayment,
  toss: TossPayment,
  now: Date,
  operation: 'charge' | 'lookup',
): Promise<boolean> {
  const to = await target(db, payment.order_id);
  return db.transaction().execute(async (trx) => {
    const approvedAt = toss.approvedAt ? new Date(toss.approvedAt) : now;
    const updated = await trx
      .updateTable('payments')
      .set({
        status: 'approved',
        provider_tx_id: toss.paymentKey,
        approved_at: Number.isNaN(approvedAt.getTime()) ? now : approvedAt,
        receipt_url: toss.receipt?.url ?? null,
        method: toss.method ?? '카드',
        method_detail: toss.card ? JSON.stringify(toss.card) : null,
        failure_code: null,
        failure_message: null,
      })
      .where('id', '=', payment.id)
      .where('status', '=', 'pending')
      .returning('id')
      .executeTakeFirst();
    if (!updated) return false;
    await trx
      .insertInto('payment_attempts')
      .values({ payment_id: payment.id, operation, outcome: 'approved', http_status: 200, at: now })
      .execute();
    if (!payment.subscription_id) return true;
    const sub = await trx
      .selectFrom('subscriptions')
      .select(['id', 'user_id', 'plan', 'status', 'billing_cycle'])
      .where('id', '=', payment.subscription_id)
      .forUpdate()
      .executeTakeFirst();
    if (!sub) return true;
    if (!to || sub.status === 'canceled' || sub.billing_cycle !== to.cycle) {
      // Paid for a change the subscription can no longer take: keep the record, operators decide
      // on a refund.
      await trx
        .insertInto('subscription_history')
        .values({
          subscription_id: sub.id,
          event: 'operator_alert',
          payment_id: payment.id,
          detail: JSON.stringify({
            problem: 'approved upgrade payment for a subscription that has moved on',
            order_id: payment.order_id,
          }),
        })
        .execute();
      return true;
    }
    if (sub.plan !== to.plan.code) {
      await applyPlanChange(trx, {
        subscription: sub,
        to: to.plan,
        cycle: to.cycle,
        paymentId: payment.id,
        charged: payment.amount,
        noticeAmount: payment.amount,
        detail: { settled_by: 'reconciler' },
        actorId: null,
      });
    }
    return true;
  });
}

/**
 * Toss never charged the upgrade (closed, declined, or unknown to it after the reconcile age):
 * the payment failed, the plan stays, the user is told nothing was charged. False when another
 * writer settled it first.
 */
export async function failUpgrade(
  db: Kysely<Database>,
  payment: UpgradePayment,
  failure: { code: string; message: string | null; httpStatus: number | null },
  now: Date,
): Promise<boolean> {
  const to = await target(db, payment.order_id);
  return db.transaction().execute(async (trx) => {
    const failed = await trx
      .updateTable('payments')
      .set({
        status: 'failed',
        failure_code: failure.code,
        failure_message: failure.message?.slice(0, 500) ?? null,
      })
      .where('id', '=', payment.id)
      .where('status', '=', 'pending')
      .returning('id')
      .executeTakeFirst();
    if (!failed) return false;
    await trx
      .insertInto('payment_attempts')
      .values({
        payment_id: payment.id,
        operation: 'lookup',
        outcome: failure.code === 'NOT_FOUND_PAYMENT' ? 'not_found' : 'failed',
        code: failure.code,
        http_status: failure.httpStatus,
        at: now,
      })
      .execute();
    if (!payment.subscription_id) return true;
    const sub = await trx
      .selectFrom('subscriptions')
      .select(['id', 'user_id', 'status'])
      .where('id', '=', payment.subscription_id)
      .executeTakeFirst();
    if (!sub) return true;
    await trx
      .insertInto('subscription_history')
      .values({
        subscription_id: sub.id,
        event: 'payment_failed',
        from_status: sub.status,
        payment_id: payment.id,
        detail: JSON.stringify({ kind: 'proration', code: failure.code, plan: to?.plan.code ?? null }),
      })
      .execute();
    if (to) {
      await notify(trx, sub.user_id, {
        kind: 'billing',
        message: billingMessages.upgradeNotCharged(to.plan.name),
        dedupeKey: `billing:upgrade-failed:${payment.order_id}`,
      });
    }
    return true;
  });
}
