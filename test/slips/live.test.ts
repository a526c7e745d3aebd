/**
 * The live slip flow against real PostgreSQL: analysis → check → warning and notification →
 * escalation to a slip → scheduled release, told to the user in plain Korean without scores; the
 * crisis flow below every threshold; moderation flags that never delete; stale and duplicate
 * checks; two analyses of one user at once; concurrent releases; and the whole path through the
 * worker (analysis.run → slip.check → slip.release), where a paused user's entries are not read.
 */
import { randomUUID } from 'node:crypto';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Analyzer } from '../../src/analysis/analyzer.ts';
import { ZERO_TOKENS } from '../../src/analysis/analyzer.ts';
import { activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { createDb, createPool, type Db } from '../../src/db/connect.ts';
import type { Database } from '../../src/db/types.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { createBoss, enqueueMany, type PgBoss } from '../../src/queue/boss.ts';
import { checkSlips, releaseDueSlips } from '../../src/slips/live.ts';
import { koreanDuration, koreanTime } from '../../src/slips/messages.ts';
import {
  bootstrapTestAdmin,
  captureLogs,
  createUser,
  goodAnswer,
  jobsIn,
  runWorkerOnce,
  type TestKeys,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import {
  analyse,
  backdate,
  calm,
  DAY,
  deps,
  entry,
  HANGUL,
  HOUR,
  joyful,
  MINUTE,
  notificationsOf,
  openRows,
  risky,
  slipRows,
  userWith,
} from './support.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
let keys: TestKeys;
const SLIP = DEFAULT_POLICIES.slip;
const ETHICS = DEFAULT_POLICIES.ethics;

beforeAll(async () => {
  keys = testKeys();
  await bootstrapTestAdmin(database.db);
});

const check = (ids: string[], db: Db = database.db) => checkSlips(deps(db, log), ids);

/** A Kysely whose connection stalls (in `hold`) before sending the first statement containing `marker`. */
function gatedDb(
  url: string,
  marker: string,
  hold: () => Promise<void>,
  applicationName = 'sumda-gated',
): Db {
  const pool = createPool(url, { max: 1, applicationName });
  const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
  const wrapped = new WeakSet<pg.PoolClient>();
  let held = false;
  (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
    const client = await connect();
    if (!wrapped.has(client)) {
      wrapped.add(client);
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      (client as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = async (...args) => {
        if (!held && typeof args[0] === 'string' && args[0].includes(marker)) {
          held = true;
          await hold();
        }
        return query(...args);
      };
    }
    return client;
  };
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}

/** The notification body with the duration and end time taken out: what is left must hold no number. */
function withoutTimes(body: string, duration: string, until: Date): string {
  return body.replace(koreanDuration(duration), '').replace(koreanTime(until), '');
}

async function expectAtMostOneOpen(userId: string) {
  expect((await openRows(database.db, userId)).length).toBeLessThanOrEqual(1);
}

describe('analysis → warning → slip', () => {
  it('a second risky entry warns, a third slips; the user is told in plain Korean, without scores', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 30, r: risky(3.5) },
      { minutesAgo: 20, r: risky(3.6) },
      { minutesAgo: 10, r: risky(3.4) },
    ]);
    const [e1, e2, e3] = entries as [(typeof entries)[0], (typeof entries)[0], (typeof entries)[0]];

    expect(await check([e1.analysisId])).toEqual([
      {
        analysisId: e1.analysisId,
        status: 'checked',
        decision: 'normal',
        rule: 'below_warning',
        action: 'none',
        crisis: false,
      },
    ]);
    expect(await slipRows(database.db, userId)).toEqual([]);
    expect(await notificationsOf(database.db, userId)).toEqual([]);

    const [second] = await check([e2.analysisId]);
    expect(second).toMatchObject({ decision: 'warning', rule: 'spike_warning', action: 'opened warning' });
    const [warning] = await slipRows(database.db, userId);
    expect(warning).toMatchObject({
      status: 'warning',
      source: 'auto',
      analysis_id: e2.analysisId,
      duration: '24:00:00',
      released_at: null,
      override_by: null,
    });
    expect(warning!.metrics).toMatchObject({
      analysis_id: e2.analysisId,
      rule: 'spike_warning',
      score: 2,
      tier_a: 3.6,
      risky_spikes: 2,
      crisis: false,
      ruleset_version: 'default',
      ethics_version: 'default',
      thresholds: { spike_tier_a: 3.2, warning_spikes: 2, slip_spikes: 3, immediate_tier_a: 3.8 },
    });
    await expectAtMostOneOpen(userId);
    const [told] = await notificationsOf(database.db, userId);
    expect(told).toMatchObject({
      type: 'slip',
      dedupe_key: `slip:${warning!.id}:open`,
      title: SLIP.messages.warning.title,
    });
    expect(told!.message).toMatch(HANGUL);
    expect(told!.message).not.toMatch(/[0-9{}]/);
    expect(told!.message).not.toMatch(/tier|score|점수|티어|spike/i);
    expect(told!.message).toContain('일기 쓰기');

    const [third] = await check([e3.analysisId]);
    expect(third).toMatchObject({
      decision: 'slipped',
      rule: 'spike_slip',
      action: 'escalated warning → slipped',
    });
    const rows = await slipRows(database.db, userId);
    expect(rows).toHaveLength(2);
    const closed = rows.find((r) => r.id === warning!.id)!;
    const slipped = rows.find((r) => r.id !== warning!.id)!;
    expect(closed.released_at).not.toBeNull();
    expect(closed.release_reason).toBe('escalated to slipped');
    expect(slipped).toMatchObject({
      status: 'slipped',
      source: 'auto',
      analysis_id: e3.analysisId,
      released_at: null,
    });
    expect(slipped.metrics).toMatchObject({ rule: 'spike_slip', score: 3, warned_in_window: true });
    await expectAtMostOneOpen(userId);

    const notes = await notificationsOf(database.db, userId, 'slip');
    expect(notes.map((n) => n.dedupe_key)).toEqual([`slip:${warning!.id}:open`, `slip:${slipped.id}:open`]);
    const pause = notes[1]!;
    const until = new Date(slipped.triggered_at.getTime() + DAY);
    expect(pause.title).toBe(SLIP.messages.slipped.title);
    expect(pause.message).toContain(`${koreanDuration('24h')} 동안`);
    expect(pause.message).toContain(koreanTime(until));
    expect(pause.message).toContain('쓰고 저장할 수 있어요');
    expect(pause.message).not.toMatch(/[{}]/);
    const rest = withoutTimes(pause.message, '24h', until);
    expect(rest).not.toMatch(/[0-9]/);
    expect(`${pause.title}${pause.message}`).not.toMatch(/tier|score|점수|티어|3\.4|3\.5|3\.6/i);
    expect(await notificationsOf(database.db, userId, 'crisis')).toEqual([]);
  });

  it('high intensity joy never warns, however many entries', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 50, r: joyful(3.9) },
      { minutesAgo: 40, r: joyful(4) },
      { minutesAgo: 30, r: joyful(3.8) },
      { minutesAgo: 20, r: joyful(3.95) },
    ]);
    const results = await check(entries.map((e) => e.analysisId));
    expect(results.map((r) => (r.status === 'checked' ? r.rule : r.status))).toEqual([
      'healthy_high',
      'healthy_high',
      'healthy_high',
      'healthy_high',
    ]);
    expect(await slipRows(database.db, userId)).toEqual([]);
    expect(await notificationsOf(database.db, userId)).toEqual([]);
  });
});

