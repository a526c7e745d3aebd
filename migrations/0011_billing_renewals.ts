import { type Kysely, sql } from 'kysely';

// Billing renewals through Toss Payments.
//
// - Payment records outlive their user (전자상거래법 시행령 6조: records of payment kept 5 years):
//   deleting a user detaches their payments (user_id and subscription_id set to null, detached_at
//   stamped) instead of cascading, and a payment younger than five years cannot be deleted.
// - Billing keys can charge a card: they are sealed in the application (AES-256-GCM, like diary
//   text) into subscriptions.billing_key_enc; a SHA-256 digest keeps them unique, the last four
//   characters let an operator tell two apart. Payments no longer copy the key.
// - A renewal is billed once per period: payments carry kind/period_start/attempt and a partial
//   unique index allows at most one charged (approved or later refunded) renewal per
//   (subscription, period), and at most one open (pending) attempt.
// - Every attempt to talk to Toss about a payment, every subscription state change and every
//   consent to a price are rows of their own.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Payments outlive users: detach, never cascade.
    alter table public.payments alter column user_id drop not null;
    alter table public.payments add column detached_at timestamptz null;
    alter table public.payments drop column billing_key;
    alter table public.payments add constraint payments_detached_check
      check (detached_at is null or (user_id is null and subscription_id is null));
    alter table public.payments drop constraint payments_user_id_fkey;
    alter table public.payments add constraint payments_user_id_fkey
      foreign key (user_id) references public.users (id) on delete restrict;

    create function public.payments_detach_user() returns trigger language plpgsql as $$
    begin
      update public.payments
        set user_id = null, subscription_id = null, detached_at = now()
        where user_id = old.id;
      update public.billing_consents
        set user_id = null, subscription_id = null
        where user_id = old.id;
      return old;
    end $$;
    comment on function public.payments_detach_user() is
      'Before a user is deleted: keep their payments and consents as records, detached from the person';

    create function public.payments_guard_retention() returns trigger language plpgsql as $$
    begin
      if old.requested_at > now() - interval '5 years' then
        raise exception 'payment % is kept for 5 years from %', old.order_id, old.requested_at
          using errcode = 'P0001', hint = '전자상거래법 시행령 6조: payment records are retained for 5 years';
      end if;
      return old;
    end $$;
    create trigger payments_guard_retention before delete on public.payments
      for each row execute function public.payments_guard_retention();
    comment on table public.payments is
      'Payments through Toss (renewals, prorated upgrades, one-off purchases), with refunds. Retained 5 years from requested_at (전자상거래법 시행령 6조); a deleted user''s payments stay, detached';
    comment on column public.payments.detached_at is 'When the paying user was deleted and this record detached from them';

    -- What kind of charge, and for renewals the period and the attempt within it.
    alter table public.payments add column kind text not null default 'other'
      constraint payments_kind_check check (kind in ('renewal', 'proration', 'other'));
    alter table public.payments add column period_start timestamptz null;
    alter table public.payments add column attempt integer null constraint payments_attempt_check check (attempt >= 1);
    alter table public.payments add constraint payments_renewal_shape_check
      check (kind <> 'renewal' or (period_start is not null and attempt is not null));
    create unique index payments_one_charge_per_period_key on public.payments (subscription_id, period_start)
      where kind = 'renewal' and status in ('approved', 'partially_refunded', 'refunded');
    create unique index payments_one_open_attempt_key on public.payments (subscription_id, period_start)
      where kind = 'renewal' and status = 'pending';
    create unique index payments_renewal_attempt_key on public.payments (subscription_id, period_start, attempt)
      where kind = 'renewal';
    create index payments_pending_requested_at_idx on public.payments (requested_at) where status = 'pending';
    comment on index public.payments_one_charge_per_period_key is 'A subscription is charged at most once per billing period';
    comment on index public.payments_one_open_attempt_key is 'At most one renewal attempt per period is in flight';

    -- Billing keys sealed; renewal state.
    alter table public.subscriptions drop column billing_key;
    alter table public.subscriptions add column billing_key_enc bytea null;
    alter table public.subscriptions add column billing_key_digest bytea null;
    alter table public.subscriptions add column billing_key_hint text null;
    alter table public.subscriptions add constraint subscriptions_billing_key_check
      check ((billing_key_enc is null) = (billing_key_digest is null)
             and (billing_key_digest is null or length(billing_key_digest) = 32)
             and (billing_key_hint is null or length(billing_key_hint) <= 4));
    create unique index subscriptions_billing_key_digest_key on public.subscriptions (billing_key_digest)
      where billing_key_digest is not null;
    alter table public.subscriptions add column billing_anchor timestamptz null;
    alter table public.subscriptions add column billing_cycle integer not null default 0
      constraint subscriptions_billing_cycle_check check (billing_cycle >= 0);
    alter table public.subscriptions add column retry_at timestamptz null;
    alter table public.subscriptions add column dunning_attempt integer not null default 0
      constraint subscriptions_dunning_attempt_check check (dunning_attempt >= 0);
    alter table public.subscriptions add column past_due_since timestamptz null;
    alter table public.subscriptions add column pending_plan text null
      constraint subscriptions_pending_plan_fkey references public.plans (code) on update cascade on delete restrict;
    alter table public.subscriptions add constraint subscriptions_past_due_check
      check ((status = 'past_due') = (past_due_since is not null));
    create index subscriptions_pending_plan_idx on public.subscriptions (pending_plan) where pending_plan is not null;
    create index subscriptions_due_idx on public.subscriptions (next_billing_at)
      where status in ('trial', 'active', 'past_due');
    comment on column public.subscriptions.billing_key_enc is 'Toss billing key, AES-256-GCM sealed by sumda (context: the subscription id); never printed whole';
    comment on column public.subscriptions.billing_key_digest is 'SHA-256 of the billing key: uniqueness without the key';
    comment on column public.subscriptions.billing_key_hint is 'Last four characters of the billing key, for operators';
    comment on column public.subscriptions.billing_anchor is 'The first billing instant; period n starts at anchor + n intervals (Seoul calendar, month-end clamped)';
    comment on column public.subscriptions.billing_cycle is 'Index of the period that next_billing_at starts';
    comment on column public.subscriptions.retry_at is 'Not before: the next renewal attempt (dunning day, temporary error back-off)';
    comment on column public.subscriptions.pending_plan is 'A downgrade that takes effect at the next renewal';

    create table public.payment_attempts (
      id bigint generated always as identity primary key,
      payment_id uuid not null constraint payment_attempts_payment_id_fkey references public.payments (id) on delete cascade,
      operation text not null constraint payment_attempts_operation_check check (operation in ('charge', 'lookup', 'cancel')),
      outcome text not null constraint payment_attempts_outcome_check
        check (outcome in ('approved', 'unknown', 'temporary', 'soft_decline', 'hard_decline', 'config', 'not_found', 'canceled', 'failed')),
      code text null,
      message text null,
      http_status integer null,
      at timestamptz not null default now()
    );
    create index payment_attempts_payment_id_idx on public.payment_attempts (payment_id, at);
    comment on table public.payment_attempts is 'Every call to Toss about a payment (charge, look-up, cancel) and how it ended';

    create table public.subscription_history (
      id bigint generated always as identity primary key,
      subscription_id uuid not null constraint subscription_history_subscription_id_fkey references public.subscriptions (id) on delete cascade,
      event text not null constraint subscription_history_event_check check (event in (
        'renewed', 'trial_converted', 'payment_failed', 'dunning_retry_scheduled', 'recovered', 'canceled',
        'cancel_scheduled', 'resumed', 'plan_changed', 'downgrade_scheduled', 'price_capped', 'card_required',
        'renewal_notice', 'operator_alert')),
      from_status text null,
      to_status text null,
      payment_id uuid null constraint subscription_history_payment_id_fkey references public.payments (id) on delete set null,
      detail jsonb not null default '{}',
      actor_id uuid null constraint subscription_history_actor_id_fkey references admin.admins (id) on delete set null,
      at timestamptz not null default now()
    );
    create index subscription_history_subscription_id_idx on public.subscription_history (subscription_id, at);
    create index subscription_history_payment_id_idx on public.subscription_history (payment_id) where payment_id is not null;
    create index subscription_history_event_at_idx on public.subscription_history (event, at);
    comment on table public.subscription_history is 'What happened to a subscription: renewals, dunning, cancellations, plan changes (actor null = the worker)';

    create table public.billing_consents (
      id uuid primary key default gen_random_uuid(),
      subscription_id uuid null constraint billing_consents_subscription_id_fkey references public.subscriptions (id) on delete set null,
      user_id uuid null constraint billing_consents_user_id_fkey references public.users (id) on delete set null,
      kind text not null constraint billing_consents_kind_check
        check (kind in ('subscribe', 'trial_conversion', 'price_increase', 'plan_change')),
      plan text not null,
      amount bigint not null constraint billing_consents_amount_check check (amount >= 0),
      currency text not null default 'KRW' constraint billing_consents_currency_check check (currency ~ '^[A-Z]{3}$'),
      consented_at timestamptz not null,
      channel text not null default 'app' constraint billing_consents_channel_check check (channel in ('app', 'operator')),
      recorded_by uuid null constraint billing_consents_recorded_by_fkey references admin.admins (id) on delete set null,
      created_at timestamptz not null default now()
    );
    create index billing_consents_subscription_id_idx on public.billing_consents (subscription_id, consented_at desc);
    create index billing_consents_user_id_idx on public.billing_consents (user_id);
    comment on table public.billing_consents is
      'A user''s consent to be charged up to an amount (전자상거래법 13조 6항): subscribe never lapses; trial_conversion, price_increase and plan_change count for charges within 30 days after consented_at. Kept with the payments they justify';

    create trigger users_detach_payments before delete on public.users
      for each row execute function public.payments_detach_user();

    create table public.payment_refunds (
      id uuid primary key default gen_random_uuid(),
      payment_id uuid not null constraint payment_refunds_payment_id_fkey references public.payments (id) on delete cascade,
      idempotency_key text not null constraint payment_refunds_idempotency_key_key unique,
      amount bigint null constraint payment_refunds_amount_check check (amount > 0),
      reason text not null constraint payment_refunds_reason_check check (length(reason) between 1 and 200),
      status text not null default 'pending' constraint payment_refunds_status_check check (status in ('pending', 'done', 'failed')),
      failure_code text null,
      requested_by uuid null constraint payment_refunds_requested_by_fkey references admin.admins (id) on delete set null,
      requested_at timestamptz not null default now(),
      done_at timestamptz null
    );
    create index payment_refunds_payment_id_idx on public.payment_refunds (payment_id);
    comment on table public.payment_refunds is 'Refund requests: the idempotency key makes a replayed refund refund once';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger users_detach_payments on public.users;
    drop table public.payment_refunds;
    drop table public.billing_consents;
    drop table public.subscription_history;
    drop table public.payment_attempts;
    drop index public.subscriptions_due_idx;
    drop index public.subscriptions_pending_plan_idx;
    alter table public.subscriptions drop constraint subscriptions_past_due_check;
    alter table public.subscriptions drop column pending_plan;
    alter table public.subscriptions drop column past_due_since;
    alter table public.subscriptions drop column dunning_attempt;
    alter table public.subscriptions drop column retry_at;
    alter table public.subscriptions drop column billing_cycle;
    alter table public.subscriptions drop column billing_anchor;
    drop index public.subscriptions_billing_key_digest_key;
    alter table public.subscriptions drop constraint subscriptions_billing_key_check;
    alter table public.subscriptions drop column billing_key_hint;
    alter table public.subscriptions drop column billing_key_digest;
    alter table public.subscriptions drop column billing_key_enc;
    alter table public.subscriptions add column billing_key text null;
    create unique index subscriptions_billing_key_key on public.subscriptions (billing_key) where billing_key is not null;

    drop index public.payments_pending_requested_at_idx;
    drop index public.payments_renewal_attempt_key;
    drop index public.payments_one_open_attempt_key;
    drop index public.payments_one_charge_per_period_key;
    alter table public.payments drop constraint payments_renewal_shape_check;
    alter table public.payments drop column attempt;
    alter table public.payments drop column period_start;
    alter table public.payments drop column kind;
    drop trigger payments_guard_retention on public.payments;
    drop function public.payments_guard_retention();
    drop function public.payments_detach_user();
    alter table public.payments drop constraint payments_user_id_fkey;
    delete from public.payments where user_id is null;
    alter table public.payments drop constraint payments_detached_check;
    alter table public.payments drop column detached_at;
    alter table public.payments add column billing_key text null;
    alter table public.payments alter column user_id set not null;
    alter table public.payments add constraint payments_user_id_fkey
      foreign key (user_id) references public.users (id) on delete cascade;
    comment on table public.payments is 'Payments through Toss (subscription renewals and one-off purchases), with refunds';
  `.execute(db);
}
