import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { eventsAttendance } from '../../jobs/events-attendance.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import {
  closeEvent,
  createEvent,
  eventStats,
  listEvents,
  processAttendance,
  showEvent,
} from '../../src/events/index.ts';
import { createLogger } from '../../src/log.ts';
import { auditLedger, pointsBalance } from '../../src/points/index.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { addDays, seoulDate } from '../../src/time/calendar.ts';
import { auditRows, cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const ara = stableUuid('events-test:ara');
const bin = stableUuid('events-test:bin');
const today = seoulDate(new Date());
const start = addDays(today, -20);
let eventId: string;

async function attend(userId: string, days: number[]) {
  await database.db
    .insertInto('event_attendance')
    .values(days.map((d) => ({ user_id: userId, event_id: eventId, date: addDays(start, d) })))
    .execute();
}

async function streaks(userId: string) {
  const rows = await database.db
    .selectFrom('event_attendance')
    .select(['streak', 'reward_code'])
    .where('user_id', '=', userId)
    .where('event_id', '=', eventId)
    .orderBy('date')
    .execute();
  return rows.map((r) => [r.streak, r.reward_code]);
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  await database.db
    .insertInto('users')
    .values([
      { id: ara, nickname: '아라' },
      { id: bin, nickname: '빈' },
    ])
    .execute();
});

