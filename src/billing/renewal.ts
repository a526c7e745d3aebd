/**
 * Renewals: charge each due subscription exactly once per period, with any number of workers.
 *
 * The protocol (one subscription):
 * 1. In a short transaction that locks the subscription row: decide (cancel at period end, banned
 *    user, trial without card or consent, the amount the user consented to) and, when a charge is
 *    due, commit a `pending` payment whose `order_id` is derived from (subscription, period,
 *    attempt) — BEFORE Toss is called. The database allows one open attempt and one charged
 *    payment per (subscription, period) (partial unique indexes).
 * 2. If a pending payment already existed (a previous worker died, timed out or lost the answer),
 *    look it up by order id first; only a look-up that says "never seen" leads to a POST, with the
 *    same order id and the same Idempotency-Key, so Toss itself refuses to charge twice.
 * 3. Apply the outcome in a second transaction, guarded by `status = 'pending'` so only one writer
 *    settles a payment: approved → next period from the anchor; unknown → stays pending and is
 *    looked up later; temporary → retried later, same order id; soft decline → dunning; hard
 *    decline → the card is dropped and the user asked for a new one; our bug → error_logs, no dunning.
 *
 * The worker's own actions are recorded in billing's rows (payments, payment_attempts,
 * subscription_history), not in the audit chain. Instants come from the caller's clock (`now`), so
 * tests and the demo can move time; the worker passes the wall clock.
 *
 * Glossary: *period* — [next_billing_at, next next) being billed; *anchor* — the first billing
 * instant, period n starts at anchor + n intervals (Seoul calendar, month-end clamped); *grace* —
 * from the due date to its last dunning day, the user keeps every feature.
 */
import { createHash } from 'node:crypto';
import type { Insertable } from 'kysely';
import { type Kysely, sql } from 'kysely';
import type { BillingConfig } from '../config/index.ts';
import type { Keyring } from '../crypto/index.ts';
import type { Database, SubscriptionHistoryTable } from '../db/types.ts';
import { recordError } from '../errorlog.ts';
import { PgCode, pgCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { notify } from '../notifications/index.ts';
import { addMonths, seoulDate } from '../time/calendar.ts';
import { openBillingKey } from './keys.ts';
import { billingMessages } from './messages.ts';
import { NOT_FOUND_PAYMENT, type TossClient, type TossFailure, type TossPayment } from './toss.ts';

const DAY_MS = 86_400_000;
/** Back-off before re-driving a payment whose outcome is unknown (it is looked up first). */
export const UNKNOWN_RETRY_MS = 2 * 60_000;
/** Back-off after a temporary error (same order id and key). */
export const TEMPORARY_RETRY_MS = 10 * 60_000;
/** Back-off after a config error (an operator has to look; we do not hammer Toss meanwhile). */
export const CONFIG_RETRY_MS = 60 * 60_000;
/** A price increase or trial conversion counts a consent given within this window before the charge. */
export const CONSENT_WINDOW_MS = 30 * DAY_MS;

export interface BillingDeps {
  db: Kysely<Database>;
  keyring: Keyring;
  toss: TossClient;
  config: BillingConfig;
  log?: Logger | undefined;
  /** The clock; default the wall clock. */
  now?: () => Date;
  signal?: AbortSignal | undefined;
}

export type RenewalOutcome =
  | 'not_due'
  | 'approved'
  | 'unknown'
  | 'temporary'
  | 'soft_decline'
  | 'hard_decline'
  | 'config'
  | 'canceled'
  | 'free_renewal'
  | 'busy';

export interface RenewalResult {
  subscriptionId: string;
  outcome: RenewalOutcome;
  orderId?: string;
  amount?: number;
  code?: string;
  /** Set when Toss was asked to charge in this call. */
  posted?: boolean;
}

/** Months per billing interval. */
export function intervalMonths(interval: 'month' | 'year'): number {
  return interval === 'year' ? 12 : 1;
}

/** The deterministic order id of a renewal attempt: also its Idempotency-Key. */
export function renewalOrderId(subscriptionId: string, periodStart: Date, attempt: number): string {
  return `r-${subscriptionId.replaceAll('-', '')}-${seoulDate(periodStart).replaceAll('-', '')}-${attempt}`;
}

/** The deterministic order id of a prorated upgrade (subscription, cycle, target plan). */
export function prorationOrderId(subscriptionId: string, cycle: number, plan: string): string {
  const tag = createHash('sha256').update(plan).digest('hex').slice(0, 8);
  return `u-${subscriptionId.replaceAll('-', '')}-${cycle}-${tag}`;
}

/** The start of period n for an anchor. */
export function periodStartFor(anchor: Date, cycle: number, interval: 'month' | 'year'): Date {
  return addMonths(anchor, cycle * intervalMonths(interval));
}

type Trx = Kysely<Database>;

interface SubscriptionRow {
  id: string;
  user_id: string;
  plan: string;
  status: 'trial' | 'active' | 'past_due' | 'canceled';
  customer_key: string | null;
  next_billing_at: Date | null;
  cancel_at: Date | null;
  trial_end: Date | null;
  quantity: number;
  price_override: number | null;
  billing_key_enc: Buffer | null;
  billing_anchor: Date | null;
  billing_cycle: number;
  retry_at: Date | null;
  dunning_attempt: number;
  past_due_since: Date | null;
  pending_plan: string | null;
  user_state: string;
  user_email: string | null;
  user_nickname: string;
}

interface PlanRow {
  code: string;
  name: string;
  price: number;
  billing_interval: 'month' | 'year';
}

async function lockSubscription(trx: Trx, id: string): Promise<SubscriptionRow | undefined> {
  return trx
    .selectFrom('subscriptions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id',
      's.plan',
      's.status',
      's.customer_key',
      's.next_billing_at',
      's.cancel_at',
      's.trial_end',
      's.quantity',
      's.price_override',
      's.billing_key_enc',
      's.billing_anchor',
      's.billing_cycle',
      's.retry_at',
      's.dunning_attempt',
      's.past_due_since',
      's.pending_plan',
      'u.state as user_state',
      'u.email as user_email',
      'u.nickname as user_nickname',
    ])
    .where('s.id', '=', id)
    .forUpdate('s')
    .executeTakeFirst() as Promise<SubscriptionRow | undefined>;
}