describe('crisis and moderation', () => {
  it('self-harm below every threshold shows every crisis line, and opens no slip', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      {
        minutesAgo: 5,
        r: { tier_a: 0.5, valence: -0.9, context_tags: ['loneliness'], ethics_tags: ['self_harm'] },
      },
    ]);
    const id = entries[0]!.analysisId;
    expect(await check([id])).toEqual([
      {
        analysisId: id,
        status: 'checked',
        decision: 'normal',
        rule: 'not_a_spike',
        action: 'none',
        crisis: true,
      },
    ]);
    expect(await slipRows(database.db, userId)).toEqual([]);
    const crisis = await notificationsOf(database.db, userId, 'crisis');
    expect(crisis).toHaveLength(1);
    expect(crisis[0]).toMatchObject({ dedupe_key: `crisis:${id}`, title: ETHICS.crisis_message.title });
    for (const line of ['109', '1577-0199', '1388', '112', '119']) expect(crisis[0]!.message).toContain(line);
    expect(crisis[0]!.message).toContain('24시간');
    expect(crisis[0]!.message).not.toMatch(/tier|score|점수|0\.5/i);
    expect(await notificationsOf(database.db, userId, 'slip')).toEqual([]);
    // Checked again (a retried job): still one crisis note.
    await check([id]);
    expect(await notificationsOf(database.db, userId, 'crisis')).toHaveLength(1);
  });

  it('a violence-tagged entry is flagged for an operator (automated log row), never deleted or blocked', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      {
        minutesAgo: 5,
        r: { tier_a: 1.4, valence: -0.3, context_tags: ['conflict'], ethics_tags: ['violence'] },
      },
    ]);
    const { diaryId, analysisId } = entries[0]!;
    expect((await check([analysisId]))[0]).toMatchObject({ decision: 'normal', crisis: false });
    const diary = await database.db
      .selectFrom('diary_entries')
      .select(['moderation_state', 'flagged_at', 'flag_reason'])
      .where('id', '=', diaryId)
      .executeTakeFirstOrThrow();
    expect(diary.moderation_state).toBe('visible');
    expect(diary.flagged_at).toBeInstanceOf(Date);
    expect(diary.flag_reason).toBe('ethics: violence');
    const logs = await database.db
      .selectFrom('admin.content_moderation_logs')
      .select(['action', 'reason', 'admin_id'])
      .where('diary_id', '=', diaryId)
      .execute();
    expect(logs).toEqual([{ action: 'flag', reason: 'ethics: violence', admin_id: null }]);
    await check([analysisId]);
    const again = await database.db
      .selectFrom('admin.content_moderation_logs')
      .select('id')
      .where('diary_id', '=', diaryId)
      .execute();
    expect(again).toHaveLength(1);
    expect(await slipRows(database.db, userId)).toEqual([]);
    expect(await notificationsOf(database.db, userId)).toEqual([]);
  });
});

