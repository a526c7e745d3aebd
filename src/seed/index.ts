/**
 * `sumda seed`: deterministic synthetic data across the service tables — plans, users,
 * subscriptions and payments, encrypted Korean diary entries, logins, an attendance event and its
 * launch notice to every seeded user. The same --seed gives the same people, texts and dates
 * (relative to --end-date); only the ciphertexts differ (every seal draws a fresh IV). Re-running a seed adds nothing
 * (deterministic ids + ON CONFLICT DO NOTHING); a different seed adds another population.
 *
 * Speed comes from set-based writes: users via unnest arrays; diaries as multi-row inserts whose
 * ciphertexts travel as binary parameters, two batches in flight while the next one is generated;
 * subscriptions, payments, logins and attendance as INSERT … SELECT inside PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type Operation, writeAudit } from '../audit/index.ts';
import { testBillingKeyFor } from '../billing/double.ts';
import { sealBillingKey } from '../billing/keys.ts';
import { type Keyring, seal } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { UsageError } from '../errors.ts';
import { processAttendance } from '../events/index.ts';
import { notifyAll } from '../notifications/index.ts';
import { addDays, parseCalendarDate, seoulDate, startOfSeoulDay } from '../time/calendar.ts';
import { createRng, generateDiary, MOODS, type MoodKind, type Rng } from './corpus.ts';
import { seedServiceOperations } from './service.ts';

export interface SeedOptions {
  users: number;
  days: number;
  seed: number;
  /** Last day of the generated history, YYYY-MM-DD in Asia/Seoul (default: today there). */
  endDate?: string;
}

export interface SeedResult {
  users: number;
  diaries: number;
  subscriptions: number;
  payments: number;
  logins: number;
  attendance: number;
  moods: Record<MoodKind, number>;
  range: { from: string; to: string };
  ms: number;
}

export type SeedProgress = (phase: string, done: number, total: number) => void;

const DIARY_BATCH = 2000;
const USER_BATCH = 5000;
const IN_FLIGHT = 2;

export const SEED_PLANS = [
  {
    code: 'basic_monthly',
    name: '숨다 베이직 (월간)',
    price: 9900,
    billing_interval: 'month',
    trial_days: 7,
  },
  {
    code: 'premium_monthly',
    name: '숨다 프리미엄 (월간)',
    price: 14900,
    billing_interval: 'month',
    trial_days: 7,
  },
  {
    code: 'premium_yearly',
    name: '숨다 프리미엄 (연간)',
    price: 149000,
    billing_interval: 'year',
    trial_days: 14,
  },
] as const;

const FAMILY = [
  '김',
  '이',
  '박',
  '최',
  '정',
  '강',
  '조',
  '윤',
  '장',
  '임',
  '한',
  '오',
  '서',
  '신',
  '권',
  '황',
  '안',
  '송',
];
const NICK_A = [
  '조용한',
  '따뜻한',
  '느린',
  '반짝이는',
  '푸른',
  '작은',
  '포근한',
  '새벽의',
  '바다',
  '숲속',
  '달빛',
  '봄날의',
  '겨울',
];
const NICK_B = [
  '고양이',
  '여우',
  '구름',
  '산책자',
  '다람쥐',
  '고래',
  '별',
  '나무',
  '토끼',
  '펭귄',
  '곰',
  '바람',
  '일기장',
];

