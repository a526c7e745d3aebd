import { type Kysely, sql } from 'kysely';

// Billing: plans (the catalogue), one subscription row per user (Toss recurring billing), and
// payments. Money is bigint minor units plus an ISO 4217 currency; KRW has no minor unit.
// Single-value enumerations are written `= any (array[...])` rather than `in (...)`, because
// Postgres folds a one-element IN into a plain `=` and codegen would lose the literal type.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table public.plans (
      id uuid primary key default gen_random_uuid(),
      code text not null constraint plans_code_key unique constraint plans_code_check check (code ~ '^[a-z0-9_-]+$'),
      name text not null,
      price bigint not null constraint plans_price_check check (price >= 0),
      currency text not null default 'KRW' constraint plans_currency_check check (currency ~ '^[A-Z]{3}$'),
      billing_interval text not null constraint plans_billing_interval_check check (billing_interval in ('month', 'year')),
      trial_days integer not null default 0 constraint plans_trial_days_check check (trial_days >= 0),
      features jsonb not null default '{}' constraint plans_features_check check (jsonb_typeof(features) = 'object'),
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create trigger set_updated_at before update on public.plans
      for each row execute function public.set_updated_at();
    comment on table public.plans is 'Subscription plans on sale (price in minor units, billing interval, trial, feature set)';
    comment on column public.plans.price is 'Minor units of currency; KRW has none, so 9,900 KRW is 9900';

    create table public.subscriptions (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint subscriptions_user_id_key unique
        constraint subscriptions_user_id_fkey references public.users (id) on delete cascade,
      plan text not null constraint subscriptions_plan_fkey references public.plans (code) on update cascade on delete restrict,
      status text not null default 'active' constraint subscriptions_status_check check (status in ('trial', 'active', 'past_due', 'canceled')),
      start_date timestamptz not null default now(),
      end_date timestamptz null,
      provider text not null default 'toss' constraint subscriptions_provider_check check (provider = any (array['toss'])),
      customer_key text null,
      billing_key text null,
      next_billing_at timestamptz null,
      last_billed_at timestamptz null,
      cancel_at timestamptz null,
      cancel_reason text null,
      trial_end timestamptz null,
      quantity integer not null default 1 constraint subscriptions_quantity_check check (quantity > 0),
      price_override bigint null constraint subscriptions_price_override_check check (price_override >= 0),
      currency text not null default 'KRW' constraint subscriptions_currency_check check (currency ~ '^[A-Z]{3}$'),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint subscriptions_id_user_id_key unique (id, user_id),
      constraint subscriptions_dates_check check (end_date is null or start_date <= end_date)
    );
    create unique index subscriptions_billing_key_key on public.subscriptions (billing_key) where billing_key is not null;
    create index subscriptions_status_next_billing_at_idx on public.subscriptions (status, next_billing_at);
    create index subscriptions_plan_idx on public.subscriptions (plan);
    create trigger set_updated_at before update on public.subscriptions
      for each row execute function public.set_updated_at();
    comment on table public.subscriptions is 'One subscription per user: plan, status and the Toss recurring-billing state';
    comment on column public.subscriptions.end_date is 'Null while the subscription runs';
    comment on column public.subscriptions.next_billing_at is 'When the next renewal is due; meaningful while status is trial or active';

    create table public.payments (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint payments_user_id_fkey references public.users (id) on delete cascade,
      subscription_id uuid null,
      amount bigint not null constraint payments_amount_check check (amount >= 0),
      currency text not null default 'KRW' constraint payments_currency_check check (currency ~ '^[A-Z]{3}$'),
      method text null,
      provider text not null default 'toss' constraint payments_provider_check check (provider = any (array['toss'])),
      provider_tx_id text null constraint payments_provider_tx_id_key unique,
      order_id text not null constraint payments_order_id_key unique,
      status text not null default 'pending' constraint payments_status_check check (status in ('pending', 'approved', 'failed', 'canceled', 'partially_refunded', 'refunded')),
      requested_at timestamptz not null default now(),
      approved_at timestamptz null,
      receipt_url text null,
      failure_code text null,
      failure_message text null,
      method_detail jsonb null,
      refunded_amount bigint not null default 0,
      billing_key text null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      -- With user_id: a payment can never point at another user's subscription.
      -- NO ACTION (checked at statement end): a subscription with payments cannot be deleted on its own,
      -- but deleting the user removes both in one statement.
      constraint payments_subscription_fkey foreign key (subscription_id, user_id)
        references public.subscriptions (id, user_id),
      constraint payments_refunded_amount_check check (refunded_amount >= 0 and refunded_amount <= amount),
      constraint payments_refund_status_check check (case status
        when 'refunded' then refunded_amount = amount
        when 'partially_refunded' then refunded_amount > 0 and refunded_amount < amount
        else true
      end)
    );
    create index payments_subscription_id_created_at_idx on public.payments (subscription_id, created_at desc);
    create index payments_user_id_created_at_idx on public.payments (user_id, created_at desc);
    create index payments_status_created_at_idx on public.payments (status, created_at);
    create trigger set_updated_at before update on public.payments
      for each row execute function public.set_updated_at();
    comment on table public.payments is 'Payments through Toss (subscription renewals and one-off purchases), with refunds';
    comment on column public.payments.amount is 'Minor units of currency';
    comment on column public.payments.order_id is 'Our order id sent to Toss; unique, so a retried charge cannot bill twice';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table public.payments;
    drop table public.subscriptions;
    drop table public.plans;
  `.execute(db);
}