describe('what is not checked, and checking twice', () => {
  it('entries written more than two days ago are skipped (backfills never slip); unknown ids are missing', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 2 * 24 * 60 + 1, r: { ...risky(4), ethics_tags: ['self_harm_intent'] } },
      { minutesAgo: 2 * 24 * 60 + 2, r: risky(4) },
    ]);
    const unknown = randomUUID();
    expect(await check([entries[0]!.analysisId, unknown])).toEqual([
      { analysisId: entries[0]!.analysisId, status: 'skipped', reason: 'stale' },
      { analysisId: unknown, status: 'skipped', reason: 'missing' },
    ]);
    expect(await slipRows(database.db, userId)).toEqual([]);
    expect(await notificationsOf(database.db, userId)).toEqual([]);
  });

  it('checking the same analysis twice changes nothing the second time (one warning, one notification)', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [{ minutesAgo: 5, r: risky(3.9) }]);
    const id = entries[0]!.analysisId;
    expect((await check([id]))[0]).toMatchObject({ decision: 'warning', action: 'opened warning' });
    const second = await check([id]);
    expect(second[0]).toMatchObject({ status: 'checked', action: 'none' });
    const rows = await slipRows(database.db, userId);
    expect(rows.map((r) => [r.status, r.released_at])).toEqual([['warning', null]]);
    expect(await notificationsOf(database.db, userId)).toHaveLength(1);
  });

  it('the same analysis checked twice at the same instant, from two connections, acts once', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 5, r: { ...risky(3.9), ethics_tags: ['self_harm'] } },
    ]);
    const id = entries[0]!.analysisId;
    const a = createDb(database.url, { max: 1 });
    const b = createDb(database.url, { max: 1 });
    try {
      await Promise.all([check([id], a), check([id], b)]);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
    expect((await slipRows(database.db, userId)).map((r) => r.status)).toEqual(['warning']);
    expect(await notificationsOf(database.db, userId, 'slip')).toHaveLength(1);
    expect(await notificationsOf(database.db, userId, 'crisis')).toHaveLength(1);
  });

  it('an entry read again under a new prompt version is still one entry in the window', async () => {
    const userId = await createUser(database.db);
    const first = await entry(
      database.db,
      keys.keyring,
      userId,
      new Date(Date.now() - 10 * MINUTE),
      risky(3.5),
    );
    const reread = await analyse(database.db, userId, first.diaryId, risky(3.5), 'builtin-2');
    const [result] = await check([reread]);
    expect(result).toMatchObject({ decision: 'normal', rule: 'below_warning' });
    expect(await slipRows(database.db, userId)).toEqual([]);
  });
});

