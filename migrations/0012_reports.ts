import { type Kysely, sql } from 'kysely';

// Reports: recorded backfill runs and staleness marks (both sumda bookkeeping, in the sumda schema).
//
// sumda.report_backfills: one row per `sumda report backfill` (or scheduled build): its
// parameters, who started it, its status, the cursor (which period, last user id done) and
// counters. Chunks advance the cursor in the transaction that writes their reports, so a run
// resumes after a crash exactly where its last committed chunk left it.
//
// sumda.report_stale: a row per (user, period) whose report may be out of date because something
// it was built from changed after it was built: an analysis inserted, replaced or deleted; an entry
// written (or back-dated), moderated, moved or deleted. Statement-level triggers on
// analysis_results and diary_entries mark, for every touched (user, Seoul day), the daily, weekly,
// monthly and yearly periods containing that day and the period right after each (whose report
// compares itself with it). The builder deletes the marks of what it built in the same statement
// (same snapshot); the `report.stale` job rebuilds the marks whose report exists and whose period
// has ended. No full rescans: the marks are the work list.
//
// `generation` is bumped on every re-mark. The builder deletes a mark only at the generation it
// read, so a mark re-set by a change that committed after the builder's snapshot survives it.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table sumda.report_backfills (
      id bigint generated always as identity primary key,
      origin text not null default 'operator' constraint report_backfills_origin_check check (origin in ('operator', 'schedule')),
      period_type text not null constraint report_backfills_period_type_check check (period_type in ('daily', 'weekly', 'monthly', 'yearly')),
      from_date date not null,
      to_date date not null,
      first_period date not null,
      last_period date not null,
      user_id uuid null,
      chunk_size integer not null constraint report_backfills_chunk_size_check check (chunk_size between 1 and 10000),
      throttle_ms integer not null default 0 constraint report_backfills_throttle_ms_check check (throttle_ms between 0 and 600000),
      chunk_timeout_s integer not null default 60 constraint report_backfills_chunk_timeout_check check (chunk_timeout_s between 1 and 3600),
      mode text not null constraint report_backfills_mode_check check (mode in ('queued', 'inline')),
      status text not null default 'running' constraint report_backfills_status_check check (status in ('running', 'paused', 'cancelled', 'completed', 'failed')),
      cursor_period date not null,
      cursor_user uuid null,
      done bigint not null default 0 constraint report_backfills_done_check check (done >= 0),
      total bigint not null constraint report_backfills_total_check check (total >= 0),
      written bigint not null default 0,
      removed bigint not null default 0,
      skipped_periods integer not null default 0,
      chunks integer not null default 0,
      failures integer not null default 0,
      last_error text null,
      next_job_id uuid null,
      actor_id uuid null constraint report_backfills_actor_id_fkey references admin.admins (id) on delete restrict,
      actor_email text null,
      request_id uuid not null,
      started_at timestamptz not null default now(),
      progressed_at timestamptz not null default now(),
      finished_at timestamptz null,
      constraint report_backfills_range_check check (from_date <= to_date and first_period <= last_period),
      constraint report_backfills_cursor_check check (cursor_period between first_period and last_period),
      constraint report_backfills_finished_check check ((status in ('cancelled', 'completed', 'failed')) = (finished_at is not null)),
      constraint report_backfills_origin_actor_check check (origin = 'schedule' or actor_id is not null)
    );
    create index report_backfills_active_idx on sumda.report_backfills (period_type, first_period, last_period)
      where status in ('running', 'paused');
    -- A scheduled build of a period happens once, whichever worker's tick gets there first.
    create unique index report_backfills_schedule_key on sumda.report_backfills (period_type, first_period)
      where origin = 'schedule';
    comment on table sumda.report_backfills is 'Report backfill runs (operator or schedule): parameters, status, cursor and counters';
    comment on column sumda.report_backfills.to_date is 'Inclusive: the last Seoul day whose period the run builds';
    comment on column sumda.report_backfills.cursor_period is 'period_start the run is working on';
    comment on column sumda.report_backfills.cursor_user is 'Last user id done in cursor_period (null: none yet)';
    comment on column sumda.report_backfills.done is 'User-periods examined so far (of total)';
    comment on column sumda.report_backfills.next_job_id is 'The one chunk job allowed to continue a queued run; any other finds itself superseded';

    create sequence sumda.report_stale_generation;
    create table sumda.report_stale (
      user_id uuid not null,
      period_type text not null constraint report_stale_period_type_check check (period_type in ('daily', 'weekly', 'monthly', 'yearly')),
      period_start date not null,
      generation bigint not null default nextval('sumda.report_stale_generation'),
      marked_at timestamptz not null default now(),
      primary key (user_id, period_type, period_start)
    );
    create index report_stale_period_idx on sumda.report_stale (period_type, period_start);
    comment on table sumda.report_stale is 'Reports that may be out of date (work list of the report.stale job), set by triggers';

    -- Marks the four periods containing each (user, Seoul day), and the period after each.
    -- Users that no longer exist (a cascade from a deleted account) are skipped.
    create function sumda.mark_reports_stale(p_users uuid[], p_days date[]) returns void
    language sql as $fn$
      insert into sumda.report_stale as s (user_id, period_type, period_start)
      select distinct x.user_id, t.period_type, p.period_start
      from (select distinct user_id, day from unnest(p_users, p_days) as u(user_id, day)) x
      join public.users u on u.id = x.user_id
      cross join (values ('daily', 'day', interval '1 day'), ('weekly', 'week', interval '7 days'),
                         ('monthly', 'month', interval '1 month'), ('yearly', 'year', interval '1 year'))
        as t(period_type, field, step)
      cross join lateral (select date_trunc(t.field, x.day::timestamp)::date as first) f
      cross join lateral (values (f.first), ((f.first + t.step)::date)) as p(period_start)
      where x.day is not null
      on conflict (user_id, period_type, period_start)
        do update set generation = nextval('sumda.report_stale_generation'), marked_at = now();
    $fn$;

    create function sumda.analysis_results_mark_stale() returns trigger
    language plpgsql as $fn$
    begin
      if tg_op = 'INSERT' or tg_op = 'UPDATE' then
        perform sumda.mark_reports_stale(array_agg(d.user_id), array_agg((d.created_at at time zone 'Asia/Seoul')::date))
        from (select distinct diary_id from new_rows) n join public.diary_entries d on d.id = n.diary_id;
      end if;
      if tg_op = 'DELETE' or tg_op = 'UPDATE' then
        perform sumda.mark_reports_stale(array_agg(d.user_id), array_agg((d.created_at at time zone 'Asia/Seoul')::date))
        from (select distinct diary_id from old_rows) o join public.diary_entries d on d.id = o.diary_id;
      end if;
      return null;
    end
    $fn$;
    create trigger mark_reports_stale_insert after insert on public.analysis_results
      referencing new table as new_rows for each statement execute function sumda.analysis_results_mark_stale();
    create trigger mark_reports_stale_update after update on public.analysis_results
      referencing old table as old_rows new table as new_rows for each statement execute function sumda.analysis_results_mark_stale();
    create trigger mark_reports_stale_delete after delete on public.analysis_results
      referencing old table as old_rows for each statement execute function sumda.analysis_results_mark_stale();

    create function sumda.diary_entries_mark_stale() returns trigger
    language plpgsql as $fn$
    begin
      if tg_op = 'INSERT' then
        perform sumda.mark_reports_stale(array_agg(user_id), array_agg((created_at at time zone 'Asia/Seoul')::date))
        from new_rows;
      elsif tg_op = 'DELETE' then
        perform sumda.mark_reports_stale(array_agg(user_id), array_agg((created_at at time zone 'Asia/Seoul')::date))
        from old_rows;
      else
        -- Only what a report depends on: visibility, the day written, the author. Key rotation
        -- rewrites content_enc of every entry and marks nothing.
        perform sumda.mark_reports_stale(array_agg(c.user_id), array_agg(c.day))
        from (
          select o.user_id, (o.created_at at time zone 'Asia/Seoul')::date as day
          from old_rows o join new_rows n on n.id = o.id
          where (o.moderation_state, o.created_at, o.user_id) is distinct from (n.moderation_state, n.created_at, n.user_id)
          union all
          select n.user_id, (n.created_at at time zone 'Asia/Seoul')::date
          from old_rows o join new_rows n on n.id = o.id
          where (o.moderation_state, o.created_at, o.user_id) is distinct from (n.moderation_state, n.created_at, n.user_id)
        ) c;
      end if;
      return null;
    end
    $fn$;
    create trigger mark_reports_stale_insert after insert on public.diary_entries
      referencing new table as new_rows for each statement execute function sumda.diary_entries_mark_stale();
    create trigger mark_reports_stale_update after update on public.diary_entries
      referencing old table as old_rows new table as new_rows for each statement execute function sumda.diary_entries_mark_stale();
    create trigger mark_reports_stale_delete after delete on public.diary_entries
      referencing old table as old_rows for each statement execute function sumda.diary_entries_mark_stale();

    -- The builder finds a user's entries of a period by (user_id, created_at) and each entry's
    -- analyses by diary_id (the unique key's first column), so no new index is needed for them.
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger mark_reports_stale_insert on public.diary_entries;
    drop trigger mark_reports_stale_update on public.diary_entries;
    drop trigger mark_reports_stale_delete on public.diary_entries;
    drop trigger mark_reports_stale_insert on public.analysis_results;
    drop trigger mark_reports_stale_update on public.analysis_results;
    drop trigger mark_reports_stale_delete on public.analysis_results;
    drop function sumda.diary_entries_mark_stale();
    drop function sumda.analysis_results_mark_stale();
    drop function sumda.mark_reports_stale(uuid[], date[]);
    drop table sumda.report_stale;
    drop sequence sumda.report_stale_generation;
    drop table sumda.report_backfills;
  `.execute(db);
}