/** A UUID derived from text, so seeded ids are stable across runs. */
export function stableUuid(text: string): string {
  const h = createHash('md5').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Midnight of a KST calendar day plus an offset in days, as an instant. */
function seoulDay(date: string, offsetDays: number): Date {
  return startOfSeoulDay(addDays(date, offsetDays));
}

function nickname(rng: Rng): string {
  return rng.chance(0.5)
    ? `${rng.pick(NICK_A)} ${rng.pick(NICK_B)}`
    : `${rng.pick(FAMILY)}${rng.pick(NICK_B)}${rng.int(100)}`;
}

interface SeedUser {
  id: string;
  index: number;
  propensity: number;
}

export async function seed(
  db: Kysely<Database>,
  keyring: Keyring,
  op: Operation,
  options: SeedOptions,
  progress: SeedProgress = () => {},
): Promise<SeedResult> {
  if (!Number.isInteger(options.users) || options.users < 1 || options.users > 1_000_000) {
    throw new UsageError('--users: a whole number from 1 to 1,000,000');
  }
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 3650) {
    throw new UsageError('--days: a whole number from 1 to 3650');
  }
  const started = performance.now();
  const startedAt = Date.now();
  const endDate = options.endDate ?? seoulDate(new Date());
  const end = parseCalendarDate(endDate);
  if (!end || end.year < 2000 || end.year > 2099) {
    throw new UsageError(
      `--end-date ${JSON.stringify(endDate)}: a date from 2000-01-01 to 2099-12-31 (YYYY-MM-DD)`,
    );
  }
  const firstDay = seoulDay(endDate, -(options.days - 1));
  const rng = createRng(options.seed);
  const s = options.seed;

  await db
    .insertInto('plans')
    .values(
      SEED_PLANS.map((p) => ({
        ...p,
        features: JSON.stringify({ ai_reading: true, reports: p.code !== 'basic_monthly' }),
      })),
    )
    .onConflict((oc) => oc.column('code').doNothing())
    .execute();

  // Users: created 1–60 days before the history starts, so every entry comes after its author.
  const users: SeedUser[] = [];
  let newUsers = 0;
  for (let start = 0; start < options.users; start += USER_BATCH) {
    const ids: string[] = [];
    const emails: (string | null)[] = [];
    const nicks: string[] = [];
    const states: string[] = [];
    const created: Date[] = [];
    for (let i = start; i < Math.min(options.users, start + USER_BATCH); i++) {
      const id = stableUuid(`sumda-seed:${s}:user:${i}`);
      users.push({ id, index: i, propensity: 0.25 + rng.next() * 0.65 });
      ids.push(id);
      emails.push(rng.chance(0.8) ? `user${i}.s${s}@example.com` : null); // 20% social logins: no e-mail
      nicks.push(nickname(rng));
      states.push(rng.chance(0.96) ? 'active' : 'inactive');
      created.push(new Date(firstDay.getTime() - (1 + rng.int(60)) * 86_400_000 - rng.int(86_400_000)));
    }
    const inserted = await sql`
      insert into public.users (id, email, nickname, state, created_at, updated_at)
      select id, email, nickname, state, created_at, created_at
      from unnest(${ids}::uuid[], ${emails}::text[], ${nicks}::text[], ${states}::text[], ${created}::timestamptz[])
        as t(id, email, nickname, state, created_at)
      on conflict do nothing`.execute(db);
    newUsers += Number(inserted.numAffectedRows ?? 0);
    progress('users', Math.min(options.users, start + USER_BATCH), options.users);
  }

  // Diaries: generated and sealed here, inserted two batches at a time while the next is built.
  const moods = Object.fromEntries(MOODS.map((m) => [m, 0])) as Record<MoodKind, number>;
  const expected = Math.round(users.reduce((sum, u) => sum + u.propensity, 0) * options.days);
  let diaries = 0;
  let attempted = 0;
  let batch: { id: string; user_id: string; title: string | null; content_enc: Buffer; created_at: Date }[] =
    [];
  const inflight = new Set<Promise<unknown>>();
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    const insert = db
      .insertInto('diary_entries')
      .values(rows.map((r) => ({ ...r, updated_at: r.created_at })))
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst()
      .then((result) => {
        attempted += rows.length;
        diaries += Number(result?.numInsertedOrUpdatedRows ?? 0);
        progress('diaries', attempted, expected);
      });
    inflight.add(insert);
    insert.finally(() => inflight.delete(insert)).catch(() => {});
    if (inflight.size >= IN_FLIGHT) await Promise.race(inflight);
  };
  for (const user of users) {
    for (let day = 0; day < options.days; day++) {
      if (!rng.chance(user.propensity)) continue;
      const diary = generateDiary(rng, { dayIndex: day });
      moods[diary.mood] += 1;
      // Evenings in Korea, mostly: 19:00–01:00 KST. Nobody writes in the future: later ones are dropped.
      const at = new Date(
        seoulDay(endDate, day - (options.days - 1)).getTime() + (19 * 60 + rng.int(360)) * 60_000,
      );
      if (at.getTime() > startedAt) continue;
      batch.push({
        id: stableUuid(`sumda-seed:${s}:diary:${user.index}:${day}`),
        user_id: user.id,
        title: diary.title,
        content_enc: seal(keyring, diary.body, user.id),
        created_at: at,
      });
    }
    // Batches end between users: each insert's trigger upserts the user's report_stale rows, and
    // two statements in flight upserting the same user's rows in different orders deadlock.
    if (batch.length >= DIARY_BATCH) await flush();
  }
  await flush();
  await Promise.all(inflight);
  const userIds = users.map((u) => u.id);

  const counts = await db.transaction().execute(async (trx) => {
    const subscriptions = await sql`
      insert into public.subscriptions
        (user_id, plan, status, start_date, end_date, customer_key, next_billing_at, last_billed_at,
         trial_end, cancel_at, cancel_reason, currency, billing_anchor, billing_cycle, past_due_since, retry_at)
      select u.id, p.plan, p.status, p.start_date,
             case when p.status = 'canceled' then p.start_date + interval '1 month' end,
             'cus_' || replace(u.id::text, '-', ''),
             case when p.status in ('active', 'past_due') then p.start_date + ((p.months + 1) || ' month')::interval
                  when p.status = 'trial' then p.start_date + interval '7 days' end,
             case when p.status <> 'trial' then p.start_date + (p.months || ' month')::interval end,
             case when p.status = 'trial' then p.start_date + interval '7 days' end,
             case when p.status = 'canceled' then p.start_date + interval '1 month' end,
             case when p.status = 'canceled' then '서비스를 잘 쓰지 않게 되었어요' end,
             'KRW',
             case when p.status = 'trial' then p.start_date + interval '7 days' else p.start_date end,
             case when p.status = 'trial' then 0 else p.months + 1 end,
             case when p.status = 'past_due' then p.start_date + ((p.months + 1) || ' month')::interval end,
             case when p.status = 'past_due' then p.start_date + ((p.months + 1) || ' month')::interval + interval '1 day' end
      from public.users u
      cross join lateral (select ('x' || substr(md5(${String(s)} || ':sub:' || u.id::text), 1, 8))::bit(32)::int & 2147483647 as h) x
      cross join lateral (
        select case when x.h % 10 < 6 then 'basic_monthly' when x.h % 10 < 9 then 'premium_monthly' else 'premium_yearly' end as plan,
               case when (x.h / 100) % 100 < 70 then 'active' when (x.h / 100) % 100 < 82 then 'trial'
                    when (x.h / 100) % 100 < 90 then 'past_due' else 'canceled' end as status,
               ${firstDay}::timestamptz - ((x.h % 120) || ' days')::interval as start_date,
               greatest(0, ((x.h % 120) + ${options.days}) / 30 - 1) as months
      ) p
      where u.id = any(${userIds}::uuid[]) and x.h % 100 < 38
      on conflict (user_id) do nothing`.execute(trx);
    // Cards: every running subscription has a billing key the Toss double accepts, sealed like
    // diary text; a paid signup is a consent to the plan's price (trials must consent again).
    const running = await trx
      .selectFrom('subscriptions as s')
      .innerJoin('plans as p', 'p.code', 's.plan')
      .select(['s.id', 's.user_id', 's.customer_key', 's.status', 's.plan', 'p.price', 's.start_date'])
      .where('s.user_id', 'in', userIds.length > 0 ? userIds : ['00000000-0000-0000-0000-000000000000'])
      .where('s.status', '<>', 'canceled')
      .where('s.billing_key_enc', 'is', null)
      .execute();
    for (let i = 0; i < running.length; i += USER_BATCH) {
      const chunk = running.slice(i, i + USER_BATCH);
      const sealed = chunk.map((r) => sealBillingKey(keyring, r.id, testBillingKeyFor(r.customer_key!)));
      await sql`
        update public.subscriptions s
        set billing_key_enc = k.enc, billing_key_digest = k.digest, billing_key_hint = k.hint
        from unnest(${chunk.map((r) => r.id)}::uuid[], ${sealed.map((k) => k.billing_key_enc)}::bytea[],
                    ${sealed.map((k) => k.billing_key_digest)}::bytea[], ${sealed.map((k) => k.billing_key_hint)}::text[])
          as k (id, enc, digest, hint)
        where s.id = k.id`.execute(trx);
    }
    const paid = running.filter((r) => r.status !== 'trial');
    if (paid.length > 0) {
      await trx
        .insertInto('billing_consents')
        .values(
          paid.map((r) => ({
            subscription_id: r.id,
            user_id: r.user_id,
            kind: 'subscribe',
            plan: r.plan,
            amount: r.price,
            consented_at: r.start_date,
          })),
        )
        .execute();
    }
    // One approved payment per billed month (yearly plans once), a few declines along the way.
    const payments = await sql`
      insert into public.payments
        (user_id, subscription_id, amount, currency, method, provider, provider_tx_id, order_id, status,
         requested_at, approved_at, receipt_url, failure_code, failure_message, kind, period_start, attempt, created_at)
      select s.user_id, s.id, pl.price, 'KRW', '카드', 'toss',
             case when m.failed then null else 'seed_' || md5(s.id::text || m.n) end,
             'sumda-' || replace(s.id::text, '-', '') || '-' || m.n,
             case when m.failed then 'failed' else 'approved' end,
             m.at, case when m.failed then null else m.at + interval '2 seconds' end,
             case when m.failed then null else 'https://dashboard.tosspayments.com/receipt/seed/' || md5(s.id::text || m.n) end,
             case when m.failed then 'REJECT_CARD_COMPANY' end,
             case when m.failed then '카드사에서 결제를 거절했습니다.' end,
             'renewal', m.at, 1, m.at
      from public.subscriptions s
      join public.plans pl on pl.code = s.plan
      cross join lateral (
        select g.n, s.start_date + (g.n || case when pl.billing_interval = 'year' then ' year' else ' month' end)::interval as at,
               (('x' || substr(md5(s.id::text || ':pay:' || g.n), 1, 8))::bit(32)::int & 2147483647) % 100 < 4 as failed
        from generate_series(0, 12) g(n)
      ) m
      where s.user_id = any(${userIds}::uuid[]) and s.status <> 'trial' and m.at <= least(coalesce(s.end_date, now()), now())
        and (s.next_billing_at is null or m.at < s.next_billing_at)
      on conflict do nothing`.execute(trx);
    // Sessions last: about one entry in three starts with a login, now and then after a failed attempt.
    const logins = await sql`
      insert into admin.login_logs (user_id, ip, device, ua, success, created_at)
      select d.user_id,
             ('10.' || (h % 250) || '.' || ((h / 250) % 250) || '.' || ((h / 62500) % 250))::inet,
             (array['iPhone 15', 'Galaxy S24', 'iPhone 13 mini', 'Galaxy Z Flip5', 'iPad Air', 'Pixel 8'])[1 + h % 6],
             (array['Sumda/2.4.1 (iOS 18.1)', 'Sumda/2.4.1 (Android 15)', 'Sumda/2.3.9 (iOS 17.6)'])[1 + h % 3],
             ok, d.created_at - make_interval(mins => 2 + h % 30) - case when ok then interval '0' else interval '1 minute' end
      from public.diary_entries d
      cross join lateral (select ('x' || substr(md5(d.id::text), 1, 8))::bit(32)::int & 2147483647 as h) x
      cross join lateral (select true as ok union all select false where x.h % 50 = 0) attempt
      where d.user_id = any(${userIds}::uuid[]) and x.h % 3 = 0
        and not exists (select 1 from admin.login_logs l where l.user_id = d.user_id)`.execute(trx);
    // The attendance event covers the last 30 days: every day a user wrote counts, with its streak
    // (consecutive days, gaps-and-islands over the Seoul calendar).
    const eventStart = seoulDay(endDate, -Math.min(29, options.days - 1));
    const eventId = stableUuid(`sumda-seed:event:diary-challenge:${endDate}:${options.days}`);
    await sql`
      insert into admin.events (id, title, description, start_date, end_date)
      values (${eventId}, '매일 한 줄 일기 챌린지', '하루 한 줄이라도 기록하면 출석으로 인정돼요. 7일 연속 기록 시 포인트를 드려요.',
              ${eventStart}::timestamptz at time zone 'Asia/Seoul', null)
      on conflict (id) do nothing`.execute(trx);
    // Rows as the app writes them: streaks and rewards are the events.attendance job's (run below).
    const attendance = await sql`
      insert into public.event_attendance (user_id, event_id, date)
      select user_id, ${eventId}::uuid, day
      from (
        select user_id, day, day - (row_number() over (partition by user_id order by day))::int as grp
        from (select distinct user_id, (created_at at time zone 'Asia/Seoul')::date as day
              from public.diary_entries where user_id = any(${userIds}::uuid[]) and created_at >= ${eventStart}) days
      ) islands
      on conflict (user_id, event_id, date) do nothing`.execute(trx);
    // The event's launch note, one per seeded user (each with their own read state).
    await notifyAll(
      trx,
      { userIds },
      {
        kind: 'event',
        message: {
          title: '매일 한 줄 일기 챌린지가 시작됐어요',
          body: '오늘부터 하루 한 줄이라도 기록하면 출석으로 인정돼요. 7일 연속으로 기록하면 포인트를 드려요.',
        },
        eventId,
        dedupeKey: `seed:event:${eventId}`,
        visibleFrom: eventStart,
      },
    );
    const service = await seedServiceOperations(trx, { userIds, seed: s, firstDay, endDate, eventId });
    const result = {
      ...service,
      subscriptions: Number(subscriptions.numAffectedRows ?? 0),
      payments: Number(payments.numAffectedRows ?? 0),
      logins: Number(logins.numAffectedRows ?? 0),
      attendance: Number(attendance.numAffectedRows ?? 0),
    };
    await writeAudit(trx, op, {
      action: 'seed.run',
      targetType: 'database',
      after: { users: newUsers, days: options.days, seed: s, end_date: endDate, diaries, ...result },
    });
    return result;
  });
  // What the events.attendance job would do next: streaks, and the rewards they reach.
  for (;;) {
    const run = await processAttendance(db);
    if (!run.more) break;
  }
  // Fresh planner statistics: the next queries (analysis, reports) run on tables that just grew.
  await sql`analyze public.users, public.diary_entries, public.subscriptions, public.payments, admin.login_logs`.execute(
    db,
  );
  return {
    users: newUsers,
    diaries,
    ...counts,
    moods,
    range: { from: firstDay.toISOString(), to: seoulDay(endDate, 1).toISOString() },
    ms: performance.now() - started,
  };
}