describe('two analyses of one user at once', () => {
  it('yield one open condition and the same history whichever commits first', async () => {
    const users = await Promise.all(
      Array.from({ length: 6 }, () =>
        userWith(database.db, keys.keyring, [
          { minutesAgo: 20, r: risky(3.9) },
          { minutesAgo: 10, r: risky(3.95) },
        ]),
      ),
    );
    const a = createDb(database.url, { max: 3 });
    const b = createDb(database.url, { max: 3 });
    try {
      await Promise.all(
        users.flatMap(({ entries }) => [
          check([entries[0]!.analysisId], a),
          check([entries[1]!.analysisId], b),
        ]),
      );
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
    for (const { userId } of users) {
      const rows = await slipRows(database.db, userId);
      expect(rows.map((r) => [r.status, r.released_at === null, r.release_reason])).toEqual([
        ['warning', false, 'escalated to slipped'],
        ['slipped', true, null],
      ]);
      const notes = await notificationsOf(database.db, userId, 'slip');
      expect(notes.map((n) => n.title)).toEqual([SLIP.messages.warning.title, SLIP.messages.slipped.title]);
    }
  });

  it('a check whose transaction began before another committed still closes that row after it opened', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9) },
      { minutesAgo: 10, r: risky(3.95) },
    ]);
    // A begins its transaction, then stalls before the per-user lock; B checks and commits meanwhile.
    let reached!: () => void;
    const atLock = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const a = gatedDb(
      database.url,
      'pg_advisory_xact_lock',
      async () => {
        reached();
        await gate;
      },
      'sumda-gated-a',
    );
    const b = createDb(database.url, { max: 1 });
    try {
      const first = check([entries[0]!.analysisId], a);
      await atLock;
      // B's transaction must start strictly later than A's: B begins once the server's clock is past
      // the start of A's open transaction (read from pg_stat_activity, not assumed from a pause).
      const pastA = async () =>
        (
          await sql<{
            past: boolean;
          }>`select coalesce(bool_and(clock_timestamp() > xact_start), false) as past
            from pg_stat_activity where application_name = 'sumda-gated-a' and xact_start is not null`.execute(
            database.db,
          )
        ).rows[0]!.past;
      await expect.poll(pastA).toBe(true);
      expect((await check([entries[1]!.analysisId], b))[0]).toMatchObject({ action: 'opened warning' });
      open();
      expect((await first)[0]).toMatchObject({ action: 'escalated warning → slipped' });
    } finally {
      open();
      await Promise.all([a.destroy(), b.destroy()]);
    }
    const rows = await slipRows(database.db, userId);
    expect(rows.map((r) => [r.status, r.release_reason])).toEqual([
      ['warning', 'escalated to slipped'],
      ['slipped', null],
    ]);
    const [warning, slipped] = rows as [(typeof rows)[0], (typeof rows)[0]];
    expect(warning.released_at!.getTime()).toBeGreaterThanOrEqual(warning.triggered_at.getTime());
    expect(slipped.triggered_at.getTime()).toBeGreaterThanOrEqual(warning.released_at!.getTime());
    // The user's feed (newest first by visible_from) ends with the pause, not the earlier warning.
    const feed = await database.db
      .selectFrom('notifications')
      .select('title')
      .where('user_id', '=', userId)
      .orderBy('visible_from', 'desc')
      .execute();
    expect(feed.map((n) => n.title)).toEqual([SLIP.messages.slipped.title, SLIP.messages.warning.title]);
  });

  it('two risky entries below the immediate threshold at once: one warning, nothing else', async () => {
    const users = await Promise.all(
      Array.from({ length: 4 }, () =>
        userWith(database.db, keys.keyring, [
          { minutesAgo: 20, r: risky(3.4) },
          { minutesAgo: 10, r: risky(3.4) },
        ]),
      ),
    );
    const a = createDb(database.url, { max: 2 });
    const b = createDb(database.url, { max: 2 });
    try {
      await Promise.all(
        users.flatMap(({ entries }) => [
          check([entries[1]!.analysisId], a),
          check([entries[0]!.analysisId], b),
        ]),
      );
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
    for (const { userId, entries } of users) {
      const rows = await slipRows(database.db, userId);
      expect(rows.map((r) => [r.status, r.analysis_id, r.released_at])).toEqual([
        ['warning', entries[1]!.analysisId, null],
      ]);
      expect(await notificationsOf(database.db, userId)).toHaveLength(1);
    }
  });
});