async function planOf(db: Trx, code: string): Promise<PlanRow> {
  return db
    .selectFrom('plans')
    .select(['code', 'name', 'price', 'billing_interval'])
    .where('code', '=', code)
    .executeTakeFirstOrThrow();
}

/** The list price of a subscription's next period (a scheduled downgrade applies now). */
export function listAmount(sub: Pick<SubscriptionRow, 'price_override' | 'quantity'>, plan: PlanRow): number {
  return (sub.price_override ?? plan.price) * sub.quantity;
}

/**
 * The most the user agreed to be charged for a period due at `due`, or null without any consent:
 * the last approved renewal, a `subscribe` or `plan_change` consent (they do not lapse), or a
 * `trial_conversion` / `price_increase` consent given within the 30 days before the charge.
 */
export async function consentedCap(
  db: Trx,
  subscriptionId: string,
  due: Date,
  now: Date,
): Promise<number | null> {
  const row = await sql<{ cap: number | null }>`
    select greatest(
      (select amount from public.payments
        where subscription_id = ${subscriptionId} and kind = 'renewal'
          and status in ('approved', 'partially_refunded', 'refunded')
        order by period_start desc limit 1),
      (select max(amount) from public.billing_consents
        where subscription_id = ${subscriptionId} and consented_at <= ${now}
          and (kind in ('subscribe', 'plan_change')
               or consented_at > ${new Date(due.getTime() - CONSENT_WINDOW_MS)}))
    )::bigint as cap`.execute(db);
  return row.rows[0]?.cap ?? null;
}

async function history(
  trx: Trx,
  subscriptionId: string,
  event: Insertable<SubscriptionHistoryTable>['event'],
  fields: {
    from?: string | null;
    to?: string | null;
    paymentId?: string | null;
    detail?: object;
    actorId?: string | null;
  } = {},
): Promise<void> {
  await trx
    .insertInto('subscription_history')
    .values({
      subscription_id: subscriptionId,
      event,
      from_status: fields.from ?? null,
      to_status: fields.to ?? null,
      payment_id: fields.paymentId ?? null,
      detail: JSON.stringify(fields.detail ?? {}),
      actor_id: fields.actorId ?? null,
    })
    .execute();
}

