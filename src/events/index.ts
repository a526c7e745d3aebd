/**
 * Operated events (admin.events) and their attendance (public.event_attendance): operators create,
 * list, show, close and measure events; the `events.attendance` job turns the attendance rows the
 * app writes into streaks and pays streak rewards into the points ledger.
 *
 * Glossary
 * - *window*: [start_date, end_date) in Asia/Seoul calendar days; end_date null = open-ended.
 * - *streak*: consecutive days attended up to and including a row's date (1 on a first day or
 *   after a gap). Computed by the job for every (user, event) with uncomputed rows, over all the
 *   pair's rows, so a day the app writes late repairs the streaks after it.
 * - *reward*: admin.event_rewards — a streak of streak_days days pays `points`, once per attendance
 *   row that reaches it (ledger reason `reward`, reference `attendance` / the row's id, unique in
 *   the ledger), and the row's reward_code says which.
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { addDays, parseCalendarDate, seoulDate } from '../time/calendar.ts';
import { quote } from '../util/quote.ts';

export interface RewardRule {
  streakDays: number;
  points: number;
}

export interface NewEvent {
  title: string;
  description?: string | null;
  startDate: string;
  endDate?: string | null;
  rewards?: RewardRule[];
}

function checkDate(text: string, flag: string): string {
  if (!parseCalendarDate(text))
    throw new UsageError(`${flag} ${quote(text)}: not a calendar date (YYYY-MM-DD)`);
  return text;
}

/** `7:100` → a 7-day streak pays 100 points. */
export function parseReward(text: string): RewardRule {
  const m = /^([1-9][0-9]{0,2}):([1-9][0-9]{0,6})$/.exec(text.trim());
  const streakDays = Number(m?.[1]);
  if (!m || streakDays > 366)
    throw new UsageError(`--reward ${quote(text)}: <streak days 1–366>:<points 1–1000000>, e.g. 7:100`);
  const points = Number(m[2]);
  if (points > 1_000_000) throw new UsageError(`--reward ${text}: at most 1000000 points`);
  return { streakDays, points };
}

export async function createEvent(db: Kysely<Database>, op: Operation, input: NewEvent) {
  const title = input.title.trim();
  if (!title || title.length > 200) throw new UsageError('--title: 1 to 200 characters');
  const start = checkDate(input.startDate, '--start');
  const end = input.endDate ? checkDate(input.endDate, '--end') : null;
  if (end && end <= start)
    throw new UsageError(`--end ${end} must be after --start ${start} (the end is exclusive)`);
  const rewards = input.rewards ?? [];
  const days = rewards.map((r) => r.streakDays);
  if (new Set(days).size !== days.length) throw new UsageError('--reward: each streak length once');
  return mutate(db, op, 'event.manage', async (trx) => {
    const event = await trx
      .insertInto('admin.events')
      .values({ title, description: input.description?.trim() || null, start_date: start, end_date: end })
      .returning(['id', 'title', 'start_date', 'end_date'])
      .executeTakeFirstOrThrow();
    if (rewards.length > 0) {
      await trx
        .insertInto('admin.event_rewards')
        .values(rewards.map((r) => ({ event_id: event.id, streak_days: r.streakDays, points: r.points })))
        .execute();
    }
    await writeAudit(trx, op, {
      action: 'event.create',
      targetType: 'event',
      targetId: event.id,
      after: { title, start_date: start, end_date: end, rewards },
    });
    return { id: event.id, title, startDate: start, endDate: end, rewards };
  });
}

export type EventState = 'upcoming' | 'running' | 'ended';

/** Whether an event runs on `today` (Asia/Seoul): start inclusive, end exclusive. */
export function eventState(startDate: string, endDate: string | null, today: string): EventState {
  if (today < startDate) return 'upcoming';
  if (endDate !== null && today >= endDate) return 'ended';
  return 'running';
}

const dateText = (column: string) => sql<string>`to_char(${sql.ref(column)}, 'YYYY-MM-DD')`;

