/** What is in the database, in numbers: the demo's "here is what you have" and a quick health view. */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';

export interface DataSummary {
  tables: { table: string; rows: number }[];
  subscriptions: { status: string; plan: string; n: number }[];
  diaryKeys: { key: string; entries: number }[];
  diariesPerDay: { day: string; entries: number }[];
}

const COUNTED = [
  'public.users',
  'public.diary_entries',
  'public.analysis_results',
  'public.reports',
  'public.plans',
  'public.subscriptions',
  'public.payments',
  'public.notifications',
  'public.event_attendance',
  'admin.login_logs',
  'admin.events',
  'admin.slip_conditions',
  'admin.audit_log',
] as const;

export async function summarizeData(db: Kysely<Database>): Promise<DataSummary> {
  const counts = await sql<{ table: string; rows: number }>`
    ${sql.join(
      COUNTED.map((t) => sql`select ${t} as table, count(*)::int as rows from ${sql.raw(t)}`),
      sql` union all `,
    )}`.execute(db);
  const subscriptions = await db
    .selectFrom('subscriptions')
    .select(['status', 'plan', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy(['status', 'plan'])
    .orderBy('status')
    .orderBy('plan')
    .execute();
  const diaryKeys = await db
    .selectFrom('diary_entries')
    .select(['content_key_id as key', (eb) => eb.fn.countAll<number>().as('entries')])
    .groupBy('content_key_id')
    .orderBy('content_key_id')
    .execute();
  const perDay = await sql<{ day: string; entries: number }>`
    select (created_at at time zone 'Asia/Seoul')::date::text as day, count(*)::int as entries
    from public.diary_entries
    where created_at >= now() - interval '7 days'
    group by 1 order by 1`.execute(db);
  return { tables: counts.rows, subscriptions, diaryKeys, diariesPerDay: perDay.rows };
}
