/**
 * Finding work: which subscriptions are due (the scan enqueues one renewal job each), which get a
 * renewal notice now, and which payments have been pending too long (the reconciler looks them up).
 */
import { type Kysely, sql } from 'kysely';
import type { BillingConfig } from '../config/index.ts';
import type { Database, NewPaymentAttempts } from '../db/types.ts';
import { notify } from '../notifications/index.ts';
import { billingMessages } from './messages.ts';
import { type BillingDeps, consentedCap, listAmount, noticeKey, settleApproved } from './renewal.ts';
import { NOT_FOUND_PAYMENT, type TossPayment, type TossResult } from './toss.ts';
import { failUpgrade, settleUpgradeApproved } from './upgrades.ts';

const DAY_MS = 86_400_000;

/**
 * Due subscriptions, in id order after `after`: trial/active whose next_billing_at has come, and
 * past_due ones whose retry day has come.
 */
export async function dueSubscriptionIds(
  db: Kysely<Database>,
  now: Date,
  options: { after?: string | null; limit: number },
): Promise<string[]> {
  let query = db
    .selectFrom('subscriptions')
    .select('id')
    .where('status', 'in', ['trial', 'active', 'past_due'])
    .where('next_billing_at', '<=', now)
    .where((eb) => eb.or([eb('retry_at', 'is', null), eb('retry_at', '<=', now)]))
    .orderBy('id')
    .limit(options.limit);
  if (options.after) query = query.where('id', '>', options.after);
  return (await query.execute()).map((r) => r.id);
}

export interface DueRow {
  subscription_id: string;
  user_id: string;
  plan: string;
  status: string;
  next_billing_at: Date;
  retry_at: Date | null;
  dunning_attempt: number;
  amount: number;
  open_order: string | null;
}

/** What `billing due` shows: the due subscriptions with the list amount and any open attempt. */
export async function listDue(db: Kysely<Database>, now: Date, limit = 1000): Promise<DueRow[]> {
  const rows = await sql<DueRow>`
    select s.id as subscription_id, s.user_id, coalesce(s.pending_plan, s.plan) as plan, s.status,
           s.next_billing_at, s.retry_at, s.dunning_attempt,
           (coalesce(s.price_override, p.price) * s.quantity)::bigint as amount,
           (select order_id from public.payments x where x.subscription_id = s.id and x.kind = 'renewal'
              and x.period_start = s.next_billing_at and x.status = 'pending') as open_order
    from public.subscriptions s join public.plans p on p.code = coalesce(s.pending_plan, s.plan)
    where s.status in ('trial', 'active', 'past_due') and s.next_billing_at <= ${now}
      and (s.retry_at is null or s.retry_at <= ${now})
    order by s.next_billing_at, s.id
    limit ${limit}`.execute(db);
  return rows.rows;
}

/**
 * Renewal notices (전자상거래법: told before every charge): for subscriptions due within the lead
 * time that have no notice for that period yet. Idempotent (dedupe key per period). Returns how
 * many were sent.
 */