async function attemptRow(
  trx: Trx,
  paymentId: string,
  operation: 'charge' | 'lookup' | 'cancel',
  outcome:
    | 'approved'
    | 'unknown'
    | 'temporary'
    | 'soft_decline'
    | 'hard_decline'
    | 'config'
    | 'not_found'
    | 'canceled'
    | 'failed',
  failure?: Pick<TossFailure, 'code' | 'message' | 'httpStatus'> | { httpStatus: number },
  at?: Date,
): Promise<void> {
  const f = failure as Partial<TossFailure> | undefined;
  await trx
    .insertInto('payment_attempts')
    .values({
      payment_id: paymentId,
      operation,
      outcome,
      code: f?.code ?? null,
      message: f?.message?.slice(0, 500) ?? null,
      http_status: f?.httpStatus ?? null,
      ...(at ? { at } : {}),
    })
    .execute();
}

/** Cancels a subscription at its due date (no charge), telling the user why. */
async function cancelAtDue(
  trx: Trx,
  sub: SubscriptionRow,
  reason: string,
  message: ReturnType<(typeof billingMessages)[keyof typeof billingMessages]> | null,
  due: Date,
): Promise<void> {
  await trx
    .updateTable('subscriptions')
    .set({
      status: 'canceled',
      end_date: due,
      cancel_reason: reason,
      retry_at: null,
      past_due_since: null,
      next_billing_at: null,
    })
    .where('id', '=', sub.id)
    .execute();
  await history(trx, sub.id, 'canceled', { from: sub.status, to: 'canceled', detail: { reason } });
  if (message) {
    await notify(trx, sub.user_id, {
      kind: 'billing',
      message,
      dedupeKey: `billing:canceled:${sub.id}:${due.toISOString()}`,
    });
  }
}

function isDue(sub: SubscriptionRow, now: Date): boolean {
  if (sub.status === 'canceled' || !sub.next_billing_at) return false;
  if (sub.next_billing_at.getTime() > now.getTime()) return false;
  return !sub.retry_at || sub.retry_at.getTime() <= now.getTime();
}

/** The last dunning day: the end of the grace period for a period due at `due`. */
export function graceEnd(config: BillingConfig, due: Date): Date {
  return new Date(due.getTime() + (config.dunningDays.at(-1) ?? 0) * DAY_MS);
}

/** How an approved renewal moves its subscription on, computed while the row was locked. */
interface Advance {
  plan: string;
  anchor: Date;
  cycle: number;
  next: Date;
  fromStatus: SubscriptionRow['status'];
  period: Date;
}

interface Prepared {
  kind: 'charge';
  advance: Advance;
  paymentId: string;
  orderId: string;
  amount: number;
  fresh: boolean;
  billingKey: string | null;
  customerKey: string;
  orderName: string;
  email: string | null;
  name: string;
}

interface RenewalView extends SubscriptionRow {
  plan_code: string;
  plan_name: string;
  plan_price: number;
  plan_interval: 'month' | 'year';
  open_id: string | null;
  open_order_id: string | null;
  open_amount: number | null;
  last_attempt: number;
  cap: number | null;
  paid_id: string | null;
}

/**
 * Everything the decision needs, the subscription row locked, in one statement (a renewal is a
 * handful of round trips: the database, not Toss, is what a busy machine waits on).
 */
async function loadForRenewal(trx: Trx, id: string, now: Date): Promise<RenewalView | undefined> {
  const windowStart = sql`s.next_billing_at - ${`${CONSENT_WINDOW_MS / 1000} seconds`}::interval`;
  const rows = await sql<RenewalView>`
    select s.id, s.user_id, s.plan, s.status, s.customer_key, s.next_billing_at, s.cancel_at, s.trial_end,
           s.quantity, s.price_override, s.billing_key_enc, s.billing_anchor, s.billing_cycle, s.retry_at,
           s.dunning_attempt, s.past_due_since, s.pending_plan,
           u.state as user_state, u.email as user_email, u.nickname as user_nickname,
           p.code as plan_code, p.name as plan_name, p.price as plan_price, p.billing_interval as plan_interval,
           o.id as open_id, o.order_id as open_order_id, o.amount as open_amount,
           (select x.id from public.payments x
             where x.subscription_id = s.id and x.kind = 'renewal' and x.period_start = s.next_billing_at
               and x.status in ('approved', 'partially_refunded', 'refunded') limit 1) as paid_id,
           (select coalesce(max(x.attempt), 0) from public.payments x
             where x.subscription_id = s.id and x.kind = 'renewal' and x.period_start = s.next_billing_at)::int as last_attempt,
           greatest(
             (select x.amount from public.payments x
               where x.subscription_id = s.id and x.kind = 'renewal'
                 and x.status in ('approved', 'partially_refunded', 'refunded')
               order by x.period_start desc limit 1),
             (select max(c.amount) from public.billing_consents c
               where c.subscription_id = s.id and c.consented_at <= ${now}
                 and (c.kind in ('subscribe', 'plan_change') or c.consented_at > ${windowStart}))
           )::bigint as cap
    from public.subscriptions s
    join public.users u on u.id = s.user_id
    join public.plans p on p.code = coalesce(s.pending_plan, s.plan)
    left join public.payments o on o.subscription_id = s.id and o.kind = 'renewal'
      and o.period_start = s.next_billing_at and o.status = 'pending'
    where s.id = ${id}
    for update of s`.execute(trx);
  return rows.rows[0];
}