export async function listEvents(
  db: Kysely<Database>,
  options: { state?: EventState; today?: string; limit?: number } = {},
) {
  const today = options.today ?? seoulDate(new Date());
  const rows = await db
    .selectFrom('admin.events as e')
    .select([
      'e.id',
      'e.title',
      dateText('e.start_date').as('start_date'),
      dateText('e.end_date').as('end_date'),
      'e.created_at',
      (eb) =>
        eb
          .selectFrom('event_attendance as a')
          .select(sql<number>`count(distinct a.user_id)::int`.as('n'))
          .whereRef('a.event_id', '=', 'e.id')
          .as('participants'),
      (eb) =>
        eb
          .selectFrom('admin.event_rewards as r')
          .select(
            sql<string>`string_agg(r.streak_days || 'd:' || r.points || 'P', ' ' order by r.streak_days)`.as(
              'r',
            ),
          )
          .whereRef('r.event_id', '=', 'e.id')
          .as('rewards'),
    ])
    .orderBy('e.start_date', 'desc')
    .limit(options.limit ?? 100)
    .execute();
  return rows
    .map((r) => ({
      ...r,
      participants: r.participants ?? 0,
      state: eventState(r.start_date, r.end_date, today),
    }))
    .filter((r) => !options.state || r.state === options.state);
}

async function findEvent(db: Kysely<Database>, id: string) {
  const event = await db
    .selectFrom('admin.events')
    .select([
      'id',
      'title',
      'description',
      dateText('start_date').as('start_date'),
      dateText('end_date').as('end_date'),
      'created_at',
    ])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!event) throw new NotFoundError(`no event ${id}`);
  return event;
}

export async function showEvent(db: Kysely<Database>, id: string, today = seoulDate(new Date())) {
  const event = await findEvent(db, id);
  const rewards = await db
    .selectFrom('admin.event_rewards')
    .select(['streak_days', 'points', 'code'])
    .where('event_id', '=', id)
    .orderBy('streak_days')
    .execute();
  const counts = await sql<{ participants: number; days: number; pending: number; today: number }>`
    select count(distinct user_id)::int as participants, count(*)::int as days,
           count(*) filter (where streak is null)::int as pending,
           count(*) filter (where date = ${today}::date)::int as today
    from public.event_attendance where event_id = ${id}`.execute(db);
  return {
    ...event,
    state: eventState(event.start_date, event.end_date, today),
    rewards: rewards.map((r) => ({ ...r, points: Number(r.points) })),
    attendance: counts.rows[0]!,
  };
}

/**
 * Ends an event after today (Asia/Seoul): end_date becomes tomorrow, so today's attendance still
 * counts and no later day does. An event that has not started or has already ended is refused.
 */
export async function closeEvent(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; reason: string; today?: string },
) {
  if (!input.reason.trim()) throw new UsageError('--reason is required');
  const today = input.today ?? seoulDate(new Date());
  return mutate(
    db,
    op,
    'event.manage',
    async (trx) => {
      const event = await trx
        .selectFrom('admin.events')
        .select(['id', dateText('start_date').as('start_date'), dateText('end_date').as('end_date')])
        .where('id', '=', input.id)
        .forUpdate()
        .executeTakeFirst();
      if (!event) throw new NotFoundError(`no event ${input.id}`);
      const state = eventState(event.start_date, event.end_date, today);
      if (state !== 'running')
        throw new UsageError(`event ${input.id} is ${state}; only a running event can be closed`);
      const end = addDays(today, 1);
      if (event.end_date === end) throw new UsageError(`event ${input.id} already ends after today (${end})`);
      await trx.updateTable('admin.events').set({ end_date: end }).where('id', '=', input.id).execute();
      await writeAudit(trx, op, {
        action: 'event.close',
        targetType: 'event',
        targetId: input.id,
        before: { end_date: event.end_date },
        after: { end_date: end },
        reason: input.reason,
      });
      return { id: input.id, before: event.end_date, after: end };
    },
    { type: 'event', id: input.id },
  );
}

export interface AttendanceRun {
  pairs: number;
  /** Rows whose streak (or reward code) was written or corrected. */
  streaks: number;
  rewardsPaid: number;
  points: number;
}