export async function sendRenewalNotices(
  db: Kysely<Database>,
  config: BillingConfig,
  now: Date,
  limit = 1000,
): Promise<number> {
  const until = new Date(now.getTime() + config.noticeLeadDays * DAY_MS);
  const rows = await db
    .selectFrom('subscriptions as s')
    .innerJoin('plans as p', (join) => join.on(sql<boolean>`p.code = coalesce(s.pending_plan, s.plan)`))
    .innerJoin('users as u', 'u.id', 's.user_id')
    .select([
      's.id',
      's.user_id',
      's.status',
      's.next_billing_at',
      's.price_override',
      's.quantity',
      'p.code',
      'p.name',
      'p.price',
      'p.billing_interval',
    ])
    .where('s.status', 'in', ['trial', 'active'])
    .where('u.state', 'not in', ['banned', 'resigned'])
    .where('s.next_billing_at', '>', now)
    .where('s.next_billing_at', '<=', until)
    .where((eb) =>
      eb.or([eb('s.cancel_at', 'is', null), eb('s.cancel_at', '>', eb.ref('s.next_billing_at'))]),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('notifications as n')
            .select('n.id')
            .whereRef('n.user_id', '=', 's.user_id')
            .where(
              'n.dedupe_key',
              '=',
              sql<string>`'billing:notice:' || s.id || ':' || (extract(epoch from s.next_billing_at) * 1000)::bigint`,
            ),
        ),
      ),
    )
    .limit(limit)
    .execute();
  let sent = 0;
  for (const r of rows) {
    const due = r.next_billing_at!;
    await db.transaction().execute(async (trx) => {
      const list = listAmount(r, {
        code: r.code,
        name: r.name,
        price: r.price,
        billing_interval: r.billing_interval,
      });
      const cap = await consentedCap(trx, r.id, due, now);
      const message =
        r.status === 'trial'
          ? billingMessages.trialConversionNotice(r.name, cap === null ? list : Math.min(list, cap), due)
          : billingMessages.renewalNotice(r.name, cap === null ? list : Math.min(list, cap), due);
      const id = await notify(trx, r.user_id, { kind: 'billing', message, dedupeKey: noticeKey(r.id, due) });
      if (id) {
        sent += 1;
        await trx
          .insertInto('subscription_history')
          .values({
            subscription_id: r.id,
            event: 'renewal_notice',
            detail: JSON.stringify({ period: due.toISOString() }),
          })
          .execute();
      }
    });
  }
  return sent;
}

export interface ReconcileResult {
  checked: number;
  approved: number;
  notFound: number;
  stillUnknown: number;
  failed: number;
}

/**
 * The reconciler: payments pending longer than the configured age are looked up by order id and
 * settled. It never creates a charge: an order Toss never saw is handed back to the renewal (made
 * due now), which posts it again under the same order id and Idempotency-Key.
 */
export async function reconcilePending(
  deps: BillingDeps,
  options: { limit?: number; olderThanSeconds?: number } = {},
): Promise<ReconcileResult> {
  const now = (deps.now ?? (() => new Date()))();
  const age = options.olderThanSeconds ?? deps.config.reconcileAfterSeconds;
  const pending = await deps.db
    .selectFrom('payments')
    .select(['id', 'order_id', 'subscription_id', 'kind', 'amount', 'requested_at'])
    .where('status', '=', 'pending')
    .where('requested_at', '<=', new Date(now.getTime() - age * 1000))
    .orderBy('requested_at')
    .limit(options.limit ?? 500)
    .execute();
  const result: ReconcileResult = { checked: 0, approved: 0, notFound: 0, stillUnknown: 0, failed: 0 };
  for (const p of pending) {
    if (deps.signal?.aborted) break;
    result.checked += 1;
    const found = await deps.toss.findByOrderId(p.order_id, deps.signal);
    if (p.kind === 'proration') {
      result[await reconcileUpgrade(deps, p, found, now)] += 1;
      continue;
    }
    if (found.ok && ['DONE', 'PARTIAL_CANCELED', 'CANCELED'].includes(found.value.status)) {
      if (await settleApproved(deps.db, p.id, found.value, now, 'lookup')) result.approved += 1;
      continue;
    }
    if (found.ok && (found.value.status === 'ABORTED' || found.value.status === 'EXPIRED')) {
      await deps.db.transaction().execute(async (trx) => {
        const failed = await trx
          .updateTable('payments')
          .set({ status: 'failed', failure_code: found.value.failure?.code ?? found.value.status })
          .where('id', '=', p.id)
          .where('status', '=', 'pending')
          .returning('id')
          .executeTakeFirst();
        if (!failed) return;
        await recordLookup(trx, p.id, { outcome: 'failed', code: found.value.status, httpStatus: 200 }, now);
        if (p.subscription_id) {
          await trx
            .updateTable('subscriptions')
            .set({ retry_at: now })
            .where('id', '=', p.subscription_id)
            .execute();
        }
      });
      result.failed += 1;
      continue;
    }
    if (!found.ok && found.code === NOT_FOUND_PAYMENT) {
      // Toss never charged this order. The renewal re-posts it (same key) when it next runs.
      await deps.db.transaction().execute(async (trx) => {
        await recordLookup(
          trx,
          p.id,
          { outcome: 'not_found', code: NOT_FOUND_PAYMENT, httpStatus: found.httpStatus },
          now,
        );
        if (p.subscription_id && p.kind === 'renewal') {
          await trx
            .updateTable('subscriptions')
            .set({ retry_at: now })
            .where('id', '=', p.subscription_id)
            .execute();
        }
      });
      result.notFound += 1;
      continue;
    }
    await recordLookup(
      deps.db,
      p.id,
      { outcome: 'unknown', code: found.ok ? found.value.status : found.code, httpStatus: found.httpStatus },
      now,
    );
    result.stillUnknown += 1;
  }
  return result;
}

