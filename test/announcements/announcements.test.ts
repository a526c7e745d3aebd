import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createAnnouncement,
  endAnnouncement,
  listAnnouncements,
  publishAnnouncement,
  summary,
} from '../../src/announcements/index.ts';
import { countRecipients, notificationStats, sendNotification } from '../../src/announcements/notify.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { parseSegment, type Segment } from '../../src/notifications/index.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { auditRows, cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const u = (name: string) => stableUuid(`announce-test:${name}`);

beforeAll(async () => {
  team = await seedTeam(database.db);
  const db = database.db;
  await sql`insert into public.plans (code, name, price, billing_interval) values ('basic', '베이직', 9900, 'month')`.execute(
    db,
  );
  // name, state, days since joining, subscription status, days since last diary (null = never)
  const people: [string, string, number, string | null, number | null][] = [
    ['paid', 'active', 100, 'active', 1],
    ['pastdue', 'active', 100, 'past_due', 2],
    ['trial', 'active', 5, 'trial', 1],
    ['canceled', 'active', 200, 'canceled', 90],
    ['none', 'active', 50, null, 3],
    ['dormant', 'active', 120, null, null],
    ['banned', 'banned', 100, 'active', 1],
  ];
  for (const [name, state, joined, subscription, wrote] of people) {
    await sql`insert into public.users (id, nickname, state, created_at)
              values (${u(name)}, ${name}, ${state}, now() - make_interval(days => ${joined}))`.execute(db);
    if (subscription)
      await sql`insert into public.subscriptions (user_id, plan, status, past_due_since)
                values (${u(name)}, 'basic', ${subscription}, ${subscription === 'past_due' ? new Date() : null})`.execute(
        db,
      );
    if (wrote !== null)
      await sql`insert into public.diary_entries (user_id, content_enc, created_at)
                values (${u(name)}, ${Buffer.concat([Buffer.from([1, 2]), Buffer.from('k1'), Buffer.alloc(36, 1)])},
                        now() - make_interval(days => ${wrote}))`.execute(db);
  }
});

/** The segments written out by hand, independently of src/notifications/audience.ts. */
async function handCount(segment: string): Promise<number> {
  const queries: Record<string, ReturnType<typeof sql>> = {
    everyone: sql`select count(*) from users where state = 'active'`,
    paid: sql`select count(*) from users u join subscriptions s on s.user_id = u.id
              where u.state = 'active' and s.status in ('active', 'past_due')`,
    trial: sql`select count(*) from users u join subscriptions s on s.user_id = u.id
               where u.state = 'active' and s.status = 'trial'`,
    free: sql`select count(*) from users u left join subscriptions s on s.user_id = u.id
              where u.state = 'active' and (s.id is null or s.status = 'canceled')`,
    'inactive:30d': sql`select count(*) from users u where u.state = 'active' and u.created_at < now() - interval '30 days'
              and not exists (select 1 from diary_entries d where d.user_id = u.id and d.created_at >= now() - interval '30 days')
              and not exists (select 1 from admin.login_logs l where l.user_id = u.id and l.success and l.created_at >= now() - interval '30 days')`,
  };
  const r = await sql<{ count: string }>`${queries[segment]!}`.execute(database.db);
  return Number(r.rows[0]!.count);
}

describe('segments', () => {
  it('reach exactly the users a hand-written query counts', async () => {
    const expected = { everyone: 6, paid: 2, trial: 1, free: 3, 'inactive:30d': 2 };
    for (const [name, n] of Object.entries(expected)) {
      expect({ name, hand: await handCount(name) }).toEqual({ name, hand: n });
      const counted = await countRecipients(database.db, {
        to: { segment: parseSegment(name) as Segment },
        kind: 'notice',
        title: 't',
        body: 'b',
      });
      expect({ name, counted }).toEqual({ name, counted: n });
    }
  });
});

describe('announcements', () => {
  let id: string;

  it('create makes a draft; publish fans out to the segment once, even when retried', async () => {
    const op = operation(team.manager, 'sumda announce');
    const draft = await createAnnouncement(database.db, op, {
      title: '새 기능: 감정 흐름 그래프',
      body: '# 새 기능\n\n**감정 흐름**을 [그래프](https://sumda.kr)로 볼 수 있어요.\n\n자세한 내용은 …',
      tags: ['앱업데이트'],
      segment: 'paid',
    });
    id = draft.id;
    expect((await listAnnouncements(database.db)).map((a) => [a.id, a.state])).toEqual([[id, 'draft']]);
    const first = await publishAnnouncement(database.db, op, { id });
    expect(first).toMatchObject({ notified: await handCount('paid'), republished: false, segment: 'paid' });
    const again = await publishAnnouncement(database.db, op, { id });
    expect(again).toMatchObject({ notified: 0, republished: true, publishedAt: first.publishedAt });
    // The segment grew (someone subscribed): a retry reaches only the newcomer.
    await sql`insert into public.subscriptions (user_id, plan, status) values (${u('none')}, 'basic', 'active')`.execute(
      database.db,
    );
    expect((await publishAnnouncement(database.db, op, { id })).notified).toBe(1);
    const rows = await database.db
      .selectFrom('notifications')
      .select(['user_id', 'type', 'title', 'message', 'visible_from'])
      .where('announcement_id', '=', id)
      .orderBy('user_id')
      .execute();
    expect(rows.map((r) => r.user_id).sort()).toEqual([u('none'), u('paid'), u('pastdue')].sort());
    expect(rows[0]).toMatchObject({ type: 'notice', title: '새 기능: 감정 흐름 그래프', message: '새 기능' });
    expect(rows.every((r) => r.visible_from.getTime() === first.publishedAt.getTime())).toBe(true);
    expect((await auditRows(database.db, { action: 'announce.publish', targetId: id })).length).toBe(3);
  });

  it('expire stops it and its notifications showing; illegal transitions are refused', async () => {
    const op = operation(team.manager);
    const result = await endAnnouncement(database.db, op, { id, how: 'expire', reason: '종료' });
    expect(result).toMatchObject({ before: 'live', after: 'expired', notificationsEnded: 3 });
    await expect(endAnnouncement(database.db, op, { id, how: 'expire' })).rejects.toThrow(
      /expired; only a published/,
    );
    await expect(publishAnnouncement(database.db, op, { id })).rejects.toBeInstanceOf(UsageError);
    const open = await sql<{ n: string }>`select count(*) as n from notifications
      where announcement_id = ${id} and (visible_to is null or visible_to > now())`.execute(database.db);
    expect(Number(open.rows[0]!.n)).toBe(0);
    await expect(
      createAnnouncement(database.db, operation(team.operator), { title: 't', body: 'b' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
  });

  it('CLI: create bad input → 2; delete needs --yes without a TTY; list by tag', async () => {
    const env = cliEnv(database.url, team.manager.email);
    for (const [i, args] of [
      ['announce', 'create', '--title', 't'],
      ['announce', 'create', '--title', 't', '--body', 'b', '--segment', 'vip'],
      ['announce', 'create', '--title', 't', '--body', 'b', '--tags', 'a b'],
      ['announce', 'create', '--title', 't', '--body', 'b', '--expires-at', 'soon'],
    ].entries()) {
      // The first case through the real subprocess, the rest in-process.
      const r = await (i === 0 ? runSumda : sumda)(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
    expect((await listAnnouncements(database.db)).length).toBe(1);
    const created = await sumda(
      [
        'announce',
        'create',
        '--title',
        '점검 안내',
        '--body',
        '12월 3일 점검',
        '--tags',
        '점검',
        '--no-notify',
        '--json',
      ],
      { env },
    );
    const draft = JSON.parse(created.stdout);
    expect(draft.segment).toBeNull();
    const published = await sumda(['announce', 'publish', draft.id, '--json'], { env });
    expect(JSON.parse(published.stdout)).toMatchObject({ notified: 0 });
    const refused = await runSumda(['announce', 'delete', draft.id], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    const list = await sumda(['announce', 'list', '--tag', '점검', '--json'], { env });
    expect(JSON.parse(list.stdout).map((a: { id: string; state: string }) => [a.id, a.state])).toEqual([
      [draft.id, 'live'],
    ]);
    const deleted = await sumda(['announce', 'delete', draft.id, '--yes'], { env });
    expect(deleted.code).toBe(0);
    expect((await listAnnouncements(database.db, { tag: '점검' })).length).toBe(0);
  }, 240_000);

  it('summary takes the first paragraph without markdown', () => {
    expect(summary('## 점검 **안내**\n\n둘째')).toBe('점검 안내');
    expect(summary('x'.repeat(300))).toHaveLength(200);
  });
});

describe('notify send and stats', () => {
  it('sends to a user or a segment, once per key; read rates by type and announcement are true', async () => {
    const op = operation(team.manager, 'sumda notify send');
    const one = await sendNotification(database.db, op, {
      to: { userId: u('trial') },
      kind: 'system',
      title: '보안 알림',
      body: '새 기기에서 로그인했어요.',
    });
    expect(one.sent).toBe(1);
    const send = {
      to: { segment: parseSegment('inactive:30d') },
      kind: 'event' as const,
      title: '다시 만나요',
      body: '한 줄 남겨 보세요.',
      key: 'winback-1',
    };
    expect((await sendNotification(database.db, op, send)).sent).toBe(await handCount('inactive:30d'));
    expect((await sendNotification(database.db, op, send)).sent).toBe(0);
    await expect(
      sendNotification(database.db, op, { ...send, kind: 'crisis' as never }),
    ).rejects.toBeInstanceOf(UsageError);
    await expect(
      sendNotification(database.db, operation(team.operator), { ...send, key: 'winback-2' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    // Two of the three paid recipients read the announcement; one of the event messages is read.
    await sql`update notifications set read = true, read_at = now()
              where announcement_id is not null and user_id in (${u('paid')}, ${u('pastdue')})`.execute(
      database.db,
    );
    await sql`update notifications set read = true, read_at = now()
              where type = 'event' and user_id = ${u('dormant')}`.execute(database.db);
    const stats = await notificationStats(database.db, { since: new Date(Date.now() - 3_600_000) });
    expect(stats.byType).toEqual([
      { type: 'event', sent: 2, read: 1, recipients: 2, readRate: 0.5 },
      { type: 'notice', sent: 3, read: 2, recipients: 3, readRate: 0.667 },
      { type: 'system', sent: 1, read: 0, recipients: 1, readRate: 0 },
    ]);
    expect(stats.byAnnouncement).toMatchObject([
      { title: '새 기능: 감정 흐름 그래프', sent: 3, read: 2, readRate: 0.667 },
    ]);
    const cli = await sumda(['notify', 'stats', '--type', 'event', '--json'], {
      env: cliEnv(database.url),
    });
    expect(JSON.parse(cli.stdout).byType).toMatchObject([{ type: 'event', sent: 2 }]);
    const bad = await runSumda(
      [
        'notify',
        'send',
        '--user',
        u('trial'),
        '--segment',
        'paid',
        '--type',
        'system',
        '--title',
        't',
        '--body',
        'b',
      ],
      {
        env: cliEnv(database.url, team.manager.email),
      },
    );
    expect(bad.code).toBe(2);
  }, 120_000);
});
