/**
 * Operators and slips, through the CLI where it matters: release (manager yes, operator no — the
 * refusal audited), override to normal (automatic slips stop for a while, crisis resources don't),
 * override to slipped, confirm, the review queue without a terminal, statistics over a hand-built
 * history in a database of their own, and no diary text in anything a slip command prints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.ts';
import { createDb } from '../../src/db/connect.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { checkSlips, releaseDueSlips } from '../../src/slips/live.ts';
import { koreanDuration } from '../../src/slips/messages.ts';
import { confirmSlip, overrideSlip, releaseSlip } from '../../src/slips/operators.ts';
import { auditRows, cliEnv, errorLines, lastSeq, operation, seedTeam, type Team } from '../admins/support.ts';
import { captureLogs, createUser, type TestKeys, testKeys } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, useTestDatabase } from '../support/db.ts';
import {
  backdate,
  deps,
  entry,
  HOUR,
  MINUTE,
  notificationsOf,
  openRows,
  type Reading,
  risky,
  slipRows,
  userWith,
} from './support.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
const SLIP = DEFAULT_POLICIES.slip;
const RELEASED_TITLE = SLIP.messages.released.title;
let keys: TestKeys;
let team: Team;

beforeAll(async () => {
  keys = testKeys();
  team = await seedTeam(database.db);
});

const sumda = (args: string[], actor?: string) =>
  runSumda(['slip', ...args], { env: cliEnv(database.url, actor) });

/** A user whose two immediate entries opened a warning, then a slip. */
async function slippedUser(): Promise<{ userId: string; slipId: string; analysisIds: string[] }> {
  const { userId, entries } = await userWith(database.db, keys.keyring, [
    { minutesAgo: 20, r: risky(3.9) },
    { minutesAgo: 10, r: risky(3.9) },
  ]);
  await checkSlips(
    deps(database.db, log),
    entries.map((e) => e.analysisId),
  );
  const open = await openRows(database.db, userId);
  expect(open.map((r) => r.status)).toEqual(['slipped']);
  return { userId, slipId: open[0]!.id, analysisIds: entries.map((e) => e.analysisId) };
}

describe('slip release', () => {
  it('an operator is refused (exit 6, audited as denied); a manager releases it and the user is told', async () => {
    const { userId, slipId } = await slippedUser();
    const before = await lastSeq(database.db);
    const denied = await sumda(['release', slipId, '--reason', '상담 후 해제'], team.operator.email);
    expect(denied.code).toBe(6);
    expect(errorLines(denied.stderr)).toEqual([
      `error: slip.release needs role manager; ${team.operator.email} is operator`,
    ]);
    const refusal = await auditRows(database.db, { afterSeq: before });
    expect(refusal).toEqual([
      expect.objectContaining({
        action: 'slip.release',
        actor_id: team.operator.id,
        target_type: 'slip',
        target_id: slipId,
        outcome: 'denied',
      }),
    ]);
    expect(await openRows(database.db, userId)).toHaveLength(1);

    const ok = await sumda(
      ['release', slipId, '--reason', 'reviewed: a hard exam week, not a risk'],
      team.manager.email,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`released slipped ${slipId}`);
    const [row] = (await slipRows(database.db, userId)).filter((r) => r.id === slipId);
    expect(row).toMatchObject({
      release_reason: 'reviewed: a hard exam week, not a risk',
      released_by: team.manager.id,
      // A release is not an override: those columns keep what an override (none here) said.
      override_by: null,
      override_reason: null,
      reviewed_by: team.manager.id,
      review_outcome: 'released',
    });
    expect(row!.released_at).toBeInstanceOf(Date);
    expect(row!.reviewed_at).toBeInstanceOf(Date);
    const audit = await auditRows(database.db, { action: 'slip.release', targetId: slipId });
    expect(audit.at(-1)).toMatchObject({
      actor_id: team.manager.id,
      outcome: 'success',
      reason: 'reviewed: a hard exam week, not a risk',
      before: { status: 'slipped', released_at: null },
      after: { review_outcome: 'released' },
    });
    const back = (await notificationsOf(database.db, userId)).filter((n) => n.title === RELEASED_TITLE);
    expect(back.map((n) => n.dedupe_key)).toEqual([`slip:${slipId}:released`]);

    // Released is released: a second release is a usage error, and the schedule never re-announces it.
    const again = await sumda(['release', slipId, '--reason', 'again'], team.manager.email);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is not open');
    await backdate(database.db, slipId, 48 * HOUR);
    await releaseDueSlips(deps(database.db, log));
    expect(
      (await notificationsOf(database.db, userId)).filter((n) => n.title === RELEASED_TITLE),
    ).toHaveLength(1);
  });

  it('releasing a warning ends it quietly (nothing was paused)', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [{ minutesAgo: 5, r: risky(3.9) }]);
    await checkSlips(deps(database.db, log), [entries[0]!.analysisId]);
    const [warning] = await openRows(database.db, userId);
    await releaseSlip(
      database.db,
      new PolicyResolver(database.db),
      operation(team.manager),
      warning!.id,
      'checked in',
    );
    expect(await openRows(database.db, userId)).toEqual([]);
    expect((await notificationsOf(database.db, userId)).map((n) => n.title)).toEqual([
      SLIP.messages.warning.title,
    ]);
  });
});

