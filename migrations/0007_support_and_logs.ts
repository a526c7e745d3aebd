import { type Kysely, sql } from 'kysely';

// Customer support (FAQ, inquiries, operator responses) and the high-volume logs written by the
// API server (API calls, logins) and by every service (errors). Logs use bigint identity keys.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table public.support_faq (
      id uuid primary key default gen_random_uuid(),
      category text not null,
      question text not null,
      answer text not null,
      order_no integer not null default 0,
      is_active boolean not null default true,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index support_faq_category_order_no_idx on public.support_faq (category, order_no);
    create trigger set_updated_at before update on public.support_faq
      for each row execute function public.set_updated_at();
    comment on table public.support_faq is 'Frequently asked questions shown in the app support screen (smaller order_no first)';

    create table admin.support_inquiries (
      id uuid primary key default gen_random_uuid(),
      user_id uuid null constraint support_inquiries_user_id_fkey references public.users (id) on delete set null,
      category text not null constraint support_inquiries_category_check check (category in ('payment', 'account', 'bug', 'diary', 'other')),
      message text not null,
      status text not null default 'open' constraint support_inquiries_status_check check (status in ('open', 'pending', 'closed')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create index support_inquiries_status_created_at_idx on admin.support_inquiries (status, created_at);
    create index support_inquiries_user_id_idx on admin.support_inquiries (user_id, created_at desc) where user_id is not null;
    create trigger set_updated_at before update on admin.support_inquiries
      for each row execute function public.set_updated_at();
    comment on table admin.support_inquiries is 'Support tickets from users (user_id null = not signed in, or the user was deleted)';

    create table admin.support_responses (
      id uuid primary key default gen_random_uuid(),
      inquiry_id uuid not null constraint support_responses_inquiry_id_fkey references admin.support_inquiries (id) on delete cascade,
      admin_id uuid not null constraint support_responses_admin_id_fkey references admin.admins (id) on delete restrict,
      response text not null,
      created_at timestamptz not null default now()
    );
    create index support_responses_inquiry_id_created_at_idx on admin.support_responses (inquiry_id, created_at);
    create index support_responses_admin_id_created_at_idx on admin.support_responses (admin_id, created_at);
    comment on table admin.support_responses is 'Operator replies to support tickets, in conversation order';

    create table admin.api_logs (
      id bigint generated always as identity primary key,
      user_id uuid null constraint api_logs_user_id_fkey references public.users (id) on delete set null,
      method text not null constraint api_logs_method_check check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')),
      endpoint text not null,
      status_code integer not null constraint api_logs_status_code_check check (status_code between 100 and 599),
      latency_ms integer not null constraint api_logs_latency_ms_check check (latency_ms >= 0),
      created_at timestamptz not null default now()
    );
    create index api_logs_created_at_idx on admin.api_logs (created_at);
    create index api_logs_user_id_created_at_idx on admin.api_logs (user_id, created_at);
    comment on table admin.api_logs is 'API server request log (user_id null = anonymous or system call)';

    create table admin.error_logs (
      id bigint generated always as identity primary key,
      severity text not null constraint error_logs_severity_check check (severity in ('debug', 'info', 'warn', 'error', 'fatal')),
      service text not null constraint error_logs_service_check check (service in ('api', 'worker', 'batch', 'analysis', 'slip', 'report', 'billing', 'event', 'payment', 'diary', 'user', 'admin', 'login', 'support')),
      ref_id uuid null,
      message text not null,
      stack text null,
      context jsonb not null default '{}' constraint error_logs_context_check check (jsonb_typeof(context) = 'object'),
      created_at timestamptz not null default now()
    );
    create index error_logs_service_created_at_idx on admin.error_logs (service, created_at desc);
    create index error_logs_ref_id_idx on admin.error_logs (ref_id) where ref_id is not null;
    comment on table admin.error_logs is 'Errors of every service; ref_id names the row concerned (its table follows from service)';

    create table admin.login_logs (
      id bigint generated always as identity primary key,
      user_id uuid null constraint login_logs_user_id_fkey references public.users (id) on delete cascade,
      ip inet null,
      device text null,
      ua text null,
      success boolean not null,
      created_at timestamptz not null default now()
    );
    create index login_logs_user_id_created_at_idx on admin.login_logs (user_id, created_at desc);
    create index login_logs_ip_created_at_idx on admin.login_logs (ip, created_at desc);
    comment on table admin.login_logs is 'Login attempts, successful or not, with IP and device (user_id null = unknown account)';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table admin.login_logs;
    drop table admin.error_logs;
    drop table admin.api_logs;
    drop table admin.support_responses;
    drop table admin.support_inquiries;
    drop table public.support_faq;
  `.execute(db);
}
