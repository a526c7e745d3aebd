/**
 * The service-operations part of `sumda seed`: what the app and the operators would have left in
 * the tables of points, events, announcements, support and logs, so every view has something to
 * show on the demo data — streak rewards of the seeded event, first-diary bonuses, announcements
 * fanned out with realistic read rates, FAQ entries, support tickets with replies and closes, API
 * calls and errors, login countries and one brute-force burst. Deterministic in the seed number;
 * every insert is set-based and idempotent (stable keys, ON CONFLICT DO NOTHING).
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { notifyAll } from '../notifications/index.ts';
import { stableUuid } from './index.ts';

export interface ServiceSeedInput {
  userIds: string[];
  seed: number;
  /** First seeded instant (Asia/Seoul midnight of the first day). */
  firstDay: Date;
  endDate: string;
  eventId: string;
}

const FAQ: [string, string, string][] = [
  [
    'payment',
    '구독을 해지하면 언제까지 쓸 수 있나요?',
    '해지해도 이미 결제한 기간이 끝날 때까지 모든 기능을 쓸 수 있어요.',
  ],
  [
    'payment',
    '결제가 두 번 된 것 같아요.',
    '중복 결제는 영업일 기준 3일 안에 자동으로 취소돼요. 그래도 남아 있다면 문의해 주세요.',
  ],
  ['payment', '영수증은 어디서 보나요?', '설정 > 결제 내역에서 결제마다 영수증을 볼 수 있어요.'],
  [
    'account',
    '비밀번호를 잊어버렸어요.',
    '로그인 화면의 "비밀번호 찾기"로 가입한 이메일에 재설정 링크를 보내 드려요.',
  ],
  [
    'account',
    '탈퇴하면 일기는 어떻게 되나요?',
    '탈퇴하면 일기와 분석 결과가 모두 지워지고 되돌릴 수 없어요.',
  ],
  [
    'diary',
    '일기 내용을 운영자가 볼 수 있나요?',
    '아니요. 일기는 암호화되어 저장되고 운영자도 내용을 볼 수 없어요.',
  ],
  [
    'diary',
    '분석이 잠시 멈췄다고 나와요.',
    '감정이 많이 격해진 날에는 잠시 쉬어 가도록 안내해요. 힘들 때는 109(자살예방상담전화)에 연락해 주세요.',
  ],
];

const INQUIRIES: Record<string, string[]> = {
  payment: ['결제가 두 번 된 것 같아요.', '해지했는데 또 결제됐어요.', '카드를 바꾸고 싶어요.'],
  account: ['로그인이 안 돼요.', '이메일을 바꾸고 싶어요.'],
  bug: ['일기를 저장하면 앱이 멈춰요.', '알림이 오지 않아요.'],
  diary: ['분석 결과가 나오지 않아요.', '어제 쓴 일기가 보이지 않아요.'],
  other: ['기능 제안이 있어요.'],
};

const REPLIES = [
  '불편을 드려 죄송해요. 확인해 보니 정상 처리되었어요.',
  '말씀하신 내용을 확인하고 있어요. 조금만 기다려 주세요.',
  '앱을 최신 버전으로 업데이트한 뒤 다시 시도해 주세요.',
];

/** A deterministic number in [0, 2^31) per (seed, text), computed by PostgreSQL. */
const h = (seed: number, expr: ReturnType<typeof sql>) =>
  sql`(('x' || substr(md5(${String(seed)} || ':' || ${expr}), 1, 8))::bit(32)::int & 2147483647)`;

