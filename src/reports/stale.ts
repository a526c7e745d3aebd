/**
 * Stale reports (see migrations/0012_reports.ts and docs/report-summary.md): the work list is
 * sumda.report_stale, set by triggers. `rebuildStale` rebuilds the marked reports that exist and
 * whose period has ended, grouped by period, one builder statement per chunk of marked users × one
 * period; marks without a report are dropped once they are older than any build that could have
 * been in flight when they were set (the next build of their period reads the source anyway).
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { type PeriodType, periodStartingOn } from '../time/calendar.ts';
import { buildChunk, FIRST_USER } from './build.ts';

/** Above every uuid. */
const LAST_USER = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
/** Marked users per builder statement. */
const USERS_PER_CHUNK = 500;
/** Marks read per round. */
const MARKS_PER_ROUND = 5000;
/**
 * A mark with no report is dropped after this long: longer than any chunk statement may run
 * (backfill chunk timeouts are at most an hour), so no build that missed its change is still open.
 */
export const DISCARD_AFTER = '2 hours';

export interface StaleResult {
  /** Reports rebuilt (rewritten or removed) and examined. */
  written: number;
  removed: number;
  examined: number;
  /** Marks dropped (no report to rebuild). */
  discarded: number;
  statements: number;
}

export async function rebuildStale(
  db: Kysely<Database>,
  options: { maxRounds?: number; signal?: AbortSignal } = {},
): Promise<StaleResult> {
  const result: StaleResult = { written: 0, removed: 0, examined: 0, discarded: 0, statements: 0 };
  for (let round = 0; round < (options.maxRounds ?? 10); round++) {
    if (options.signal?.aborted) break;
    const groups = await sql<{ period_type: PeriodType; period_start: string; users: string[] }>`
      select m.period_type, m.period_start::text as period_start, array_agg(m.user_id::text order by m.user_id) as users
      from (
        select m.user_id, m.period_type, m.period_start
        from sumda.report_stale m
        join public.reports r
          on r.user_id = m.user_id and r.period_type = m.period_type and r.period_start = m.period_start
        where r.period_end <= (now() at time zone 'Asia/Seoul')::date
        order by m.marked_at
        limit ${MARKS_PER_ROUND}
      ) m
      group by m.period_type, m.period_start
      order by m.period_type, m.period_start`.execute(db);
    let marks = 0;
    for (const group of groups.rows) {
      const period = periodStartingOn(group.period_type, group.period_start);
      for (let i = 0; i < group.users.length; i += USERS_PER_CHUNK) {
        const users = group.users.slice(i, i + USERS_PER_CHUNK);
        const r = await buildChunk(db, period, { after: FIRST_USER, upto: LAST_USER, users });
        result.written += r.written;
        result.removed += r.removed;
        result.examined += users.length;
        result.statements += 1;
        marks += users.length;
      }
    }
    if (marks < MARKS_PER_ROUND) break;
  }
  const discarded = await sql`
    delete from sumda.report_stale m
    where m.marked_at < now() - ${DISCARD_AFTER}::interval
      and not exists (select 1 from public.reports r
                      where r.user_id = m.user_id and r.period_type = m.period_type and r.period_start = m.period_start)`.execute(
    db,
  );
  result.discarded = Number(discarded.numAffectedRows ?? 0);
  return result;
}

/** Marks waiting, by whether their report exists and their period has ended. */
export async function staleCounts(db: Kysely<Database>) {
  const row = await sql<{ due: number; waiting: number; orphan: number }>`
    select count(*) filter (where r.period_end <= (now() at time zone 'Asia/Seoul')::date)::int as due,
           count(*) filter (where r.period_end > (now() at time zone 'Asia/Seoul')::date)::int as waiting,
           count(*) filter (where r.user_id is null)::int as orphan
    from sumda.report_stale m
    left join public.reports r
      on r.user_id = m.user_id and r.period_type = m.period_type and r.period_start = m.period_start`.execute(
    db,
  );
  return row.rows[0]!;
}