/**
 * One batch of the attendance job: up to `pairs` (event, user) pairs with uncomputed rows. Each pair
 * is locked (advisory, sorted) so two workers never compute the same pair at once; the streaks of
 * all the pair's rows are recomputed in one UPDATE (gaps and islands over the dates) and the rewards
 * they reach are paid in one INSERT … SELECT into the ledger, whose (ref_type, ref_id, reason) key
 * makes a second payment of the same row impossible — a job run twice, or two racing workers, pay once.
 */
export async function processAttendance(
  db: Kysely<Database>,
  options: {
    pairs?: number;
    eventId?: string;
    /** Runs inside the batch's transaction before it commits (the job enqueues its successor here). */
    inTransaction?: (trx: Kysely<Database>, run: AttendanceRun & { more: boolean }) => Promise<void>;
  } = {},
): Promise<AttendanceRun & { more: boolean }> {
  const limit = options.pairs ?? ATTENDANCE_PAIRS;
  return db.transaction().execute(async (trx) => {
    const pending = await sql<{ event_id: string; user_id: string }>`
      select distinct event_id, user_id from public.event_attendance
      where streak is null ${options.eventId ? sql`and event_id = ${options.eventId}` : sql``}
      limit ${limit}`.execute(trx);
    if (pending.rows.length === 0) return { pairs: 0, streaks: 0, rewardsPaid: 0, points: 0, more: false };
    const events = pending.rows.map((p) => p.event_id);
    const users = pending.rows.map((p) => p.user_id);
    const pairs = sql`select * from unnest(${events}::uuid[], ${users}::uuid[]) as p (event_id, user_id)`;
    await sql`select pg_advisory_xact_lock(k.key) from (
                select hashtextextended('attendance:' || p.event_id || ':' || p.user_id, 0) as key
                from (${pairs}) p order by key) k`.execute(trx);
    const updated = await sql`
      with days as (
        select a.id, a.event_id, a.user_id, a.date,
               a.date - (row_number() over (partition by a.event_id, a.user_id order by a.date))::int as island
        from public.event_attendance a join (${pairs}) p using (event_id, user_id)
      ), computed as (
        select d.id, (row_number() over (partition by d.event_id, d.user_id, d.island order by d.date))::int as streak,
               d.event_id, d.date
        from days d
      )
      update public.event_attendance a
      set streak = c.streak,
          reward_code = coalesce(a.reward_code, r.code)
      from computed c
      join admin.events e on e.id = c.event_id
      left join admin.event_rewards r on r.event_id = c.event_id and r.streak_days = c.streak
        and c.date >= e.start_date and (e.end_date is null or c.date < e.end_date)
      where a.id = c.id
        and (a.streak is distinct from c.streak or (a.reward_code is null and r.code is not null))`.execute(
      trx,
    );
    const paid = await sql<{ delta: string }>`
      insert into public.user_points_ledger (user_id, delta, reason, ref_type, ref_id, balance_after)
      select a.user_id, r.points, 'reward', 'attendance', a.id::text, 0
      from public.event_attendance a
      join (${pairs}) p using (event_id, user_id)
      join admin.event_rewards r on r.event_id = a.event_id and r.code = a.reward_code
      order by a.user_id, a.date
      on conflict (ref_type, ref_id, reason) do nothing
      returning delta`.execute(trx);
    const run = {
      pairs: pending.rows.length,
      streaks: Number(updated.numAffectedRows ?? 0n),
      rewardsPaid: paid.rows.length,
      points: paid.rows.reduce((n, r) => n + Number(r.delta), 0),
      more: pending.rows.length === limit,
    };
    await options.inTransaction?.(trx, run);
    return run;
  });
}

/**
 * `sumda event process`: what the job does, run now by an operator until nothing is pending; each
 * batch that changed something writes its audit row in its own transaction.
 */