describe('scheduled release', () => {
  it('releases exactly the due conditions, tells each slipped user once, even run twice at once', async () => {
    const slippedDue = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9) },
      { minutesAgo: 10, r: risky(3.9) },
    ]);
    const warningDue = await userWith(database.db, keys.keyring, [{ minutesAgo: 10, r: risky(3.9) }]);
    const slippedLater = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9) },
      { minutesAgo: 10, r: risky(3.9) },
    ]);
    for (const u of [slippedDue, warningDue, slippedLater]) await check(u.entries.map((e) => e.analysisId));
    const open = async (u: { userId: string }) => (await openRows(database.db, u.userId))[0]!;
    const dueSlip = await open(slippedDue);
    const dueWarning = await open(warningDue);
    const notYet = await open(slippedLater);
    expect([dueSlip.status, dueWarning.status, notYet.status]).toEqual(['slipped', 'warning', 'slipped']);
    // The constraints allow moving an open condition's start back (released_at is still null).
    await backdate(database.db, dueSlip.id, 24 * HOUR + MINUTE);
    await backdate(database.db, dueWarning.id, 25 * HOUR);
    await backdate(database.db, notYet.id, 23 * HOUR);

    const due = await sql<{ n: number }>`select count(*)::int as n from admin.slip_conditions
      where released_at is null and triggered_at + duration <= now()`.execute(database.db);
    expect(due.rows[0]!.n).toBe(2);

    const a = createDb(database.url, { max: 2 });
    const b = createDb(database.url, { max: 2 });
    let counts: number[];
    try {
      counts = await Promise.all([releaseDueSlips(deps(a, log)), releaseDueSlips(deps(b, log))]);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
    expect(counts.reduce((s, n) => s + n, 0)).toBe(2);
    expect(await releaseDueSlips(deps(database.db, log))).toBe(0);

    const released = await database.db
      .selectFrom('admin.slip_conditions')
      .select(['id', 'released_at', 'release_reason'])
      .where('id', 'in', [dueSlip.id, dueWarning.id, notYet.id])
      .execute();
    const byId = new Map(released.map((r) => [r.id, r]));
    expect(byId.get(dueSlip.id)!.release_reason).toBe('time elapsed');
    expect(byId.get(dueWarning.id)!.release_reason).toBe('time elapsed');
    expect(byId.get(notYet.id)!.released_at).toBeNull();

    const back = (await notificationsOf(database.db, slippedDue.userId, 'slip')).filter(
      (n) => n.title === 'AI 읽기를 다시 시작했어요',
    );
    expect(back).toHaveLength(1);
    expect(back[0]!.dedupe_key).toBe(`slip:${dueSlip.id}:released`);
    expect(back[0]!.message).not.toMatch(/[0-9]/);
    // A warning ends quietly; a pause not yet over is not announced.
    for (const u of [warningDue, slippedLater]) {
      const titles = (await notificationsOf(database.db, u.userId)).map((n) => n.title);
      expect(titles).not.toContain('AI 읽기를 다시 시작했어요');
    }
    expect(await openRows(database.db, slippedDue.userId)).toEqual([]);
    expect(await openRows(database.db, slippedLater.userId)).toHaveLength(1);
  });
});