export async function seedServiceOperations(trx: Kysely<Database>, input: ServiceSeedInput) {
  const { userIds, seed: s, firstDay, eventId } = input;
  // The event pays 10 points for 3 days in a row and 100 for 7; the attendance job computes streaks.
  await sql`insert into admin.event_rewards (event_id, streak_days, points) values
            (${eventId}, 3, 10), (${eventId}, 7, 100) on conflict do nothing`.execute(trx);

  // First-diary bonus: 50 points on each seeded user's first entry.
  const bonuses = await sql`
    insert into public.user_points_ledger (user_id, delta, reason, ref_type, ref_id, balance_after, created_at)
    select distinct on (d.user_id) d.user_id, 50, 'diary', 'diary', d.id::text, 0, d.created_at
    from public.diary_entries d where d.user_id = any(${userIds}::uuid[])
    order by d.user_id, d.created_at, d.id
    on conflict (ref_type, ref_id, reason) do nothing`.execute(trx);

  // Announcements: a live update (everyone), an expired maintenance notice (everyone), a draft.
  const now = new Date();
  const live = stableUuid(`sumda-seed:announcement:update:${s}`);
  const maintenance = stableUuid(`sumda-seed:announcement:maintenance:${s}`);
  const draft = stableUuid(`sumda-seed:announcement:draft:${s}`);
  const daysAgo = (n: number) => new Date(Math.max(firstDay.getTime(), now.getTime() - n * 86_400_000));
  const articles = [
    {
      id: live,
      title: '감정 흐름 그래프가 새로워졌어요',
      body: '하루의 감정 흐름을 더 또렷하게 볼 수 있도록 그래프를 다시 그렸어요.\n\n설정 > 리포트에서 확인해 보세요.',
      tags: ['앱업데이트'],
      published_at: daysAgo(6),
      expires_at: null,
    },
    {
      id: maintenance,
      title: '서비스 점검 안내',
      body: '더 안정적인 서비스를 위해 새벽 2시부터 4시까지 점검을 진행했어요.',
      tags: ['점검'],
      published_at: daysAgo(12),
      // Two days after it was published (daysAgo clamps to the first seeded day on short seeds).
      expires_at: new Date(daysAgo(12).getTime() + 2 * 86_400_000),
    },
    {
      id: draft,
      title: '연말 회고 챌린지 (준비 중)',
      body: '한 해를 돌아보는 12월 챌린지를 준비하고 있어요.',
      tags: ['이벤트'],
      published_at: null,
      expires_at: null,
    },
  ];
  for (const a of articles) {
    await trx
      .insertInto('announcements')
      .values({ ...a, segment: 'everyone' })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    if (!a.published_at) continue;
    await notifyAll(
      trx,
      { userIds },
      {
        kind: 'notice',
        message: { title: a.title, body: a.body.split('\n')[0]! },
        dedupeKey: `announcement:${a.id}`,
        visibleFrom: a.published_at,
        visibleTo: a.expires_at,
        announcementId: a.id,
      },
    );
  }
  // About half of notices and a third of event notes were read, within two days.
  await sql`
    update public.notifications n set read = true,
           read_at = n.visible_from + make_interval(mins => ${h(s, sql`n.id::text`)} % 2880)
    where n.user_id = any(${userIds}::uuid[]) and not n.read and n.type in ('notice', 'event')
      and ${h(s, sql`n.id::text`)} % 100 < case n.type when 'notice' then 52 else 35 end
      and n.visible_from + make_interval(mins => ${h(s, sql`n.id::text`)} % 2880) < now()`.execute(trx);

  // FAQ (once per database).
  const faqCount = await trx
    .selectFrom('support_faq')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(faqCount.n) === 0) {
    await trx
      .insertInto('support_faq')
      .values(
        FAQ.map(([category, question, answer], i) => ({
          category,
          question,
          answer,
          order_no: (i + 1) * 10,
        })),
      )
      .execute();
  }

  // Support tickets from about one user in twelve; most answered by an operator, half closed.
  const categories = Object.keys(INQUIRIES);
  const messages = categories.flatMap((c) => INQUIRIES[c]!.map((m) => [c, m] as const));
  const admins = await trx
    .selectFrom('admin.admins')
    .select('id')
    .where('disabled_at', 'is', null)
    .orderBy('id')
    .execute();
  const tickets = await sql<{ id: string }>`
    insert into admin.support_inquiries (id, user_id, category, message, created_at)
    select md5('sumda-seed:inquiry:' || ${String(s)} || u.id::text)::uuid, u.id, m.category, m.message,
           greatest(${firstDay}::timestamptz, now() - make_interval(mins => 60 + ${h(s, sql`'t' || u.id::text`)} % (60 * 24 * 20)))
    from unnest(${userIds}::uuid[]) as u(id)
    cross join lateral (select (${messages.map((m) => m[0])}::text[])[1 + ${h(s, sql`'c' || u.id::text`)} % ${messages.length}] as category,
                               (${messages.map((m) => m[1])}::text[])[1 + ${h(s, sql`'c' || u.id::text`)} % ${messages.length}] as message) m
    where ${h(s, sql`'q' || u.id::text`)} % 12 = 0
    on conflict (id) do nothing
    returning id`.execute(trx);
  let replies = 0;
  if (admins.length > 0 && tickets.rows.length > 0) {
    const ids = tickets.rows.map((t) => t.id);
    const answered = await sql`
      insert into admin.support_responses (inquiry_id, admin_id, response, created_at)
      select i.id, (${admins.map((a) => a.id)}::uuid[])[1 + ${h(s, sql`'a' || i.id::text`)} % ${admins.length}],
             (${REPLIES}::text[])[1 + ${h(s, sql`'r' || i.id::text`)} % ${REPLIES.length}],
             least(now(), i.created_at + make_interval(mins => 5 + ${h(s, sql`'f' || i.id::text`)} % (60 * 30)))
      from admin.support_inquiries i
      where i.id = any(${ids}::uuid[]) and ${h(s, sql`'y' || i.id::text`)} % 10 < 8`.execute(trx);
    replies = Number(answered.numAffectedRows ?? 0n);
    await sql`
      update admin.support_inquiries i set status = case when ${h(s, sql`'z' || i.id::text`)} % 2 = 0 then 'closed' else 'pending' end,
             closed_at = case when ${h(s, sql`'z' || i.id::text`)} % 2 = 0
                              then least(now(), i.first_response_at + make_interval(mins => 30 + ${h(s, sql`'w' || i.id::text`)} % 2880)) end,
             assignee_id = (select r.admin_id from admin.support_responses r where r.inquiry_id = i.id order by r.created_at limit 1)
      where i.id = any(${ids}::uuid[]) and i.first_response_at is not null`.execute(trx);
  }

  // API calls: each diary entry was a POST, each login a session of reads; a few errors.
  const api = await sql`
    insert into admin.api_logs (user_id, method, endpoint, status_code, latency_ms, created_at)
    select d.user_id, c.method, c.endpoint,
           case when x.v % 200 = 0 then 500 when x.v % 40 = 0 then 429 when x.v % 25 = 0 then 400 else c.ok end,
           c.base + (x.v % c.spread) + case when x.v % 50 = 0 then 1500 else 0 end,
           d.created_at + make_interval(secs => c.offset_s)
    from public.diary_entries d
    cross join lateral (values ('POST', '/v1/diaries', 201, 40, 120, 0), ('GET', '/v1/diaries', 200, 15, 60, -30),
                               ('GET', '/v1/analyses/{id}', 200, 10, 40, 40), ('GET', '/v1/reports', 200, 30, 200, 90))
         as c(method, endpoint, ok, base, spread, offset_s)
    cross join lateral (select ${h(s, sql`d.id::text || c.endpoint`)} as v) x
    where d.user_id = any(${userIds}::uuid[])`.execute(trx);
  await sql`
    insert into admin.error_logs (severity, service, message, context, created_at)
    select 'error', 'api', 'upstream timeout while saving a diary entry', jsonb_build_object('endpoint', a.endpoint, 'status', a.status_code), a.created_at
    from admin.api_logs a where a.user_id = any(${userIds}::uuid[]) and a.status_code = 500`.execute(trx);

  // Logins come from Korea, a few from Japan or the US; one account gets a burst of failures today.
  await sql`
    update admin.login_logs l set country = case when ${h(s, sql`l.id::text`)} % 100 < 94 then 'KR'
                                                 when ${h(s, sql`l.id::text`)} % 100 < 97 then 'JP' else 'US' end
    where l.user_id = any(${userIds}::uuid[]) and l.country is null`.execute(trx);
  if (userIds.length > 0) {
    const target = userIds[s % userIds.length]!;
    await sql`
      insert into admin.login_logs (user_id, ip, device, ua, success, country, created_at)
      select ${target}, '203.0.113.66', 'Unknown', 'python-requests/2.32', false, 'NL', now() - interval '2 hours' + make_interval(secs => g * 20)
      from generate_series(1, 9) g
      where not exists (select 1 from admin.login_logs where ip = '203.0.113.66')`.execute(trx);
  }
  return {
    pointBonuses: Number(bonuses.numAffectedRows ?? 0n),
    tickets: tickets.rows.length,
    replies,
    apiCalls: Number(api.numAffectedRows ?? 0n),
  };
}