/** Step 1: decide, and commit the pending payment (or find the open one). */
async function prepare(
  deps: BillingDeps,
  subscriptionId: string,
  now: Date,
): Promise<Prepared | RenewalResult> {
  return deps.db.transaction().execute(async (trx) => {
    const sub = await loadForRenewal(trx, subscriptionId, now);
    if (!sub || !isDue(sub, now)) return { subscriptionId, outcome: 'not_due' as const };
    const due = sub.next_billing_at!;
    const open = sub.open_id
      ? { id: sub.open_id, order_id: sub.open_order_id!, amount: sub.open_amount! }
      : undefined;
    const plan: PlanRow = {
      code: sub.plan_code,
      name: sub.plan_name,
      price: sub.plan_price,
      billing_interval: sub.plan_interval,
    };
    const anchor = sub.billing_anchor ?? due;
    const cycle = sub.billing_anchor ? sub.billing_cycle + 1 : 1;
    const advance: Advance = {
      plan: plan.code,
      anchor,
      cycle,
      next: periodStartFor(anchor, cycle, plan.billing_interval),
      fromStatus: sub.status,
      period: due,
    };
    if (sub.paid_id) {
      // This period is already paid (imported data, or a settle that could not move the row): move
      // on without charging again.
      await advancePeriod(trx, sub, plan, { id: sub.paid_id, approvedAt: now }, now);
      return { subscriptionId, outcome: 'approved' as const, code: 'ALREADY_PAID' };
    }
    const common = {
      advance,
      customerKey: sub.customer_key ?? `cus_${sub.user_id.replaceAll('-', '')}`,
      orderName: `${plan.name} 정기결제`,
      email: sub.user_email,
      name: sub.user_nickname,
      billingKey: sub.billing_key_enc ? openBillingKey(deps.keyring, sub.id, sub.billing_key_enc) : null,
    };
    if (open) {
      return {
        kind: 'charge' as const,
        paymentId: open.id,
        orderId: open.order_id,
        amount: open.amount,
        fresh: false,
        ...common,
      };
    }

    // Never charged: banned or resigned accounts, a cancellation due by now, a trial without a card.
    if (sub.user_state === 'banned' || sub.user_state === 'resigned') {
      await cancelAtDue(trx, sub, `account ${sub.user_state}: never charged`, null, due);
      return { subscriptionId, outcome: 'canceled' as const, code: `USER_${sub.user_state.toUpperCase()}` };
    }
    if (sub.cancel_at && sub.cancel_at.getTime() <= due.getTime()) {
      await cancelAtDue(trx, sub, 'canceled at period end', billingMessages.canceledAtPeriodEnd(), due);
      return { subscriptionId, outcome: 'canceled' as const, code: 'CANCEL_AT' };
    }
    if (!common.billingKey) {
      if (sub.status === 'trial') {
        await cancelAtDue(trx, sub, 'trial ended without a card', billingMessages.trialEnded('no_card'), due);
        return { subscriptionId, outcome: 'canceled' as const, code: 'NO_CARD' };
      }
      // A card was dropped after a hard decline: the grace period runs to its last dunning day.
      if (now.getTime() >= graceEnd(deps.config, due).getTime()) {
        await cancelAtDue(
          trx,
          sub,
          'no valid card by the end of the grace period',
          billingMessages.canceledAfterDunning(),
          due,
        );
        return { subscriptionId, outcome: 'canceled' as const, code: 'NO_CARD' };
      }
      await trx
        .updateTable('subscriptions')
        .set({
          retry_at: graceEnd(deps.config, due),
          status: 'past_due',
          past_due_since: sub.past_due_since ?? now,
        })
        .where('id', '=', sub.id)
        .execute();
      return { subscriptionId, outcome: 'hard_decline' as const, code: 'NO_CARD' };
    }

    // The amount: the list price, never above what the user consented to.
    const list = listAmount(sub, plan);
    const cap = sub.cap;
    if (cap === null) {
      const reason =
        sub.status === 'trial'
          ? 'trial ended without consent to paid conversion'
          : 'no consent to be charged';
      await cancelAtDue(trx, sub, reason, billingMessages.trialEnded('no_consent'), due);
      return { subscriptionId, outcome: 'canceled' as const, code: 'NO_CONSENT' };
    }
    const amount = Math.min(list, cap);
    if (amount < list) {
      await history(trx, sub.id, 'price_capped', {
        detail: { list, charged: amount, period: due.toISOString() },
      });
      await notify(trx, sub.user_id, {
        kind: 'billing',
        message: billingMessages.priceIncreaseNotice(plan.name, amount, list, due),
        dedupeKey: `billing:price-consent:${sub.id}:${due.toISOString()}`,
      });
    }
    if (amount === 0) {
      await advancePeriod(trx, sub, plan, null, now);
      return { subscriptionId, outcome: 'free_renewal' as const, amount: 0 };
    }

    // The renewal notice goes out `noticeLeadDays` ahead (scan); one that did not is sent now.
    await notify(trx, sub.user_id, {
      kind: 'billing',
      message:
        sub.status === 'trial'
          ? billingMessages.trialConversionNotice(plan.name, amount, due)
          : billingMessages.renewalNotice(plan.name, amount, due),
      dedupeKey: noticeKey(sub.id, due),
    });
    const attempt = sub.last_attempt + 1;
    const orderId = renewalOrderId(sub.id, due, attempt);
    const payment = await trx
      .insertInto('payments')
      .values({
        user_id: sub.user_id,
        subscription_id: sub.id,
        amount,
        currency: 'KRW',
        order_id: orderId,
        status: 'pending',
        kind: 'renewal',
        period_start: due,
        attempt,
        requested_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { kind: 'charge' as const, paymentId: payment.id, orderId, amount, fresh: true, ...common };
  });
}

export function noticeKey(subscriptionId: string, due: Date): string {
  return `billing:notice:${subscriptionId}:${due.getTime()}`;
}

/** Moves a subscription to its next period after a paid (or free) one. */
async function advancePeriod(
  trx: Trx,
  sub: SubscriptionRow,
  plan: PlanRow,
  payment: { id: string; approvedAt: Date } | null,
  now: Date,
): Promise<void> {
  const anchor = sub.billing_anchor ?? sub.next_billing_at!;
  const cycle = sub.billing_anchor ? sub.billing_cycle + 1 : 1;
  const next = periodStartFor(anchor, cycle, plan.billing_interval);
  await trx
    .updateTable('subscriptions')
    .set({
      status: 'active',
      plan: plan.code,
      pending_plan: null,
      billing_anchor: anchor,
      billing_cycle: cycle,
      next_billing_at: next,
      last_billed_at: payment?.approvedAt ?? now,
      retry_at: null,
      dunning_attempt: 0,
      past_due_since: null,
    })
    .where('id', '=', sub.id)
    .execute();
  const event =
    sub.status === 'trial' ? 'trial_converted' : sub.status === 'past_due' ? 'recovered' : 'renewed';
  await history(trx, sub.id, event, {
    from: sub.status,
    to: 'active',
    paymentId: payment?.id ?? null,
    detail: { period: sub.next_billing_at!.toISOString(), next: next.toISOString(), plan: plan.code },
  });
}

function approvedAtOf(payment: TossPayment, now: Date): Date {
  const at = payment.approvedAt ? new Date(payment.approvedAt) : now;
  return Number.isNaN(at.getTime()) ? now : at;
}

/**
 * Settles a payment Toss reports DONE: approved, and — for a renewal of the subscription's current
 * period — the subscription moves on. Returns false when another writer settled it first.
 */
export async function settleApproved(
  db: Kysely<Database>,
  paymentId: string,
  toss: TossPayment,
  now: Date,
  operation: 'charge' | 'lookup',
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const approvedAt = approvedAtOf(toss, now);
    const updated = await trx
      .updateTable('payments')
      .set({
        status: 'approved',
        provider_tx_id: toss.paymentKey,
        approved_at: approvedAt,
        receipt_url: toss.receipt?.url ?? null,
        method: toss.method ?? '카드',
        method_detail: toss.card ? JSON.stringify(toss.card) : null,
        failure_code: null,
        failure_message: null,
      })
      .where('id', '=', paymentId)
      .where('status', '=', 'pending')
      .returning(['id', 'subscription_id', 'kind', 'period_start'])
      .executeTakeFirst();
    if (!updated) return false;
    await attemptRow(trx, paymentId, operation, 'approved', { httpStatus: 200 }, now);
    if (updated.kind === 'renewal' && updated.subscription_id && updated.period_start) {
      const sub = await lockSubscription(trx, updated.subscription_id);
      if (
        sub &&
        sub.next_billing_at?.getTime() === updated.period_start.getTime() &&
        sub.status !== 'canceled'
      ) {
        const plan = await planOf(trx, sub.pending_plan ?? sub.plan);
        await advancePeriod(trx, sub, plan, { id: paymentId, approvedAt }, now);
      } else if (sub) {
        // Paid for a period the subscription already left (canceled meanwhile): keep the record,
        // tell operators, who decide on a refund.
        await history(trx, sub.id, 'operator_alert', {
          paymentId,
          detail: { problem: 'approved payment for a period the subscription is no longer in' },
        });
      }
    }
    return true;
  });
}

