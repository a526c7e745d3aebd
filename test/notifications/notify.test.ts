/**
 * The notifications module against real PostgreSQL: one user's note inside the caller's
 * transaction (rolled back with it, once per dedupe key), the set-based fan-out (one row per
 * recipient, each with its own read state, once per recipient on a retry), segments checked
 * against hand-written queries, the table refusing a row without a recipient, and the migration
 * that expands old broadcast rows into one row per active user.
 */
import { type Kysely, sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/connect.ts';
import { migrate, migrateDown } from '../../src/db/migrator.ts';
import type { Database } from '../../src/db/types.ts';
import { UsageError } from '../../src/errors.ts';
import {
  notify,
  notifyAll,
  parseSegment,
  type Segment,
  segmentQuery,
} from '../../src/notifications/index.ts';
import { createUser, testKeys, writeDiary } from '../support/analysis.ts';
import { createTestDatabase, useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const DAY = 86_400_000;
const message = { title: '점검 안내', body: '오늘 밤 2시부터 30분 동안 점검이 있어요.' };

async function rowsOf(userId: string) {
  return database.db
    .selectFrom('notifications')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

async function countWithKey(key: string): Promise<number> {
  const row = await database.db
    .selectFrom('notifications')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('dedupe_key', '=', key)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

class Rollback extends Error {}

async function rolledBack(work: (trx: Kysely<Database>) => Promise<void>) {
  await expect(
    database.db.transaction().execute(async (trx) => {
      await work(trx);
      throw new Rollback();
    }),
  ).rejects.toBeInstanceOf(Rollback);
}

describe('notify: one user', () => {
  it('writes one row for the user, visible from the moment of writing', async () => {
    const userId = await createUser(database.db);
    const id = await notify(database.db, userId, { kind: 'system', message });
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [row] = await rowsOf(userId);
    expect(row).toMatchObject({
      id,
      type: 'system',
      title: message.title,
      message: message.body,
      read: false,
      read_at: null,
      dedupe_key: null,
      visible_to: null,
    });
    expect(row!.visible_from).toEqual(row!.created_at);
  });

  it('is part of the caller’s transaction: rolled back with it', async () => {
    const userId = await createUser(database.db);
    await rolledBack(async (trx) => {
      await notify(trx, userId, { kind: 'system', message });
      expect(
        await trx.selectFrom('notifications').select('id').where('user_id', '=', userId).execute(),
      ).toHaveLength(1);
    });
    expect(await rowsOf(userId)).toEqual([]);
  });

  it('writes a dedupe key once per user; another user may get the same key', async () => {
    const [a, b] = [await createUser(database.db), await createUser(database.db)];
    const first = await notify(database.db, a, {
      kind: 'billing',
      message,
      dedupeKey: 'billing:renewal:2026-12',
    });
    const again = await notify(database.db, a, {
      kind: 'billing',
      message: { title: '다른 제목', body: '다른 본문' },
      dedupeKey: 'billing:renewal:2026-12',
    });
    expect(first).not.toBeNull();
    expect(again).toBeNull();
    expect((await rowsOf(a)).map((r) => r.title)).toEqual([message.title]);
    expect(
      await notify(database.db, b, { kind: 'billing', message, dedupeKey: 'billing:renewal:2026-12' }),
    ).not.toBeNull();
    // Without a key, every send is a new note.
    await notify(database.db, a, { kind: 'system', message });
    await notify(database.db, a, { kind: 'system', message });
    expect(await rowsOf(a)).toHaveLength(3);
  });

  it('refuses a user who does not exist (the foreign key), writing nothing', async () => {
    const ghost = '00000000-0000-4000-8000-000000000001';
    await expect(notify(database.db, ghost, { kind: 'system', message })).rejects.toMatchObject({
      code: '23503',
    });
    expect(await rowsOf(ghost)).toEqual([]);
  });

  it('keeps links and the visibility window it is given', async () => {
    const userId = await createUser(database.db);
    const announcement = await database.db
      .insertInto('announcements')
      .values({ title: '공지', body: '본문' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const from = new Date('2026-12-01T00:00:00Z');
    const to = new Date('2026-12-08T00:00:00Z');
    await notify(database.db, userId, {
      kind: 'notice',
      message,
      announcementId: announcement.id,
      visibleFrom: from,
      visibleTo: to,
    });
    expect(await rowsOf(userId)).toMatchObject([
      { announcement_id: announcement.id, event_id: null, visible_from: from, visible_to: to },
    ]);
  });
});

describe('notifyAll: a fan-out', () => {
  it('writes one row per recipient, each with its own read state', async () => {
    const users = [
      await createUser(database.db),
      await createUser(database.db),
      await createUser(database.db),
    ];
    const written = await notifyAll(database.db, { userIds: users }, { kind: 'notice', message });
    expect(written).toBe(3);
    const rows = await database.db
      .selectFrom('notifications')
      .select(['id', 'user_id', 'created_at', 'visible_from'])
      .where('user_id', 'in', users)
      .execute();
    expect(rows.map((r) => r.user_id).sort()).toEqual([...users].sort());
    // One instant for the whole fan-out.
    expect(new Set(rows.map((r) => r.created_at.getTime())).size).toBe(1);
    expect(rows.every((r) => r.visible_from.getTime() === r.created_at.getTime())).toBe(true);

    // One recipient reads it; the others have not.
    await database.db
      .updateTable('notifications')
      .set({ read: true, read_at: sql<Date>`now()` })
      .where('id', '=', rows.find((r) => r.user_id === users[0])!.id)
      .execute();
    const read = await database.db
      .selectFrom('notifications')
      .select(['user_id', 'read'])
      .where('user_id', 'in', users)
      .execute();
    expect(Object.fromEntries(read.map((r) => [r.user_id, r.read]))).toEqual({
      [users[0]!]: true,
      [users[1]!]: false,
      [users[2]!]: false,
    });
  });

  it('skips ids of no user and tells a user named twice once', async () => {
    const user = await createUser(database.db);
    const ghost = '00000000-0000-4000-8000-000000000002';
    expect(await notifyAll(database.db, { userIds: [user, ghost, user] }, { kind: 'system', message })).toBe(
      1,
    );
    expect(await rowsOf(user)).toHaveLength(1);
    expect(await notifyAll(database.db, { userIds: [] }, { kind: 'system', message })).toBe(0);
  });

  it('with a dedupe key, a retry reaches only recipients who do not have it yet', async () => {
    const first = [await createUser(database.db), await createUser(database.db)];
    const delivery = { kind: 'notice' as const, message, dedupeKey: 'announcement:retry-test' };
    expect(await notifyAll(database.db, { userIds: first }, delivery)).toBe(2);
    expect(await notifyAll(database.db, { userIds: first }, delivery)).toBe(0);
    const late = await createUser(database.db);
    expect(await notifyAll(database.db, { userIds: [...first, late] }, delivery)).toBe(1);
    expect(await countWithKey('announcement:retry-test')).toBe(3);
  });

  it('is part of the caller’s transaction: rolled back with it', async () => {
    const users = [await createUser(database.db), await createUser(database.db)];
    await rolledBack(async (trx) => {
      expect(
        await notifyAll(
          trx,
          { userIds: users },
          { kind: 'notice', message, dedupeKey: 'announcement:rollback' },
        ),
      ).toBe(2);
    });
    expect(await countWithKey('announcement:rollback')).toBe(0);
    // The key was never used: sending again reaches everyone.
    expect(
      await notifyAll(
        database.db,
        { userIds: users },
        { kind: 'notice', message, dedupeKey: 'announcement:rollback' },
      ),
    ).toBe(2);
  });

  it('recipients with keys of their own: each key once per recipient', async () => {
    const [a, b] = [await createUser(database.db), await createUser(database.db)];
    const recipients = [
      { userId: a, dedupeKey: 'slip:one:released' },
      { userId: b, dedupeKey: 'slip:two:released' },
    ];
    expect(await notifyAll(database.db, { recipients }, { kind: 'slip', message })).toBe(2);
    expect(await notifyAll(database.db, { recipients }, { kind: 'slip', message })).toBe(0);
    expect((await rowsOf(a)).map((r) => r.dedupe_key)).toEqual(['slip:one:released']);
    expect((await rowsOf(b)).map((r) => r.dedupe_key)).toEqual(['slip:two:released']);
  });

  it('fans out over any query yielding user_id', async () => {
    const a = await createUser(database.db, '쿼리-대상');
    await createUser(database.db, '쿼리-제외');
    const query = database.db.selectFrom('users').select('id as user_id').where('nickname', '=', '쿼리-대상');
    expect(await notifyAll(database.db, { query }, { kind: 'event', message })).toBe(1);
    expect(await rowsOf(a)).toHaveLength(1);
  });

  it('keeps an explicit visibility window on every row', async () => {
    const users = [await createUser(database.db), await createUser(database.db)];
    const from = new Date('2026-12-24T15:00:00Z');
    const to = new Date('2026-12-26T15:00:00Z');
    await notifyAll(
      database.db,
      { userIds: users },
      { kind: 'event', message, visibleFrom: from, visibleTo: to },
    );
    for (const u of users) expect(await rowsOf(u)).toMatchObject([{ visible_from: from, visible_to: to }]);
  });
});

describe('segments', () => {
  // A population of its own in a fresh database, so whole-table segments are exact.
  const seg = useTestDatabase();
  const who: Record<string, string> = {};
  const keys = testKeys();

  beforeAll(async () => {
    const db = seg.db;
    const make = async (name: string, options: { state?: string; joinedDaysAgo?: number } = {}) => {
      const created = new Date(Date.now() - (options.joinedDaysAgo ?? 100) * DAY);
      const row = await db
        .insertInto('users')
        .values({
          nickname: name,
          state: (options.state ?? 'active') as 'active',
          created_at: created,
          updated_at: created,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      who[name] = row.id;
      return row.id;
    };
    await db
      .insertInto('plans')
      .values({ code: 'basic', name: '베이직', price: 9900, billing_interval: 'month' })
      .execute();
    const subscribe = (userId: string, status: 'trial' | 'active' | 'past_due' | 'canceled') =>
      db
        .insertInto('subscriptions')
        .values({
          user_id: userId,
          plan: 'basic',
          status,
          // A subscription in dunning says since when (subscriptions_past_due_check).
          past_due_since: status === 'past_due' ? new Date(Date.now() - 2 * DAY) : null,
        })
        .execute();
    await subscribe(await make('paying'), 'active');
    await subscribe(await make('retrying'), 'past_due');
    await subscribe(await make('trying'), 'trial');
    await subscribe(await make('left'), 'canceled');
    await make('never');
    await subscribe(await make('banned-payer', { state: 'banned' }), 'active');
    await make('resigned', { state: 'resigned' });
    await make('dormant', { state: 'inactive' });
    // Activity: a diary 3 days ago, a successful login 3 days ago, only a failed login, a newcomer.
    await writeDiary(
      db,
      keys.keyring,
      await make('writer'),
      '오늘은 조용한 하루였다.',
      new Date(Date.now() - 3 * DAY),
    );
    const loggedIn = await make('visitor');
    const failed = await make('failed-login');
    await db
      .insertInto('admin.login_logs')
      .values([
        { user_id: loggedIn, success: true, created_at: new Date(Date.now() - 3 * DAY) },
        { user_id: failed, success: false, created_at: new Date(Date.now() - 3 * DAY) },
      ])
      .execute();
    await make('newcomer', { joinedDaysAgo: 2 });
  });

  async function members(segment: Segment): Promise<string[]> {
    const rows = await segmentQuery(seg.db, segment).execute();
    const names = Object.fromEntries(Object.entries(who).map(([n, id]) => [id, n]));
    return rows.map((r) => names[r.user_id]!).sort();
  }

  /** The same segment written by hand, as an analyst would. */
  async function handWritten(where: string): Promise<string[]> {
    const rows = await sql<{ nickname: string }>`
      select u.nickname from public.users u left join public.subscriptions s on s.user_id = u.id
      where u.state = 'active' and (${sql.raw(where)}) order by 1`.execute(seg.db);
    return rows.rows.map((r) => r.nickname);
  }

  it('everyone is every active user', async () => {
    expect(await members('everyone')).toEqual(await handWritten('true'));
    expect(await members('everyone')).not.toContain('banned-payer');
    expect(await members('everyone')).not.toContain('dormant');
  });

  it('paid, trial and free split the active users by subscription', async () => {
    expect(await members('paid')).toEqual(['paying', 'retrying']);
    expect(await members('paid')).toEqual(await handWritten(`s.status in ('active', 'past_due')`));
    expect(await members('trial')).toEqual(['trying']);
    expect(await members('free')).toEqual(await handWritten(`s.status is null or s.status = 'canceled'`));
    const all = [...(await members('paid')), ...(await members('trial')), ...(await members('free'))].sort();
    expect(all).toEqual(await members('everyone'));
  });

  it('inactive:Nd: no diary and no successful login for N days, joined before that', async () => {
    const inactive = await members({ inactiveDays: 7 });
    expect(inactive).not.toContain('writer');
    expect(inactive).not.toContain('visitor');
    expect(inactive).not.toContain('newcomer');
    expect(inactive).toContain('failed-login');
    expect(inactive).toEqual(
      await handWritten(`u.created_at < now() - interval '7 days'
        and not exists (select 1 from public.diary_entries d where d.user_id = u.id and d.created_at >= now() - interval '7 days')
        and not exists (select 1 from admin.login_logs l where l.user_id = u.id and l.success and l.created_at >= now() - interval '7 days')`),
    );
    // Over two days, the writer and the visitor (3 days ago) are inactive too; the newcomer is not.
    expect(await members({ inactiveDays: 2 })).toEqual(expect.arrayContaining(['writer', 'visitor']));
  });

  it('a segment fan-out writes exactly the segment’s members', async () => {
    const written = await notifyAll(
      seg.db,
      { segment: 'paid' },
      { kind: 'billing', message, dedupeKey: 'seg:paid' },
    );
    expect(written).toBe(2);
    const told = await seg.db
      .selectFrom('notifications')
      .select('user_id')
      .where('dedupe_key', '=', 'seg:paid')
      .execute();
    expect(told.map((t) => t.user_id).sort()).toEqual([who.paying, who.retrying].sort());
  });

  it('parses segment names strictly', () => {
    expect(parseSegment('everyone')).toBe('everyone');
    expect(parseSegment('inactive:30d')).toEqual({ inactiveDays: 30 });
    for (const bad of [
      '',
      'all',
      'inactive',
      'inactive:0d',
      'inactive:-3d',
      'inactive:30',
      'inactive:99999d',
      'PAID',
    ]) {
      expect(() => parseSegment(bad), bad).toThrow(UsageError);
    }
  });
});

describe('the table', () => {
  it('refuses a notification without a recipient', async () => {
    await expect(
      sql`insert into public.notifications (user_id, type, title, message) values (null, 'notice', 't', 'm')`.execute(
        database.db,
      ),
    ).rejects.toMatchObject({ code: '23502' });
  });

  it('the migration expands a broadcast row into one unread row per active user', async () => {
    const scratch = await createTestDatabase();
    const db = createDb(scratch.url, { max: 1 });
    try {
      await migrateDown({ url: scratch.url, appliedBy: 'test', to: '0009_worker_state' });
      const active = [await createUser(db, '하나'), await createUser(db, '둘')];
      await db.insertInto('users').values({ nickname: '탈퇴', state: 'resigned' }).execute();
      await sql`insert into public.notifications (user_id, type, title, message, read, read_at, dedupe_key)
        values (null, 'notice', '전체 공지', '본문', true, now(), 'broadcast-1'),
               (${active[0]}, 'system', '개인 알림', '본문', false, null, null)`.execute(db);
      await migrate({ url: scratch.url, appliedBy: 'test' });
      const rows = await db
        .selectFrom('notifications')
        .select(['user_id', 'title', 'read', 'dedupe_key'])
        .execute();
      const sorted = (list: object[]) => list.map((r) => JSON.stringify(r)).sort();
      expect(sorted(rows)).toEqual(
        sorted([
          { user_id: active[0], title: '전체 공지', read: false, dedupe_key: 'broadcast-1' },
          { user_id: active[1], title: '전체 공지', read: false, dedupe_key: 'broadcast-1' },
          { user_id: active[0], title: '개인 알림', read: false, dedupe_key: null },
        ]),
      );
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });
});