describe('scheduled release in batches', () => {
  it('releases every due condition across batches, each slipped user told once in their own wording', async () => {
    const admin = await database.db.selectFrom('admin.admins').select('id').executeTakeFirstOrThrow();
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await createUser(database.db));
    // Five due pauses (and one due warning), triggered a day and an hour ago.
    const triggered = new Date(Date.now() - 25 * HOUR);
    const conditions = await database.db
      .insertInto('admin.slip_conditions')
      .values(
        users.map((userId, i) => ({
          user_id: userId,
          metrics: '{}',
          status: i === 4 ? ('warning' as const) : ('slipped' as const),
          duration: '24 hours',
          triggered_at: triggered,
        })),
      )
      .returning(['id', 'user_id'])
      .execute();
    // One user's release note is worded differently by a personal override.
    await database.db
      .insertInto('admin.ai_overrides')
      .values({
        target: `user:${users[1]}`,
        key: 'slip.messages.released.title',
        value: JSON.stringify('다시 만나서 반가워요'),
        reason: 'support case',
        created_by: admin.id,
      })
      .execute();

    expect(await releaseDueSlips(deps(database.db, log), 2)).toBe(5);
    expect(await releaseDueSlips(deps(database.db, log), 2)).toBe(0);
    for (const [i, userId] of users.entries()) {
      const notes = await notificationsOf(database.db, userId, 'slip');
      const slipId = conditions.find((c) => c.user_id === userId)!.id;
      if (i === 4) {
        expect(notes).toEqual([]);
        continue;
      }
      expect(notes.map((n) => [n.title, n.dedupe_key])).toEqual([
        [i === 1 ? '다시 만나서 반가워요' : SLIP.messages.released.title, `slip:${slipId}:released`],
      ]);
      expect(notes[0]!.message).toBe(SLIP.messages.released.body);
    }
    await database.db.deleteFrom('admin.ai_overrides').where('target', '=', `user:${users[1]}`).execute();
  });
});

/** Reads '[위험]' entries as risky at tier 3.9 and everything else as calm. */
const stubAnalyzer: Analyzer = {
  name: 'stub',
  async analyze(request) {
    const high = request.text.includes('[위험]');
    return {
      outcome: 'ok',
      output: goodAnswer(
        high
          ? { tier_a: 3.9, tier_m: 2, valence: -0.7, context_tags: ['anxiety', 'exhaustion'] }
          : { tier_a: 1.1, valence: 0.4 },
      ),
      call: {
        analyzer: 'stub',
        analyzerVersion: '1',
        model: 'stub-model',
        requestId: null,
        tokens: ZERO_TOKENS,
        latencyMs: 0,
        repairAttempted: false,
      },
    };
  },
};