/**
 * The common case of settling, as one statement: the payment approved (only if still pending),
 * its attempt row, the subscription moved to the next period (only if it is still in the period
 * paid for) and the history row. Returns whether the payment was settled here and whether the
 * subscription moved; a settled payment whose subscription did not move gets an operator alert.
 */
async function settleRenewal(
  db: Kysely<Database>,
  paymentId: string,
  toss: TossPayment,
  advance: Advance,
  now: Date,
  operation: 'charge' | 'lookup',
): Promise<boolean> {
  const approvedAt = approvedAtOf(toss, now);
  const event =
    advance.fromStatus === 'trial'
      ? 'trial_converted'
      : advance.fromStatus === 'past_due'
        ? 'recovered'
        : 'renewed';
  const detail = JSON.stringify({
    period: advance.period.toISOString(),
    next: advance.next.toISOString(),
    plan: advance.plan,
  });
  const result = await sql<{ settled: number; advanced: number; subscription_id: string | null }>`
    with upd as (
      update public.payments
      set status = 'approved', provider_tx_id = ${toss.paymentKey}, approved_at = ${approvedAt},
          receipt_url = ${toss.receipt?.url ?? null}, method = ${toss.method ?? '카드'},
          method_detail = ${toss.card ? JSON.stringify(toss.card) : null}::jsonb, failure_code = null, failure_message = null
      where id = ${paymentId} and status = 'pending'
      returning id, subscription_id, period_start
    ), att as (
      insert into public.payment_attempts (payment_id, operation, outcome, http_status, at)
      select id, ${operation}, 'approved', 200, ${now} from upd
    ), sub as (
      update public.subscriptions s
      set status = 'active', plan = ${advance.plan}, pending_plan = null, billing_anchor = ${advance.anchor},
          billing_cycle = ${advance.cycle}, next_billing_at = ${advance.next}, last_billed_at = ${approvedAt},
          retry_at = null, dunning_attempt = 0, past_due_since = null
      from upd
      where s.id = upd.subscription_id and s.next_billing_at = upd.period_start and s.status <> 'canceled'
      returning s.id
    ), hist as (
      insert into public.subscription_history (subscription_id, event, from_status, to_status, payment_id, detail)
      select sub.id, ${event}, ${advance.fromStatus}, 'active', ${paymentId}, ${detail}::jsonb from sub
    )
    select (select count(*) from upd)::int as settled, (select count(*) from sub)::int as advanced,
           (select subscription_id from upd) as subscription_id`.execute(db);
  const row = result.rows[0]!;
  if (row.settled === 1 && row.advanced === 0 && row.subscription_id) {
    await history(db, row.subscription_id, 'operator_alert', {
      paymentId,
      detail: { problem: 'approved payment for a period the subscription is no longer in' },
    });
  }
  return row.settled === 1;
}