describe('events', () => {
  it('create writes the event, its rewards and an audit row; a manager is needed', async () => {
    const created = await createEvent(database.db, operation(team.manager, 'sumda event create'), {
      title: '출석 챌린지',
      startDate: start,
      rewards: [
        { streakDays: 3, points: 10 },
        { streakDays: 7, points: 100 },
      ],
    });
    eventId = created.id;
    const shown = await showEvent(database.db, eventId);
    expect(shown).toMatchObject({ state: 'running', start_date: start, end_date: null });
    expect(shown.rewards).toEqual([
      { streak_days: 3, points: 10, code: 'streak-3' },
      { streak_days: 7, points: 100, code: 'streak-7' },
    ]);
    expect((await auditRows(database.db, { action: 'event.create' })).map((a) => a.target_id)).toEqual([
      eventId,
    ]);
    await expect(
      createEvent(database.db, operation(team.operator), { title: 'x', startDate: start }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    for (const bad of [
      { title: 'x', startDate: '2026-02-30' },
      { title: 'x', startDate: start, endDate: start },
      { title: ' ', startDate: start },
      {
        title: 'x',
        startDate: start,
        rewards: [
          { streakDays: 7, points: 1 },
          { streakDays: 7, points: 2 },
        ],
      },
    ]) {
      await expect(createEvent(database.db, operation(team.manager), bad)).rejects.toBeInstanceOf(UsageError);
    }
    expect((await listEvents(database.db)).map((e) => e.id)).toEqual([eventId]);
  });

  it('CLI: bad input exits 2 and writes nothing; list and show answer in JSON', async () => {
    const env = cliEnv(database.url, team.manager.email);
    for (const args of [
      ['event', 'create', '--title', 't', '--start', '2026-13-01'],
      ['event', 'create', '--title', 't', '--start', '2026-12-01', '--reward', '7'],
      ['event', 'create', '--title', 't', '--start', '2026-12-01', '--end', '2026-11-01'],
      ['event', 'list', '--state', 'soon'],
      ['event', 'show', stableUuid('events-test:nothing')],
    ]) {
      const r = await runSumda(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
    expect((await listEvents(database.db)).length).toBe(1);
    const list = await runSumda(['event', 'list', '--state', 'running', '--json'], { env });
    expect(JSON.parse(list.stdout)).toMatchObject([
      { id: eventId, state: 'running', rewards: '3d:10P 7d:100P' },
    ]);
  }, 240_000);
});

describe('attendance streaks and rewards', () => {
  it('computes streaks and pays each reward once when two workers race and the job runs again', async () => {
    // Ara: days 0–7 in a row, then a gap, then day 9. Bin: days 0–2.
    await attend(ara, [0, 1, 2, 3, 4, 5, 6, 7, 9]);
    await attend(bin, [0, 1, 2]);
    const [one, two] = await Promise.all([processAttendance(database.db), processAttendance(database.db)]);
    expect(one.rewardsPaid + two.rewardsPaid).toBe(3);
    expect(await streaks(ara)).toEqual([
      [1, null],
      [2, null],
      [3, 'streak-3'],
      [4, null],
      [5, null],
      [6, null],
      [7, 'streak-7'],
      [8, null],
      [1, null],
    ]);
    expect(await streaks(bin)).toEqual([
      [1, null],
      [2, null],
      [3, 'streak-3'],
    ]);
    expect(await processAttendance(database.db)).toMatchObject({ pairs: 0, rewardsPaid: 0 });
    expect((await pointsBalance(database.db, ara)).balance).toBe(110);
    expect((await pointsBalance(database.db, bin)).balance).toBe(10);
  });

  it('repairs later streaks when the app writes a missed day late, without paying again', async () => {
    await attend(ara, [8]);
    const handler = eventsAttendance.create({
      db: database.db,
      log: createLogger({ level: 'silent' }),
    } as never);
    const job = { id: crypto.randomUUID(), name: 'events.attendance', data: {} } as never;
    const signal = new AbortController().signal;
    const [a, b] = await Promise.all([handler([job], signal), handler([job], signal)]);
    expect([a, b].flat().map((o) => o.status)).toEqual(['completed', 'completed']);
    expect((await streaks(ara)).map(([s]) => s)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await pointsBalance(database.db, ara)).balance).toBe(110);
    const rewards = await sql<{ n: string }>`
      select count(*) as n from public.user_points_ledger where reason = 'reward' and ref_type = 'attendance'`.execute(
      database.db,
    );
    expect(Number(rewards.rows[0]!.n)).toBe(3);
    expect((await auditLedger(database.db)).breaks).toEqual([]);
  });

  it('stats: participants, longest streaks, rewards paid and renewal of participants vs. others', async () => {
    await sql`insert into public.plans (code, name, price, billing_interval) values ('basic', '베이직', 9900, 'month')`.execute(
      database.db,
    );
    const before = sql`${start}::date - 40 + time '09:00' at time zone 'Asia/Seoul'`;
    for (const user of [ara, bin]) {
      await sql`insert into public.subscriptions (user_id, plan, status, start_date) values (${user}, 'basic', 'active', ${before})`.execute(
        database.db,
      );
    }
    await sql`insert into public.payments (user_id, amount, order_id, status, approved_at)
              values (${ara}, 9900, 'order-ara', 'approved', now())`.execute(database.db);
    const stats = await eventStats(database.db, eventId);
    expect(stats).toMatchObject({ participants: 2, attendanceDays: 13, pendingStreaks: 0 });
    expect(stats.streaks.filter((s) => s.users > 0)).toEqual([
      { streak: '2–3', users: 1 },
      { streak: '7–13', users: 1 },
    ]);
    expect(stats.rewards).toEqual([
      { code: 'streak-3', entries: 2, points: 20 },
      { code: 'streak-7', entries: 1, points: 100 },
    ]);
    expect(stats.renewal.participants).toEqual({ subscribed: 2, renewed: 1, rate: 0.5 });
    expect(stats.renewal.others).toEqual({ subscribed: 0, renewed: 0, rate: null });
  });

  it('close ends a running event after today, once', async () => {
    const op = operation(team.manager, 'sumda event close');
    await expect(closeEvent(database.db, op, { id: eventId, reason: ' ' })).rejects.toThrow(/--reason/);
    const closed = await closeEvent(database.db, op, { id: eventId, reason: '예산 소진' });
    expect(closed).toEqual({ id: eventId, before: null, after: addDays(today, 1) });
    await expect(closeEvent(database.db, op, { id: eventId, reason: '다시' })).rejects.toThrow(
      /already ends/,
    );
    expect(
      await closeEvent(database.db, op, { id: eventId, reason: '내일', today: addDays(today, 1) }).catch(
        (e) => e,
      ),
    ).toBeInstanceOf(UsageError);
    expect((await auditRows(database.db, { action: 'event.close' })).map((a) => [a.reason, a.after])).toEqual(
      [['예산 소진', { end_date: addDays(today, 1) }]],
    );
  });
});