describe('through the worker', () => {
  let boss: PgBoss;
  beforeAll(async () => {
    boss = createBoss(database.url);
    await boss.start();
  });
  afterAll(async () => {
    await boss?.stop({ graceful: false, close: true });
  });

  const worker = (queues: string[]) =>
    runWorkerOnce({
      url: database.url,
      config: testConfig(database.url, keys.env),
      log,
      analyzer: stubAnalyzer,
      queues,
    });

  it('analysis → slip.check → slip; a paused user is not read; slip.release ends it and tells them once', async () => {
    const userId = await createUser(database.db);
    const now = Date.now();
    const d1 = await writeDiary(
      database.db,
      keys.keyring,
      userId,
      '[위험] 숨이 막히는 하루',
      new Date(now - 20 * MINUTE),
    );
    const d2 = await writeDiary(
      database.db,
      keys.keyring,
      userId,
      '[위험] 또 잠을 못 잤다',
      new Date(now - 10 * MINUTE),
    );
    const prompt = await activePrompt(new PolicyResolver(database.db));
    await enqueueAnalyses(boss, [d1, d2], prompt);
    const first = await worker(['analysis.run', 'slip.check']);
    expect(first.processed['analysis.run']).toEqual({ completed: 2, failed: 0 });
    expect(first.processed['slip.check']).toEqual({ completed: 2, failed: 0 });
    const rows = await slipRows(database.db, userId);
    expect(rows.map((r) => [r.status, r.released_at === null])).toEqual([
      ['warning', false],
      ['slipped', true],
    ]);
    const slipped = rows[1]!;

    // While paused, a new entry is not read, so no slip check exists for it.
    const d3 = await writeDiary(database.db, keys.keyring, userId, '[위험] 오늘도 힘들다');
    await enqueueAnalyses(boss, [d3], prompt);
    await worker(['analysis.run', 'slip.check']);
    const analysed = await database.db
      .selectFrom('analysis_results')
      .select('diary_id')
      .where('user_id', '=', userId)
      .execute();
    expect(analysed.map((a) => a.diary_id).sort()).toEqual([d1, d2].sort());
    const d3Job = (await jobsIn(database.db, 'analysis.run')).find((j) => j.data?.diaryId === d3)!;
    expect(d3Job.state).toBe('completed');

    await backdate(database.db, slipped.id, 24 * HOUR + MINUTE);
    const release = await worker(['slip.check', 'slip.release']);
    expect(release.processed['slip.release']!.completed).toBeGreaterThanOrEqual(1);
    expect((await openRows(database.db, userId)).length).toBe(0);
    await worker(['slip.release']);
    const back = (await notificationsOf(database.db, userId)).filter(
      (n) => n.title === 'AI 읽기를 다시 시작했어요',
    );
    expect(back).toHaveLength(1);
  });

  it('slip.check jobs enqueued for stored analyses: one job per analysis, results as job output', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 30, r: calm() },
      { minutesAgo: 20, r: risky(3.5) },
      { minutesAgo: 10, r: risky(3.5) },
    ]);
    const jobs = entries.map((e) => ({ payload: { analysisId: e.analysisId }, singletonKey: e.analysisId }));
    await enqueueMany(boss, 'slipCheck', jobs);
    // slip.check is a standard queue (the backlog fix): a duplicate enqueue is run too, and acts once,
    // because a check of an analysis already checked changes nothing.
    await enqueueMany(boss, 'slipCheck', jobs);
    const result = await worker(['slip.check']);
    expect(result.processed['slip.check']).toEqual({ completed: 6, failed: 0 });
    const outputs = (await jobsIn(database.db, 'slip.check'))
      .filter((j) => entries.some((e) => e.analysisId === j.data?.analysisId))
      .map((j) => j.output);
    expect(outputs).toHaveLength(6);
    // The two risky entries were checked in some order; in either, one warning results.
    expect((await slipRows(database.db, userId)).map((r) => [r.status, r.released_at])).toEqual([
      ['warning', null],
    ]);
  });
});