describe('slip override', () => {
  it('--status normal --for 48h closes the open slip and stops automatic slips while it lasts; crisis still shows', async () => {
    const { userId, slipId } = await slippedUser();
    const r = await sumda(
      [
        'override',
        userId,
        '--status',
        'normal',
        '--for',
        '48h',
        '--reason',
        'support #88: exam week',
        '--json',
      ],
      team.manager.email,
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ previous: 'slipped', status: 'normal', for: '48h' });
    const rows = await slipRows(database.db, userId);
    const closed = rows.find((x) => x.id === slipId)!;
    expect(closed).toMatchObject({
      release_reason: 'operator override to normal: support #88: exam week',
      released_by: team.manager.id,
      // The closed row was an automatic slip: no override of its own.
      override_by: null,
      override_reason: null,
    });
    expect(closed.released_at).toBeInstanceOf(Date);

    const open = await openRows(database.db, userId);
    expect(open).toEqual([
      expect.objectContaining({
        id: result.id,
        status: 'normal',
        source: 'operator',
        duration: '48:00:00',
        override_by: team.manager.id,
        override_reason: 'support #88: exam week',
      }),
    ]);
    expect(open[0]!.triggered_at.getTime()).toBeGreaterThanOrEqual(closed.released_at!.getTime());
    expect(
      (await notificationsOf(database.db, userId)).filter((n) => n.title === RELEASED_TITLE),
    ).toHaveLength(1);
    expect(await auditRows(database.db, { action: 'slip.override', targetId: userId })).toEqual([
      expect.objectContaining({
        actor_id: team.manager.id,
        outcome: 'success',
        target_type: 'user',
        before: { slip_id: slipId, status: 'slipped' },
        after: { slip_id: result.id, status: 'normal', for: '48h' },
        reason: 'support #88: exam week',
      }),
    ]);

    // A new risky entry, even at the top of the scale and tagged self-harm: no slip, crisis resources shown.
    const later = await userWithEntryFor(userId, { ...risky(4), ethics_tags: ['self_harm'] });
    const [checked] = await checkSlips(deps(database.db, log), [later]);
    expect(checked).toMatchObject({
      decision: 'normal',
      rule: 'operator_override',
      action: 'none',
      crisis: true,
    });
    expect((await openRows(database.db, userId)).map((x) => x.id)).toEqual([result.id]);
    expect(await notificationsOf(database.db, userId, 'crisis')).toHaveLength(1);
    // Releasing the operator's row keeps the override's reason beside the release's.
    const released = await sumda(['release', result.id, '--reason', 'exam over early'], team.manager.email);
    expect(released.code, released.stderr).toBe(0);
    const after = (await slipRows(database.db, userId)).find((x) => x.id === result.id)!;
    expect(after).toMatchObject({
      override_by: team.manager.id,
      override_reason: 'support #88: exam week',
      release_reason: 'exam over early',
      released_by: team.manager.id,
    });
    const shown = await sumda(['show', result.id], team.manager.email);
    expect(shown.stdout).toContain('support #88: exam week');
    expect(shown.stdout).toContain('exam over early');
    // Confirming a released slip says it was released.
    const confirmed = await sumda(['confirm', result.id, '--reason', 'late look'], team.manager.email);
    expect(confirmed.code).toBe(2);
    expect(confirmed.stderr).toContain('was already released');
  });

  it('--status slipped opens one (policy duration) and tells the user; an operator may not', async () => {
    const userId = await createUser(database.db);
    const before = await lastSeq(database.db);
    const denied = await sumda(
      ['override', userId, '--status', 'slipped', '--reason', 'family report'],
      team.operator.email,
    );
    expect(denied.code).toBe(6);
    expect((await auditRows(database.db, { afterSeq: before })).map((a) => [a.action, a.outcome])).toEqual([
      ['slip.override', 'denied'],
    ]);
    expect(await slipRows(database.db, userId)).toEqual([]);

    const r = await sumda(
      ['override', userId, '--status', 'slipped', '--reason', 'family report'],
      team.manager.email,
    );
    expect(r.code).toBe(0);
    const [row] = await openRows(database.db, userId);
    expect(row).toMatchObject({
      status: 'slipped',
      source: 'operator',
      duration: '24:00:00',
      analysis_id: null,
      override_by: team.manager.id,
      override_reason: 'family report',
    });
    expect(row!.metrics).toEqual({ rule: 'operator_override', previous: null });
    const notes = await notificationsOf(database.db, userId, 'slip');
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({
      title: SLIP.messages.slipped.title,
      dedupe_key: `slip:${row!.id}:open`,
    });
    expect(notes[0]!.message).toContain(koreanDuration('24h'));
    expect(notes[0]!.message).toContain('쓰고 저장할 수 있어요');
    expect(
      (await auditRows(database.db, { action: 'slip.override', targetId: userId })).at(-1),
    ).toMatchObject({
      outcome: 'success',
      before: { status: 'normal' },
      after: { slip_id: row!.id, status: 'slipped', for: '24h' },
    });
  });

  it('an override while a check holds the same user waits its turn and leaves one open row', async () => {
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9) },
      { minutesAgo: 10, r: risky(3.9) },
    ]);
    const other: Db = createDb(database.url, { max: 2 });
    try {
      await Promise.all([
        checkSlips(
          deps(other, log),
          entries.map((e) => e.analysisId),
        ),
        overrideSlip(database.db, new PolicyResolver(database.db), operation(team.manager), {
          userId,
          status: 'normal',
          reason: 'known case',
          for: '2h',
        }),
      ]);
    } finally {
      await other.destroy();
    }
    const rows = await slipRows(database.db, userId);
    expect(rows.filter((r) => r.released_at === null)).toHaveLength(1);
    for (const r of rows)
      if (r.released_at) expect(r.released_at.getTime()).toBeGreaterThanOrEqual(r.triggered_at.getTime());
  });
});

