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
import type { Insertable } from 'kysely';
import { type Kysely, sql } from 'kysely';
import type { BillingConfig } from '../config/index.ts';
import type { Keyring } from '../crypto/index.ts';
import type { Database, SubscriptionHistoryTable } from '../db/types.ts';
import { recordError } from '../errorlog.ts';
import { PgCode, pgCode } from '../errors.ts';
import type { Logger } from '../log.ts';
import { notify, notifyAll } from '../notifications/index.ts';
import { addMonths, seoulDate } from '../time/calendar.ts';
import { openBillingKey } from './keys.ts';
import { billingMessages } from './messages.ts';
import { NOT_FOUND_PAYMENT, type TossClient, type TossFailure, type TossPayment } from './toss.ts';
import { planTag } from './upgrades.ts';

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

/**
 * The deterministic order id of a prorated upgrade: (subscription, cycle, target plan), and the
 * attempt after a failed one (`-2`, …). `parseProrationOrderId` (upgrades.ts) reads it back.
 */
export function prorationOrderId(subscriptionId: string, cycle: number, plan: string, attempt = 1): string {
  const base = `u-${subscriptionId.replaceAll('-', '')}-${cycle}-${planTag(plan)}`;
  return attempt > 1 ? `${base}-${attempt}` : base;
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
  subscriptionId: string;
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
  /** The renewal notice for this period was already sent (the scan sends it days ahead). */
  noticed: boolean;
  cap: number | null;
  paid_id: string | null;
}

/**
 * Everything the decisions need, the subscription rows locked (in id order, so two batches that
 * overlap never deadlock), in one statement: the database, not Toss, is what a busy machine waits
 * on, so a batch of renewals costs a handful of round trips, not a handful each.
 */