/** Step 3 for failures: what each class does. */
async function applyFailure(
  deps: BillingDeps,
  prepared: Prepared,
  subscriptionId: string,
  failure: TossFailure,
  now: Date,
  operation: 'charge' | 'lookup',
): Promise<RenewalOutcome> {
  const { db, config } = deps;
  const cls = failure.class;
  if (cls === 'unknown' || cls === 'temporary') {
    await db.transaction().execute(async (trx) => {
      await attemptRow(trx, prepared.paymentId, operation, cls, failure, now);
      // An unknown outcome is looked up again no later than the reconciler would.
      const wait =
        cls === 'unknown'
          ? Math.min(UNKNOWN_RETRY_MS, config.reconcileAfterSeconds * 1000)
          : TEMPORARY_RETRY_MS;
      await trx
        .updateTable('subscriptions')
        .set({ retry_at: new Date(now.getTime() + wait) })
        .where('id', '=', subscriptionId)
        .execute();
    });
    return cls;
  }
  let outcome: RenewalOutcome = cls;
  await db.transaction().execute(async (trx) => {
    const failed = await trx
      .updateTable('payments')
      .set({ status: 'failed', failure_code: failure.code, failure_message: failure.message.slice(0, 500) })
      .where('id', '=', prepared.paymentId)
      .where('status', '=', 'pending')
      .returning(['id'])
      .executeTakeFirst();
    if (!failed) {
      outcome = 'busy';
      return;
    }
    await attemptRow(trx, prepared.paymentId, operation, cls, failure, now);
    const sub = await lockSubscription(trx, subscriptionId);
    if (!sub?.next_billing_at) return;
    const due = sub.next_billing_at;
    if (cls === 'config') {
      await trx
        .updateTable('subscriptions')
        .set({ retry_at: new Date(now.getTime() + CONFIG_RETRY_MS) })
        .where('id', '=', sub.id)
        .execute();
      await history(trx, sub.id, 'operator_alert', {
        paymentId: prepared.paymentId,
        detail: { code: failure.code, class: 'config' },
      });
      await recordError(trx, {
        service: 'billing',
        severity: 'error',
        refId: prepared.paymentId,
        message: `Toss refused renewal ${prepared.orderId} as our error: ${failure.code}`,
        context: {
          subscription_id: sub.id,
          order_id: prepared.orderId,
          code: failure.code,
          http_status: failure.httpStatus,
          alert: true,
        },
      });
      return;
    }
    if (cls === 'hard_decline') {
      const until = graceEnd(config, due);
      await trx
        .updateTable('subscriptions')
        .set({
          status: 'past_due',
          past_due_since: sub.past_due_since ?? now,
          billing_key_enc: null,
          billing_key_digest: null,
          billing_key_hint: null,
          retry_at: until,
        })
        .where('id', '=', sub.id)
        .execute();
      await history(trx, sub.id, 'card_required', {
        from: sub.status,
        to: 'past_due',
        paymentId: prepared.paymentId,
        detail: { code: failure.code, grace_until: until.toISOString() },
      });
      await notify(trx, sub.user_id, {
        kind: 'billing',
        message: billingMessages.cardRequired(until),
        dedupeKey: `billing:card-required:${sub.id}:${due.toISOString()}`,
      });
      return;
    }
    // Soft decline: dunning on the configured days after the due date.
    const failures = sub.dunning_attempt + 1;
    await history(trx, sub.id, 'payment_failed', {
      from: sub.status,
      paymentId: prepared.paymentId,
      detail: { code: failure.code, attempt: failures },
    });
    if (failures > config.dunningDays.length) {
      await cancelAtDue(
        trx,
        sub,
        `payment failed ${failures} times (${failure.code})`,
        billingMessages.canceledAfterDunning(),
        now,
      );
      outcome = 'canceled';
      return;
    }
    const retryAt = new Date(due.getTime() + config.dunningDays[failures - 1]! * DAY_MS);
    await trx
      .updateTable('subscriptions')
      .set({
        status: 'past_due',
        past_due_since: sub.past_due_since ?? now,
        dunning_attempt: failures,
        retry_at: retryAt,
      })
      .where('id', '=', sub.id)
      .execute();
    await history(trx, sub.id, 'dunning_retry_scheduled', {
      from: sub.status,
      to: 'past_due',
      detail: { retry_at: retryAt.toISOString(), attempt: failures },
    });
    await notify(trx, sub.user_id, {
      kind: 'billing',
      message: billingMessages.paymentFailed(prepared.amount, retryAt, graceEnd(config, due)),
      dedupeKey: `billing:failed:${prepared.orderId}`,
    });
  });
  return outcome;
}