export async function processAttendanceNow(
  db: Kysely<Database>,
  op: Operation,
  options: { eventId?: string; signal?: AbortSignal } = {},
): Promise<AttendanceRun> {
  await authorize(
    db,
    op,
    'event.manage',
    options.eventId ? { type: 'event', id: options.eventId } : undefined,
  );
  const total: AttendanceRun = { pairs: 0, streaks: 0, rewardsPaid: 0, points: 0 };
  for (;;) {
    const run = await processAttendance(db, {
      ...(options.eventId ? { eventId: options.eventId } : {}),
      inTransaction: async (trx, r) => {
        if (r.streaks === 0 && r.rewardsPaid === 0) return;
        await writeAudit(trx, op, {
          action: 'event.process',
          targetType: options.eventId ? 'event' : null,
          targetId: options.eventId ?? null,
          after: { pairs: r.pairs, streaks: r.streaks, rewardsPaid: r.rewardsPaid, points: r.points },
        });
      },
    });
    total.pairs += run.pairs;
    total.streaks += run.streaks;
    total.rewardsPaid += run.rewardsPaid;
    total.points += run.points;
    if (!run.more || options.signal?.aborted) return total;
  }
}

/** (event, user) pairs per attendance batch (one transaction). */
export const ATTENDANCE_PAIRS = 500;

/** Streak buckets of `event stats`: the longest streak each participant reached. */
const STREAK_BUCKETS = [
  [1, 1, '1'],
  [2, 3, '2–3'],
  [4, 6, '4–6'],
  [7, 13, '7–13'],
  [14, 29, '14–29'],
  [30, 100_000, '30+'],
] as const;

/**
 * The seed's event report: participants and attendance days, the distribution of each participant's
 * longest streak, rewards paid (entries and points, from the ledger), and the renewal rate of
 * participants against everyone else — among users subscribed before the event started, the share
 * with an approved payment since its start.
 */
export async function eventStats(db: Kysely<Database>, id: string) {
  const event = await findEvent(db, id);
  const totals = await sql<{ participants: number; days: number; pending: number }>`
    select count(distinct user_id)::int as participants, count(*)::int as days,
           count(*) filter (where streak is null)::int as pending
    from public.event_attendance where event_id = ${id}`.execute(db);
  const longest = await sql<{ streak: number; users: number }>`
    select best as streak, count(*)::int as users from (
      select user_id, max(streak) as best from public.event_attendance
      where event_id = ${id} and streak is not null group by user_id) b
    group by best order by best`.execute(db);
  const distribution = STREAK_BUCKETS.map(([lo, hi, label]) => ({
    streak: label,
    users: longest.rows.filter((r) => r.streak >= lo && r.streak <= hi).reduce((n, r) => n + r.users, 0),
  }));
  const rewards = await sql<{ code: string; entries: number; points: string | null }>`
    select a.reward_code as code, count(l.id)::int as entries, sum(l.delta) as points
    from public.event_attendance a
    join public.user_points_ledger l on l.ref_type = 'attendance' and l.ref_id = a.id::text and l.reason = 'reward'
    where a.event_id = ${id}
    group by a.reward_code order by a.reward_code`.execute(db);
  const renewal = await sql<{ participant: boolean; subscribed: number; renewed: number }>`
    with start as (select (e.start_date::timestamp at time zone 'Asia/Seoul') as t from admin.events e where e.id = ${id}),
    base as (
      select s.user_id,
             exists (select 1 from public.event_attendance a where a.event_id = ${id} and a.user_id = s.user_id) as participant,
             exists (select 1 from public.payments p where p.user_id = s.user_id and p.status in ('approved', 'partially_refunded')
                     and p.approved_at >= (select t from start)) as renewed
      from public.subscriptions s
      where s.start_date < (select t from start)
    )
    select participant, count(*)::int as subscribed, count(*) filter (where renewed)::int as renewed
    from base group by participant`.execute(db);
  const rate = (participant: boolean) => {
    const row = renewal.rows.find((r) => r.participant === participant);
    return {
      subscribed: row?.subscribed ?? 0,
      renewed: row?.renewed ?? 0,
      rate: row && row.subscribed > 0 ? Math.round((row.renewed / row.subscribed) * 1000) / 1000 : null,
    };
  };
  return {
    event: { id: event.id, title: event.title, start_date: event.start_date, end_date: event.end_date },
    participants: totals.rows[0]!.participants,
    attendanceDays: totals.rows[0]!.days,
    pendingStreaks: totals.rows[0]!.pending,
    streaks: distribution,
    rewards: rewards.rows.map((r) => ({ code: r.code, entries: r.entries, points: Number(r.points ?? 0) })),
    renewal: { participants: rate(true), others: rate(false) },
  };
}