async function userWithEntryFor(userId: string, r: Reading) {
  return (await entry(database.db, keys.keyring, userId, new Date(Date.now() - MINUTE), r)).analysisId;
}

describe('slip confirm and review', () => {
  it('confirm records the review once; a second confirm is refused', async () => {
    const { slipId } = await slippedUser();
    const r = await sumda(
      ['confirm', slipId, '--reason', 'pattern matches; keep the pause'],
      team.manager.email,
    );
    expect(r.code).toBe(0);
    const row = await database.db
      .selectFrom('admin.slip_conditions')
      .select(['reviewed_by', 'reviewed_at', 'review_outcome', 'released_at'])
      .where('id', '=', slipId)
      .executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      reviewed_by: team.manager.id,
      review_outcome: 'confirmed',
      released_at: null,
    });
    expect(await auditRows(database.db, { action: 'slip.review', targetId: slipId })).toEqual([
      expect.objectContaining({ outcome: 'success', after: { review_outcome: 'confirmed' } }),
    ]);
    const again = await sumda(['confirm', slipId, '--reason', 'again'], team.manager.email);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already reviewed');
  });

  it('slip review without a terminal exits 2 with the non-interactive hint, and never hangs', async () => {
    const r = await sumda(['review'], team.manager.email);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: slip review is interactive and there is no terminal']);
    expect(r.stderr).toContain('sumda slip review --list');
  });
});

