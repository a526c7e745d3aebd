import { type Kysely, sql } from 'kysely';

// Engagement: events (admin), announcements, notifications, event attendance and the points ledger.
//
// user_points_ledger is append-only and keeps its own running balance: the BEFORE INSERT trigger
// takes a transaction-scoped advisory lock per user (POINTS_LOCK_SPACE, hashtext(user_id)), reads
// the user's last balance and sets balance_after = previous + delta, whatever the client sent; a
// result below zero fails the CHECK. It also re-draws the id after taking the lock, so ids follow
// the lock order and "order by id" is the running order of each user's balance.
// REPEATABLE READ is refused: its snapshot predates the lock and would miss the row of the writer
// it waited for. (SERIALIZABLE is safe: that case is a serialization failure, retryable.)

/** First key of the per-user pg_advisory_xact_lock(int, int) of the points ledger (0x5ad6_1ed9). */
const POINTS_LOCK_SPACE = 1523982041;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table admin.events (
      id uuid primary key default gen_random_uuid(),
      title text not null,
      description text null,
      start_date date not null,
      end_date date null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint events_dates_check check (start_date < end_date)
    );
    create trigger set_updated_at before update on admin.events
      for each row execute function public.set_updated_at();
    comment on table admin.events is 'Operated events (attendance, missions, rewards): the calendar other features refer to';
    comment on column admin.events.end_date is 'Exclusive, Asia/Seoul calendar day; null = open-ended';

    create table public.announcements (
      id uuid primary key default gen_random_uuid(),
      title text not null,
      body text not null,
      tags text[] not null default '{}',
      published_at timestamptz null,
      expires_at timestamptz null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      deleted_at timestamptz null,
      constraint announcements_window_check check (published_at < expires_at)
    );
    create index announcements_tags_idx on public.announcements using gin (tags);
    create index announcements_published_at_idx on public.announcements (published_at) where deleted_at is null;
    create trigger set_updated_at before update on public.announcements
      for each row execute function public.set_updated_at();
    comment on table public.announcements is 'Announcement and update articles shown in the app (soft-deleted via deleted_at)';
    comment on column public.announcements.expires_at is 'Exclusive; null = never expires';

    create table public.notifications (
      id uuid primary key default gen_random_uuid(),
      user_id uuid null constraint notifications_user_id_fkey references public.users (id) on delete cascade,
      type text not null constraint notifications_type_check check (type in ('notice', 'system', 'event', 'slip', 'crisis', 'billing', 'report')),
      title text not null,
      message text not null,
      read boolean not null default false,
      read_at timestamptz null,
      visible_from timestamptz not null default now(),
      visible_to timestamptz null,
      announcement_id uuid null constraint notifications_announcement_id_fkey references public.announcements (id) on delete set null,
      event_id uuid null constraint notifications_event_id_fkey references admin.events (id) on delete set null,
      dedupe_key text null,
      created_at timestamptz not null default now(),
      constraint notifications_window_check check (visible_to is null or visible_from < visible_to),
      constraint notifications_read_at_check check (read_at is null or read)
    );
    create unique index notifications_dedupe_key_key on public.notifications (dedupe_key) where dedupe_key is not null;
    create index notifications_user_id_visible_from_idx on public.notifications (user_id, visible_from desc);
    create index notifications_broadcast_visible_from_idx on public.notifications (visible_from) where user_id is null;
    create index notifications_announcement_id_idx on public.notifications (announcement_id) where announcement_id is not null;
    create index notifications_event_id_idx on public.notifications (event_id) where event_id is not null;
    comment on table public.notifications is 'In-app notifications to one user, or to everyone when user_id is null';
    comment on column public.notifications.dedupe_key is 'Set by jobs so a notification is sent exactly once';

    create table public.event_attendance (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint event_attendance_user_id_fkey references public.users (id) on delete cascade,
      event_id uuid not null constraint event_attendance_event_id_fkey references admin.events (id) on delete cascade,
      date date not null,
      streak integer not null constraint event_attendance_streak_check check (streak >= 1),
      reward_code text null,
      created_at timestamptz not null default now(),
      constraint event_attendance_user_event_date_key unique (user_id, event_id, date)
    );
    create index event_attendance_event_id_date_idx on public.event_attendance (event_id, date);
    comment on table public.event_attendance is 'One row per user, event and Asia/Seoul day attended, with the streak up to that day';
    comment on column public.event_attendance.streak is 'Consecutive days attended up to and including date';

    create table public.user_points_ledger (
      id bigint generated always as identity primary key,
      user_id uuid not null constraint user_points_ledger_user_id_fkey references public.users (id) on delete cascade,
      delta bigint not null constraint user_points_ledger_delta_check check (delta <> 0),
      reason text not null constraint user_points_ledger_reason_check check (reason in ('attendance', 'event', 'reward', 'purchase', 'admin_adjustment', 'expiry', 'refund', 'diary')),
      ref_type text null constraint user_points_ledger_ref_type_check check (ref_type in ('event', 'attendance', 'payment', 'diary', 'admin')),
      ref_id text null,
      balance_after bigint not null constraint user_points_ledger_balance_after_check check (balance_after >= 0),
      created_at timestamptz not null default now(),
      constraint user_points_ledger_ref_check check ((ref_type is null) = (ref_id is null)),
      constraint user_points_ledger_ref_key unique (ref_type, ref_id, reason)
    );
    create index user_points_ledger_user_id_id_idx on public.user_points_ledger (user_id, id desc);
    comment on table public.user_points_ledger is 'Append-only points ledger; balance_after is the running balance per user, kept by the database';
    comment on column public.user_points_ledger.balance_after is 'Previous balance of the user + delta, computed by the insert trigger; never negative';
    comment on constraint user_points_ledger_ref_key on public.user_points_ledger is 'A grant for the same reference and reason happens once';

    create function public.user_points_ledger_apply() returns trigger
    language plpgsql as $$
    declare
      previous bigint;
    begin
      if current_setting('transaction_isolation') = 'repeatable read' then
        raise exception 'public.user_points_ledger: insert at READ COMMITTED or SERIALIZABLE, not REPEATABLE READ'
          using errcode = 'P0001',
                hint = 'a repeatable-read snapshot cannot see the balance written by a concurrent grant';
      end if;
      perform pg_advisory_xact_lock(${sql.raw(String(POINTS_LOCK_SPACE))}, hashtext(new.user_id::text));
      new.id := nextval(pg_get_serial_sequence('public.user_points_ledger', 'id'));
      select l.balance_after into previous
        from public.user_points_ledger l where l.user_id = new.user_id order by l.id desc limit 1;
      new.balance_after := coalesce(previous, 0) + new.delta;
      return new;
    end
    $$;
    comment on function public.user_points_ledger_apply() is
      'BEFORE INSERT trigger of user_points_ledger: per-user lock, then balance_after = previous balance + delta';

    -- Append-only, with one exception: erasing a user (DELETE on users cascades here) takes the
    -- user's ledger along. A DELETE is allowed only when its user no longer exists.
    create function public.user_points_ledger_guard_delete() returns trigger
    language plpgsql as $$
    begin
      if exists (select 1 from public.users u where u.id = old.user_id) then
        raise exception 'public.user_points_ledger is append-only: DELETE refused'
          using errcode = 'P0001',
                hint = 'correct a balance with a new row (reason admin_adjustment); rows go only with their user';
      end if;
      return old;
    end
    $$;
    comment on function public.user_points_ledger_guard_delete() is
      'BEFORE DELETE trigger of user_points_ledger: refuses, except for the cascade of a deleted user';

    create trigger user_points_ledger_apply before insert on public.user_points_ledger
      for each row execute function public.user_points_ledger_apply();
    create trigger user_points_ledger_append_only before update on public.user_points_ledger
      for each row execute function admin.refuse_change('append-only');
    create trigger user_points_ledger_guard_delete before delete on public.user_points_ledger
      for each row execute function public.user_points_ledger_guard_delete();
    create trigger user_points_ledger_no_truncate before truncate on public.user_points_ledger
      for each statement execute function admin.refuse_change('append-only');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table public.user_points_ledger;
    drop function public.user_points_ledger_guard_delete();
    drop function public.user_points_ledger_apply();
    drop table public.event_attendance;
    drop table public.notifications;
    drop table public.announcements;
    drop table admin.events;
  `.execute(db);
}
