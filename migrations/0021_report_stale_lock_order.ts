import { type Kysely, sql } from 'kysely';

// sumda.mark_reports_stale upserts a statement's staleness marks in a fixed order (user, period
// type, period start). Its rows were upserted in whatever order the planner's DISTINCT produced, so
// two transactions marking overlapping users (concurrent analysis batches of a re-analysis or a
// backfill: every entry of a user marks the same yearly and monthly rows) locked them in different
// orders and deadlocked — the losing batch failed whole and went back for a retry, and more worker
// processes made it worse (bench/scaleout.ts). In one order, they queue instead.
//
// CREATE OR REPLACE keeps the owner and the grants but not the attributes: 0014's security definer
// and search_path are restated.
function body(ordered: boolean) {
  return sql.raw(`
    create or replace function sumda.mark_reports_stale(p_users uuid[], p_days date[]) returns void
    language sql security definer set search_path = pg_catalog, pg_temp as $fn$
      insert into sumda.report_stale as s (user_id, period_type, period_start)
      select distinct x.user_id, t.period_type, p.period_start
      from (select distinct user_id, day from unnest(p_users, p_days) as u(user_id, day)) x
      join public.users u on u.id = x.user_id
      cross join (values ('daily', 'day', interval '1 day'), ('weekly', 'week', interval '7 days'),
                         ('monthly', 'month', interval '1 month'), ('yearly', 'year', interval '1 year'))
        as t(period_type, field, step)
      cross join lateral (select date_trunc(t.field, x.day::timestamp)::date as first) f
      cross join lateral (values (f.first), ((f.first + t.step)::date)) as p(period_start)
      where x.day is not null${ordered ? '\n      order by 1, 2, 3' : ''}
      on conflict (user_id, period_type, period_start)
        do update set generation = nextval('sumda.report_stale_generation'), marked_at = now();
    $fn$;
  `);
}

export async function up(db: Kysely<any>): Promise<void> {
  await body(true).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await body(false).execute(db);
}