describe('slip stats and the review queue over a hand-built history', () => {
  let fresh: TestDatabase;
  let db: Db;
  let history: Awaited<ReturnType<typeof buildHistory>>;

  beforeAll(async () => {
    fresh = await createTestDatabase();
    db = createDb(fresh.url, { max: 3 });
    history = await buildHistory(db);
  });
  afterAll(async () => {
    await db?.destroy();
    await fresh?.drop();
  });

  /** Today minus `daysAgo` as a date in Asia/Seoul. */
  function kstDay(daysAgo: number): string {
    return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(
      new Date(Date.now() - daysAgo * 86_400_000),
    );
  }
  const at = (daysAgo: number, hhmm: string) => new Date(`${kstDay(daysAgo)}T${hhmm}:00+09:00`);

  async function row(
    db: Db,
    userId: string,
    status: 'warning' | 'slipped',
    triggered: Date,
    released: Date | null,
    releaseReason: string | null,
    crisis = false,
  ) {
    const r = await db
      .insertInto('admin.slip_conditions')
      .values({
        user_id: userId,
        status,
        source: 'auto',
        duration: '24 hours',
        metrics: JSON.stringify({
          rule: status === 'warning' ? 'spike_warning' : 'spike_slip',
          score: 3,
          crisis,
        }),
        triggered_at: triggered,
        released_at: released,
        release_reason: releaseReason,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return r.id;
  }

  async function buildHistory(db: Db) {
    const t = await seedTeam(db);
    const resolver = new PolicyResolver(db);
    const [a, b, c, d, e, f] = await Promise.all(Array.from({ length: 6 }, () => createUser(db)));
    // A: warned and slipped 5 days ago (24 h), slipped again 2 days ago — released by a manager after 6 h.
    const a1 = await row(db, a!, 'warning', at(5, '10:00'), at(5, '12:00'), 'escalated to slipped');
    const a2 = await row(db, a!, 'slipped', at(5, '12:00'), at(4, '12:00'), 'time elapsed');
    const a3 = await row(db, a!, 'slipped', at(2, '09:00'), null, null);
    await releaseSlip(db, resolver, operation(t.manager), a3, 'talked with the user');
    await db
      .updateTable('admin.slip_conditions')
      .set({ released_at: at(2, '15:00') })
      .where('id', '=', a3)
      .execute();
    // B: a warning 4 days ago (20:00 KST), a crisis slip at 00:30 KST two days ago (15:30 UTC the day before), 12 h.
    const b1 = await row(db, b!, 'warning', at(4, '20:00'), at(3, '20:00'), 'time elapsed');
    const b2 = await row(db, b!, 'slipped', at(2, '00:30'), at(2, '12:30'), 'time elapsed', true);
    // C: a crisis slip yesterday, still open, confirmed by the lead.
    const c1 = await row(db, c!, 'slipped', at(1, '08:00'), null, null, true);
    await confirmSlip(db, operation(t.admin), c1, 'keep it');
    // D: slipped by hand (an operator slip: no daily count, no re-slip, no review queue).
    const d1 = (
      await overrideSlip(db, resolver, operation(t.manager), {
        userId: d!,
        status: 'slipped',
        reason: 'family report',
      })
    ).id;
    // E: a warning yesterday, released by a manager.
    const e1 = await row(db, e!, 'warning', at(1, '09:00'), null, null);
    await releaseSlip(db, resolver, operation(t.manager), e1, 'false alarm');
    // F: a 3 h slip three days ago.
    const f1 = await row(db, f!, 'slipped', at(3, '10:00'), at(3, '13:00'), 'time elapsed');
    // A refused attempt is not an operator action.
    await expect(releaseSlip(db, resolver, operation(t.operator), c1, 'nope')).rejects.toThrow();
    return { team: t, ids: { a1, a2, a3, b1, b2, c1, d1, e1, f1 } };
  }

  it('slip stats --json: per KST day, median slip duration, re-slip rate, operator actions', async () => {
    const r = await runSumda(['slip', 'stats', '--json'], { env: cliEnv(fresh.url) });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      perDay: [
        { day: kstDay(5), warnings: 1, slips: 1, crisis: 0 },
        { day: kstDay(4), warnings: 1, slips: 0, crisis: 0 },
        { day: kstDay(3), warnings: 0, slips: 1, crisis: 0 },
        // Crisis counts the crisis notes users got (none in this history), not slip rows.
        { day: kstDay(2), warnings: 0, slips: 2, crisis: 0 },
        { day: kstDay(1), warnings: 1, slips: 1, crisis: 0 },
      ],
      // Released slips: 24 h, 6 h, 12 h, 3 h → (6 + 12) / 2.
      medianDurationHours: 9,
      byOperator: [
        { operator: history.team.manager.email, releases: 2, overrides: 1, confirmations: 0 },
        { operator: history.team.admin.email, releases: 0, overrides: 0, confirmations: 1 },
      ],
      // Users with an automated slip: A (twice), B, C, F.
      reSlipRate: 0.25,
      slippedUsers: 4,
      // Unreviewed automated slips still running: none (a2, b2, f1 ended; a3 released; c1 confirmed).
      awaitingReview: 0,
    });
  });

  it('slip review --list --json lists only unreviewed automated slips', async () => {
    const r = await runSumda(['slip', 'review', '--list', '--json'], { env: cliEnv(fresh.url) });
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as {
      id: string;
      status: string;
      source: string;
      review_outcome: null;
    }[];
    // a2, b2 and f1 are unreviewed but already over: only running slips await a decision.
    expect(listed).toEqual([]);
    for (const x of listed)
      expect(x).toMatchObject({ status: 'slipped', source: 'auto', review_outcome: null });
  });
});