/** Renews one subscription if it is due. Safe to run concurrently and repeatedly. */
export async function renewSubscription(deps: BillingDeps, subscriptionId: string): Promise<RenewalResult> {
  const now = (deps.now ?? (() => new Date()))();
  let prepared: Prepared | RenewalResult;
  try {
    prepared = await prepare(deps, subscriptionId, now);
  } catch (error) {
    // Two workers opened the same period's first attempt at once: the other one owns it.
    if (pgCode(error) === PgCode.uniqueViolation) return { subscriptionId, outcome: 'busy' };
    throw error;
  }
  if (!('kind' in prepared)) return prepared;
  const base = { subscriptionId, orderId: prepared.orderId, amount: prepared.amount };

  if (!prepared.fresh) {
    // An earlier attempt may have charged: ask Toss before anything else.
    const found = await deps.toss.findByOrderId(prepared.orderId, deps.signal);
    if (found.ok) {
      return { ...base, ...(await settleFound(deps, prepared, subscriptionId, found.value, now)) };
    }
    if (found.code !== NOT_FOUND_PAYMENT) {
      await applyFailure(deps, prepared, subscriptionId, { ...found, class: 'unknown' }, now, 'lookup');
      return { ...base, outcome: 'unknown', code: found.code };
    }
    await deps.db
      .insertInto('payment_attempts')
      .values({
        payment_id: prepared.paymentId,
        operation: 'lookup',
        outcome: 'not_found',
        code: NOT_FOUND_PAYMENT,
        http_status: found.httpStatus,
        at: now,
      })
      .execute();
  }
  if (!prepared.billingKey) {
    // The card was dropped (hard decline) while this attempt was open: close it.
    await applyFailure(
      deps,
      prepared,
      subscriptionId,
      {
        ok: false,
        class: 'hard_decline',
        code: 'NO_BILLING_KEY',
        message: 'no card on file',
        httpStatus: null,
      },
      now,
      'charge',
    );
    return { ...base, outcome: 'hard_decline', code: 'NO_BILLING_KEY' };
  }
  const result = await deps.toss.charge(
    {
      billingKey: prepared.billingKey,
      customerKey: prepared.customerKey,
      amount: prepared.amount,
      orderId: prepared.orderId,
      orderName: prepared.orderName,
      customerEmail: prepared.email ?? undefined,
      customerName: prepared.name,
      idempotencyKey: prepared.orderId,
    },
    deps.signal,
  );
  if (result.ok) {
    return {
      ...base,
      posted: true,
      ...(await settleFound(deps, prepared, subscriptionId, result.value, now, 'charge')),
    };
  }
  const outcome = await applyFailure(deps, prepared, subscriptionId, result, now, 'charge');
  deps.log?.info(
    { subscriptionId, orderId: prepared.orderId, code: result.code, class: result.class },
    'renewal not approved',
  );
  return { ...base, posted: true, outcome, code: result.code };
}

