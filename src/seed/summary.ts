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

export interface DemoAnalysis {
  written: string;
  nickname: string;
  summary: string;
  keywords: string[];
  flow: string;
}

/** The latest analyses, for the demo table: results only, never diary text. */
export async function demoAnalyses(db: Kysely<Database>, limit: number): Promise<DemoAnalysis[]> {
  const rows = await sql<{
    written: string;
    nickname: string;
    summary: string;
    keywords: string[];
    flow: unknown;
  }>`
    select to_char(d.created_at at time zone 'Asia/Seoul', 'MM-DD HH24:MI') as written, u.nickname, a.summary,
           a.keywords, a.emotion_flow as flow
    from public.analysis_results a
    join public.diary_entries d on d.id = a.diary_id
    join public.users u on u.id = a.user_id
    order by d.created_at desc, a.id
    limit ${limit}`.execute(db);
  return rows.rows.map((r) => ({
    ...r,
    flow: ((r.flow as { emotion: string }[]) ?? []).map((s) => s.emotion).join(' → '),
  }));
}

export interface DemoSlips {
  users: { nickname: string; status: string; rule: string; told: string[] }[];
  openWarnings: number;
  openSlips: number;
  crisisNotes: number;
  flagged: number;
}

/** The demo scenario's users and the safety flow's totals. */
export async function demoSlips(db: Kysely<Database>): Promise<DemoSlips> {
  const users = await sql<{
    nickname: string;
    status: string | null;
    rule: string | null;
    told: string[] | null;
  }>`
    select u.nickname,
           (select s.status || case when s.released_at is null then '' else ' (released)' end
              from admin.slip_conditions s where s.user_id = u.id order by s.triggered_at desc limit 1) as status,
           (select s.metrics->>'rule' from admin.slip_conditions s where s.user_id = u.id order by s.triggered_at desc limit 1) as rule,
           (select array_agg(n.title order by n.created_at) from public.notifications n
             where n.user_id = u.id and n.type in ('slip', 'crisis')) as told
    from public.users u
    where u.nickname like '데모:%'
    order by u.nickname`.execute(db);
  const totals = await sql<{ warnings: number; slips: number; crisis: number; flagged: number }>`
    select (select count(*) from admin.slip_conditions where released_at is null and status = 'warning')::int as warnings,
           (select count(*) from admin.slip_conditions where released_at is null and status = 'slipped')::int as slips,
           (select count(*) from public.notifications where type = 'crisis')::int as crisis,
           (select count(*) from public.diary_entries where flagged_at is not null)::int as flagged`.execute(
    db,
  );
  const t = totals.rows[0]!;
  return {
    users: users.rows.map((u) => ({
      nickname: u.nickname,
      status: u.status ?? 'normal',
      rule: u.rule ?? '',
      told: u.told ?? [],
    })),
    openWarnings: t.warnings,
    openSlips: t.slips,
    crisisNotes: t.crisis,
    flagged: t.flagged,
  };
}