describe('no diary text in slip output', () => {
  it('slip show / list / review / stats never print the diary or its analysis text', async () => {
    const MARKER = '비밀표식-7Q2X';
    const { userId, entries } = await userWith(database.db, keys.keyring, [
      { minutesAgo: 20, r: risky(3.9), text: `${MARKER} 오늘은 정말 힘들었다` },
      { minutesAgo: 10, r: risky(3.9), text: `${MARKER} 아무것도 하기 싫다` },
    ]);
    await database.db
      .updateTable('analysis_results')
      .set({ summary: `${MARKER} 요약`, interpretation: `${MARKER} 해석`, reflection_question: `${MARKER}?` })
      .where('user_id', '=', userId)
      .execute();
    await checkSlips(
      deps(database.db, log),
      entries.map((e) => e.analysisId),
    );
    const [open] = await openRows(database.db, userId);
    const outputs = await Promise.all([
      sumda(['show', open!.id]),
      sumda(['show', open!.id, '--json']),
      sumda(['list', '--status', 'all', '--user', userId, '--json']),
      sumda(['list', '--user', userId]),
      sumda(['review', '--list']),
      sumda(['stats']),
    ]);
    for (const o of outputs) {
      expect(o.code).toBe(0);
      expect(o.stdout + o.stderr).not.toContain(MARKER);
    }
    const shown = JSON.parse(outputs[1]!.stdout);
    expect(shown.slip.metrics).toMatchObject({
      rule: 'immediate_slip',
      tier_a: 3.9,
      thresholds: { spike_tier_a: 3.2 },
    });
    expect(shown.notifications.map((n: { title: string }) => n.title)).toEqual([SLIP.messages.slipped.title]);
    expect(shown.history.map((h: { status: string }) => h.status)).toEqual(['slipped', 'warning']);
    expect(outputs[0]!.stdout).toContain('evidence');
    expect(outputs[0]!.stdout).toContain('not reviewed');
  });
});