async function settleFound(
  deps: BillingDeps,
  prepared: Prepared,
  subscriptionId: string,
  payment: TossPayment,
  now: Date,
  operation: 'charge' | 'lookup' = 'lookup',
): Promise<{ outcome: RenewalOutcome; code?: string }> {
  if (payment.status === 'DONE' || payment.status === 'PARTIAL_CANCELED' || payment.status === 'CANCELED') {
    const settled = await settleRenewal(
      deps.db,
      prepared.paymentId,
      payment,
      prepared.advance,
      now,
      operation,
    );
    return { outcome: settled ? 'approved' : 'busy' };
  }
  if (payment.status === 'ABORTED' || payment.status === 'EXPIRED') {
    // Toss closed this order without charging: the attempt failed; a later one gets a new order id.
    const code = payment.failure?.code ?? payment.status;
    await deps.db.transaction().execute(async (trx) => {
      const failed = await trx
        .updateTable('payments')
        .set({ status: 'failed', failure_code: code, failure_message: payment.failure?.message ?? null })
        .where('id', '=', prepared.paymentId)
        .where('status', '=', 'pending')
        .returning('id')
        .executeTakeFirst();
      if (!failed) return;
      await attemptRow(
        trx,
        prepared.paymentId,
        operation,
        'failed',
        { code, message: payment.status, httpStatus: 200 },
        now,
      );
      await trx
        .updateTable('subscriptions')
        .set({ retry_at: new Date(now.getTime() + TEMPORARY_RETRY_MS) })
        .where('id', '=', subscriptionId)
        .execute();
    });
    return { outcome: 'temporary', code };
  }
  // READY / IN_PROGRESS: still being decided at Toss.
  await applyFailure(
    deps,
    prepared,
    subscriptionId,
    { ok: false, class: 'unknown', code: payment.status, message: 'in progress at Toss', httpStatus: 200 },
    now,
    operation,
  );
  return { outcome: 'unknown', code: payment.status };
}
