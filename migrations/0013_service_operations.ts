import { type Kysely, sql } from 'kysely';

// Service operations: what the support desk's SLA, attendance rewards, points expiry, announcement
// targeting and the login security views need that 0006/0007 did not have.
//
// - admin.support_inquiries gets an assignee and the two SLA instants. first_response_at is kept by
//   the database (the first admin.support_responses row of the inquiry sets it), closed_at follows
//   status (a CHECK ties them), so the numbers of `support stats` cannot drift from the thread.
// - admin.event_rewards: what an event pays for a streak (e.g. 7 consecutive days → 100 points),
//   once per attendance row that reaches it (user_points_ledger's (ref_type, ref_id, reason) key).
// - event_attendance.streak is written by the job, not by the app: null until computed.
// - user_points_ledger accepts ref_type 'expiry' (the daily expiry run of one user: ref_id
//   '<Asia/Seoul date>:<user id>'), so an expiry is written once per user and day, like a grant.
// - login_logs.country: the ISO 3166-1 alpha-2 country the API server resolved the IP to.
// - announcements.segment: who a published announcement is fanned out to.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table admin.support_inquiries
      add column assignee_id uuid null constraint support_inquiries_assignee_id_fkey references admin.admins (id) on delete set null,
      add column first_response_at timestamptz null,
      add column closed_at timestamptz null;
    update admin.support_inquiries i set first_response_at = r.first
      from (select inquiry_id, min(created_at) as first from admin.support_responses group by inquiry_id) r
      where r.inquiry_id = i.id;
    update admin.support_inquiries set closed_at = greatest(updated_at, coalesce(first_response_at, created_at))
      where status = 'closed';
    alter table admin.support_inquiries
      add constraint support_inquiries_closed_at_check check ((status = 'closed') = (closed_at is not null)),
      add constraint support_inquiries_closed_after_check check (closed_at >= created_at),
      add constraint support_inquiries_first_response_after_check check (first_response_at >= created_at);
    create index support_inquiries_assignee_id_idx on admin.support_inquiries (assignee_id, status) where assignee_id is not null;
    comment on column admin.support_inquiries.assignee_id is 'The operator who owns the ticket (null = unassigned)';
    comment on column admin.support_inquiries.first_response_at is 'Instant of the first operator reply (set by the database); the SLA''s first-response time';
    comment on column admin.support_inquiries.closed_at is 'Instant the ticket was last closed; null while open or pending (reopen clears it)';

    create function admin.support_responses_first_response() returns trigger
    language plpgsql as $$
    begin
      update admin.support_inquiries set first_response_at = new.created_at
        where id = new.inquiry_id and first_response_at is null;
      return new;
    end
    $$;
    comment on function admin.support_responses_first_response() is
      'AFTER INSERT trigger of support_responses: the first reply stamps the inquiry''s first_response_at';
    create trigger support_responses_first_response after insert on admin.support_responses
      for each row execute function admin.support_responses_first_response();

    create table admin.event_rewards (
      event_id uuid not null constraint event_rewards_event_id_fkey references admin.events (id) on delete cascade,
      streak_days integer not null constraint event_rewards_streak_days_check check (streak_days between 1 and 366),
      points bigint not null constraint event_rewards_points_check check (points between 1 and 1000000),
      code text generated always as ('streak-' || streak_days) stored,
      created_at timestamptz not null default now(),
      constraint event_rewards_pkey primary key (event_id, streak_days)
    );
    comment on table admin.event_rewards is 'Points an event pays when a user''s attendance streak reaches streak_days (code streak-N goes into event_attendance.reward_code)';

    alter table public.event_attendance alter column streak drop not null;
    create index event_attendance_streak_pending_idx on public.event_attendance (event_id, user_id) where streak is null;
    comment on column public.event_attendance.streak is 'Consecutive days attended up to and including date; null until the attendance job computed it';
    comment on column public.event_attendance.reward_code is 'The reward this day''s streak earned (event_rewards.code), paid into user_points_ledger once';

    alter table public.user_points_ledger drop constraint user_points_ledger_ref_type_check;
    alter table public.user_points_ledger add constraint user_points_ledger_ref_type_check
      check (ref_type in ('event', 'attendance', 'payment', 'diary', 'admin', 'expiry'));
    alter table public.user_points_ledger add constraint user_points_ledger_expiry_check
      check ((reason <> 'expiry' or delta < 0) and (ref_type is distinct from 'expiry' or reason = 'expiry'));
    create index user_points_ledger_positive_idx on public.user_points_ledger (created_at, user_id) where delta > 0;

    alter table admin.login_logs add column country text null
      constraint login_logs_country_check check (country ~ '^[A-Z]{2}$');
    comment on column admin.login_logs.country is 'ISO 3166-1 alpha-2 country of the IP, as resolved by the API server (null = unknown)';

    alter table public.announcements add column segment text null
      constraint announcements_segment_check check (segment in ('everyone', 'paid', 'free', 'trial') or segment ~ '^inactive:[1-9][0-9]{0,3}d$');
    comment on column public.announcements.segment is 'Who the announcement is fanned out to when published (null = not sent as a notification)';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table public.announcements drop column segment;
    alter table admin.login_logs drop column country;
    drop index public.user_points_ledger_positive_idx;
    alter table public.user_points_ledger drop constraint user_points_ledger_expiry_check;
    alter table public.user_points_ledger drop constraint user_points_ledger_ref_type_check;
    alter table public.user_points_ledger add constraint user_points_ledger_ref_type_check
      check (ref_type in ('event', 'attendance', 'payment', 'diary', 'admin')); -- fails while expiry rows exist
    drop index public.event_attendance_streak_pending_idx;
    update public.event_attendance set streak = 1 where streak is null;
    alter table public.event_attendance alter column streak set not null;
    drop table admin.event_rewards;
    drop trigger support_responses_first_response on admin.support_responses;
    drop function admin.support_responses_first_response();
    drop index admin.support_inquiries_assignee_id_idx;
    alter table admin.support_inquiries
      drop column closed_at,
      drop column first_response_at,
      drop column assignee_id;
  `.execute(db);
}