/**
 * An upgrade that `change-plan` posts within seconds of committing its pending payment (the Toss
 * client times out in seconds): an order Toss has still not seen this long after was never posted.
 */
export const UPGRADE_ABANDONED_MS = 60 * 60_000;

/**
 * The reconciler's part for a prorated upgrade (see upgrades.ts): charged → approved and the plan
 * changed; closed by Toss, or never seen after UPGRADE_ABANDONED_MS → failed, the plan unchanged.
 */
async function reconcileUpgrade(
  deps: BillingDeps,
  p: { id: string; order_id: string; subscription_id: string | null; amount: number; requested_at: Date },
  found: TossResult<TossPayment>,
  now: Date,
): Promise<'approved' | 'failed' | 'notFound' | 'stillUnknown'> {
  if (found.ok && ['DONE', 'PARTIAL_CANCELED', 'CANCELED'].includes(found.value.status)) {
    await settleUpgradeApproved(deps.db, p, found.value, now, 'lookup');
    return 'approved';
  }
  if (found.ok && (found.value.status === 'ABORTED' || found.value.status === 'EXPIRED')) {
    await failUpgrade(
      deps.db,
      p,
      {
        code: found.value.failure?.code ?? found.value.status,
        message: found.value.failure?.message ?? null,
        httpStatus: found.httpStatus,
      },
      now,
    );
    return 'failed';
  }
  if (!found.ok && found.code === NOT_FOUND_PAYMENT) {
    if (now.getTime() - p.requested_at.getTime() >= UPGRADE_ABANDONED_MS) {
      await failUpgrade(
        deps.db,
        p,
        { code: NOT_FOUND_PAYMENT, message: null, httpStatus: found.httpStatus },
        now,
      );
    } else {
      await recordLookup(
        deps.db,
        p.id,
        { outcome: 'not_found', code: NOT_FOUND_PAYMENT, httpStatus: found.httpStatus },
        now,
      );
    }
    return 'notFound';
  }
  await recordLookup(
    deps.db,
    p.id,
    { outcome: 'unknown', code: found.ok ? found.value.status : found.code, httpStatus: found.httpStatus },
    now,
  );
  return 'stillUnknown';
}

/** One look-up of a payment at Toss, kept as its attempt row (what the reconciler saw, and when). */
function recordLookup(
  db: Kysely<Database>,
  paymentId: string,
  seen: { outcome: NewPaymentAttempts['outcome']; code: string | null; httpStatus: number | null },
  at: Date,
) {
  return db
    .insertInto('payment_attempts')
    .values({
      payment_id: paymentId,
      operation: 'lookup',
      outcome: seen.outcome,
      code: seen.code,
      http_status: seen.httpStatus,
      at,
    })
    .execute();
}