async function loadForRenewal(trx: Trx, ids: readonly string[], now: Date): Promise<RenewalView[]> {
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
           exists (select 1 from public.notifications n
             where n.user_id = s.user_id
               and n.dedupe_key = 'billing:notice:' || s.id || ':' || (extract(epoch from s.next_billing_at) * 1000)::bigint) as noticed,
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
    where s.id = any(${ids}::uuid[])
    order by s.id
    for update of s`.execute(trx);
  return rows.rows;
}

/** A fresh attempt decided for one subscription: inserted, with the others of its batch, in one statement. */
interface NewAttempt {
  common: Omit<Prepared, 'kind' | 'subscriptionId' | 'paymentId' | 'orderId' | 'amount' | 'fresh'>;
  sub: RenewalView;
  due: Date;
  amount: number;
  attempt: number;
  orderId: string;
  notice: ReturnType<typeof billingMessages.renewalNotice>;
}

/**
 * Decides one locked subscription. Whatever ends without a charge (already paid, never charged,
 * free) is written here, in the batch's transaction; a charge comes back as an open payment to
 * drive or a new attempt to insert.
 */
async function decide(
  trx: Trx,
  deps: BillingDeps,
  sub: RenewalView,
  now: Date,
): Promise<Prepared | NewAttempt | RenewalResult> {
  const subscriptionId = sub.id;
  if (!isDue(sub, now)) return { subscriptionId, outcome: 'not_due' };
  const due = sub.next_billing_at!;
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
    return { subscriptionId, outcome: 'approved', code: 'ALREADY_PAID' };
  }
  const common = {
    advance,
    customerKey: sub.customer_key ?? `cus_${sub.user_id.replaceAll('-', '')}`,
    orderName: `${plan.name} 정기결제`,
    email: sub.user_email,
    name: sub.user_nickname,
    billingKey: sub.billing_key_enc ? openBillingKey(deps.keyring, sub.id, sub.billing_key_enc) : null,
  };
  if (sub.open_id) {
    return {
      kind: 'charge',
      subscriptionId,
      paymentId: sub.open_id,
      orderId: sub.open_order_id!,
      amount: sub.open_amount!,
      fresh: false,
      ...common,
    };
  }

  // Never charged: banned or resigned accounts, a cancellation due by now, a trial without a card.
  if (sub.user_state === 'banned' || sub.user_state === 'resigned') {
    await cancelAtDue(trx, sub, `account ${sub.user_state}: never charged`, null, due);
    return { subscriptionId, outcome: 'canceled', code: `USER_${sub.user_state.toUpperCase()}` };
  }
  if (sub.cancel_at && sub.cancel_at.getTime() <= due.getTime()) {
    await cancelAtDue(trx, sub, 'canceled at period end', billingMessages.canceledAtPeriodEnd(), due);
    return { subscriptionId, outcome: 'canceled', code: 'CANCEL_AT' };
  }
  if (!common.billingKey) {
    if (sub.status === 'trial') {
      await cancelAtDue(trx, sub, 'trial ended without a card', billingMessages.trialEnded('no_card'), due);
      return { subscriptionId, outcome: 'canceled', code: 'NO_CARD' };
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
      return { subscriptionId, outcome: 'canceled', code: 'NO_CARD' };
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
    return { subscriptionId, outcome: 'hard_decline', code: 'NO_CARD' };
  }

  // The amount: the list price, never above what the user consented to.
  const list = listAmount(sub, plan);
  const cap = sub.cap;
  if (cap === null) {
    const reason =
      sub.status === 'trial' ? 'trial ended without consent to paid conversion' : 'no consent to be charged';
    await cancelAtDue(trx, sub, reason, billingMessages.trialEnded('no_consent'), due);
    return { subscriptionId, outcome: 'canceled', code: 'NO_CONSENT' };
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
    return { subscriptionId, outcome: 'free_renewal', amount: 0 };
  }
  const attempt = sub.last_attempt + 1;
  return {
    common,
    sub,
    due,
    amount,
    attempt,
    orderId: renewalOrderId(sub.id, due, attempt),
    // The renewal notice goes out `noticeLeadDays` ahead (scan); one that did not is sent now.
    notice:
      sub.status === 'trial'
        ? billingMessages.trialConversionNotice(plan.name, amount, due)
        : billingMessages.renewalNotice(plan.name, amount, due),
  };
}

/**
 * Step 1 for a batch, in one transaction: lock and decide every subscription, then send the
 * missing renewal notices (one statement per distinct text) and insert every new pending payment
 * (one statement) — committed BEFORE Toss is called. A new attempt that collides with another
 * worker's (the partial unique indexes) is not inserted: that subscription is `busy`, the other
 * worker owns it.
 */
async function prepare(
  deps: BillingDeps,
  ids: readonly string[],
  now: Date,
): Promise<Map<string, Prepared | RenewalResult>> {
  return deps.db.transaction().execute(async (trx) => {
    const decided = new Map<string, Prepared | RenewalResult>();
    for (const id of ids) decided.set(id, { subscriptionId: id, outcome: 'not_due' });
    const fresh: NewAttempt[] = [];
    for (const sub of await loadForRenewal(trx, ids, now)) {
      const d = await decide(trx, deps, sub, now);
      if ('notice' in d) fresh.push(d);
      else decided.set(sub.id, d);
    }
    if (fresh.length === 0) return decided;
    const byText = new Map<string, NewAttempt[]>();
    for (const f of fresh.filter((a) => !a.sub.noticed)) {
      const text = `${f.notice.title}\n${f.notice.body}`;
      byText.set(text, [...(byText.get(text) ?? []), f]);
    }
    for (const group of byText.values()) {
      await notifyAll(
        trx,
        { recipients: group.map((f) => ({ userId: f.sub.user_id, dedupeKey: noticeKey(f.sub.id, f.due) })) },
        { kind: 'billing', message: group[0]!.notice },
      );
    }
    const inserted = await trx
      .insertInto('payments')
      .values(
        fresh.map((f) => ({
          user_id: f.sub.user_id,
          subscription_id: f.sub.id,
          amount: f.amount,
          currency: 'KRW',
          order_id: f.orderId,
          status: 'pending' as const,
          kind: 'renewal' as const,
          period_start: f.due,
          attempt: f.attempt,
          requested_at: now,
        })),
      )
      // Another worker opened this period's attempt first (possible only when it committed while
      // this statement's snapshot was taken): it owns the charge.
      .onConflict((oc) => oc.doNothing())
      .returning(['id', 'order_id'])
      .execute();
    const idByOrder = new Map(inserted.map((r) => [r.order_id, r.id]));
    for (const f of fresh) {
      const paymentId = idByOrder.get(f.orderId);
      decided.set(
        f.sub.id,
        paymentId
          ? {
              kind: 'charge',
              subscriptionId: f.sub.id,
              paymentId,
              orderId: f.orderId,
              amount: f.amount,
              fresh: true,
              ...f.common,
            }
          : { subscriptionId: f.sub.id, outcome: 'busy' },
      );
    }
    return decided;
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

/** An approved renewal waiting to be settled with the rest of its batch. */
interface ToSettle {
  prepared: Prepared;
  payment: TossPayment;
  operation: 'charge' | 'lookup';
  posted: boolean;
}

/**
 * The common case of settling, for a whole batch in one statement: each payment approved (only if
 * still pending), its attempt row, its subscription moved to the next period (only if still in the
 * period paid for) and the history row. Returns the ids of the payments settled here; a settled
 * payment whose subscription did not move gets an operator alert.
 *
 * Committed asynchronously (`synchronous_commit = off` for this statement only): losing it in a
 * database crash loses nothing that matters — the payment is still pending, so the next renewal
 * or the reconciler looks it up by order id and settles it — and the job's completion, committed
 * durably right after, flushes it anyway (WAL is written in order). The pending row before the
 * call is committed durably: that one must never be lost.
 */
async function settleRenewals(
  db: Kysely<Database>,
  items: readonly ToSettle[],
  now: Date,
): Promise<Set<string>> {
  const rows = items.map(({ prepared: p, payment, operation }) => {
    const a = p.advance;
    return {
      payment_id: p.paymentId,
      payment_key: payment.paymentKey,
      approved_at: approvedAtOf(payment, now).toISOString(),
      receipt_url: payment.receipt?.url ?? null,
      method: payment.method ?? '카드',
      method_detail: payment.card ? JSON.stringify(payment.card) : null,
      operation,
      plan: a.plan,
      anchor: a.anchor.toISOString(),
      cycle: a.cycle,
      next: a.next.toISOString(),
      event:
        a.fromStatus === 'trial' ? 'trial_converted' : a.fromStatus === 'past_due' ? 'recovered' : 'renewed',
      from_status: a.fromStatus,
      detail: JSON.stringify({ period: a.period.toISOString(), next: a.next.toISOString(), plan: a.plan }),
    };
  });
  const result = await sql<{ id: string; subscription_id: string | null; advanced: boolean }>`
    with input as (
      select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as t(
        payment_id uuid, payment_key text, approved_at timestamptz, receipt_url text, method text,
        method_detail jsonb, operation text, plan text, anchor timestamptz, cycle int, next timestamptz,
        event text, from_status text, detail jsonb)
    ), upd as (
      update public.payments p
      set status = 'approved', provider_tx_id = i.payment_key, approved_at = i.approved_at,
          receipt_url = i.receipt_url, method = i.method, method_detail = i.method_detail,
          failure_code = null, failure_message = null
      from input i
      where p.id = i.payment_id and p.status = 'pending'
      returning p.id, p.subscription_id, p.period_start
    ), att as (
      insert into public.payment_attempts (payment_id, operation, outcome, http_status, at)
      select i.payment_id, i.operation, 'approved', 200, ${now} from upd join input i on i.payment_id = upd.id
    ), sub as (
      update public.subscriptions s
      set status = 'active', plan = i.plan, pending_plan = null, billing_anchor = i.anchor,
          billing_cycle = i.cycle, next_billing_at = i.next, last_billed_at = i.approved_at,
          retry_at = null, dunning_attempt = 0, past_due_since = null
      from upd join input i on i.payment_id = upd.id
      where s.id = upd.subscription_id and s.next_billing_at = upd.period_start and s.status <> 'canceled'
      returning s.id, upd.id as payment_id
    ), hist as (
      insert into public.subscription_history (subscription_id, event, from_status, to_status, payment_id, detail)
      select sub.id, i.event, i.from_status, 'active', sub.payment_id, i.detail
      from sub join input i on i.payment_id = sub.payment_id
    ), async_commit as (select set_config('synchronous_commit', 'off', true))
    select upd.id, upd.subscription_id, (sub.id is not null) as advanced
    from upd left join sub on sub.payment_id = upd.id cross join async_commit`.execute(db);
  for (const row of result.rows) {
    if (!row.advanced && row.subscription_id) {
      await history(db, row.subscription_id, 'operator_alert', {
        paymentId: row.id,
        detail: { problem: 'approved payment for a period the subscription is no longer in' },
      });
    }
  }
  return new Set(result.rows.map((r) => r.id));
}

/** Deadlocks between two batches' settles are retried at once, this many times in all. */
const SETTLE_ATTEMPTS = 3;

/**
 * Two batches that share subscriptions (overlapping scans, a retried job) can settle them in
 * opposite orders and deadlock; PostgreSQL cancels one statement, which is simply run again (it
 * changes only what is still pending). Without this, the cancelled batch's jobs would wait out
 * their retry delay.
 */
async function settleRenewalsRetrying(
  db: Kysely<Database>,
  items: readonly ToSettle[],
  now: Date,
): Promise<Set<string>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await settleRenewals(db, items, now);
    } catch (error) {
      if (attempt >= SETTLE_ATTEMPTS || pgCode(error) !== PgCode.deadlockDetected) throw error;
    }
  }
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
  const result = (await renewSubscriptions(deps, [subscriptionId])).get(subscriptionId)!;
  if (result instanceof Error) throw result;
  return result;
}

/**
 * Renews a batch of subscriptions (the worker's jobs arrive in batches): one transaction decides
 * them all and commits their pending payments, the Toss calls run side by side, and the approved
 * ones are settled in one statement. Per subscription, the protocol is exactly the one-at-a-time
 * one; what is shared is only the round trips. Returns each id's result, or the error that
 * subscription met (its job retries; the others are not held back).
 */
export async function renewSubscriptions(
  deps: BillingDeps,
  subscriptionIds: readonly string[],
): Promise<Map<string, RenewalResult | Error>> {
  const now = (deps.now ?? (() => new Date()))();
  const ids = [...new Set(subscriptionIds)].sort();
  const results = new Map<string, RenewalResult | Error>();
  let prepared: Map<string, Prepared | RenewalResult>;
  try {
    prepared = await prepare(deps, ids, now);
  } catch (error) {
    if (ids.length === 1) {
      // Two workers opened the same period's first attempt at once: the other one owns it.
      if (pgCode(error) === PgCode.uniqueViolation)
        return new Map([[ids[0]!, { subscriptionId: ids[0]!, outcome: 'busy' }]]);
      return new Map([[ids[0]!, error as Error]]);
    }
    // One subscription's trouble must not hold back the rest of its batch: each on its own.
    prepared = new Map();
    for (const id of ids) {
      const one = await renewSubscriptions(deps, [id]);
      results.set(id, one.get(id)!);
    }
    return results;
  }
  const toSettle: ToSettle[] = [];
  await Promise.all(
    ids.map(async (id) => {
      const p = prepared.get(id)!;
      if (!('kind' in p)) {
        results.set(id, p);
        return;
      }
      try {
        const driven = await drive(deps, p, now);
        if ('settle' in driven) toSettle.push(driven.settle);
        else results.set(id, driven.done);
      } catch (error) {
        results.set(id, error as Error);
      }
    }),
  );
  if (toSettle.length > 0) {
    try {
      const settled = await settleRenewalsRetrying(deps.db, toSettle, now);
      for (const { prepared: p, posted } of toSettle) {
        results.set(p.subscriptionId, {
          subscriptionId: p.subscriptionId,
          orderId: p.orderId,
          amount: p.amount,
          ...(posted ? { posted } : {}),
          outcome: settled.has(p.paymentId) ? 'approved' : 'busy',
        });
      }
    } catch (error) {
      // Still pending: the retried job (or the reconciler) looks each up and settles it.
      for (const { prepared: p } of toSettle) results.set(p.subscriptionId, error as Error);
    }
  }
  return results;
}

/**
 * Step 2 for one prepared renewal: look an earlier attempt up before anything else, post only an
 * order Toss has never seen (same order id, same Idempotency-Key), and apply every outcome but
 * approval at once; an approval comes back to be settled with its batch.
 */
async function drive(
  deps: BillingDeps,
  prepared: Prepared,
  now: Date,
): Promise<{ done: RenewalResult } | { settle: ToSettle }> {
  const { subscriptionId } = prepared;
  const base = { subscriptionId, orderId: prepared.orderId, amount: prepared.amount };

  if (!prepared.fresh) {
    // An earlier attempt may have charged: ask Toss before anything else.
    const found = await deps.toss.findByOrderId(prepared.orderId, deps.signal);
    if (found.ok) return settleFound(deps, prepared, found.value, now, 'lookup', false);
    if (found.code !== NOT_FOUND_PAYMENT) {
      await applyFailure(deps, prepared, subscriptionId, { ...found, class: 'unknown' }, now, 'lookup');
      return { done: { ...base, outcome: 'unknown', code: found.code } };
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
    return { done: { ...base, outcome: 'hard_decline', code: 'NO_BILLING_KEY' } };
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
  if (result.ok) return settleFound(deps, prepared, result.value, now, 'charge', true);
  const outcome = await applyFailure(deps, prepared, subscriptionId, result, now, 'charge');
  deps.log?.info(
    { subscriptionId, orderId: prepared.orderId, code: result.code, class: result.class },
    'renewal not approved',
  );
  return { done: { ...base, posted: true, outcome, code: result.code } };
}

async function settleFound(
  deps: BillingDeps,
  prepared: Prepared,
  payment: TossPayment,
  now: Date,
  operation: 'charge' | 'lookup',
  posted: boolean,
): Promise<{ done: RenewalResult } | { settle: ToSettle }> {
  const { subscriptionId } = prepared;
  const base = {
    subscriptionId,
    orderId: prepared.orderId,
    amount: prepared.amount,
    ...(posted ? { posted } : {}),
  };
  if (payment.status === 'DONE' || payment.status === 'PARTIAL_CANCELED' || payment.status === 'CANCELED') {
    return { settle: { prepared, payment, operation, posted } };
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
    return { done: { ...base, outcome: 'temporary', code } };
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
  return { done: { ...base, outcome: 'unknown', code: payment.status } };
}
