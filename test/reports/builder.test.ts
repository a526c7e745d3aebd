/**
 * The set-based builder against hand-computed fixtures (real PostgreSQL): every key of a weekly
 * summary worked out by hand below, the exclusive end and Seoul midnights, blocked entries left
 * out, the newest analysis of an entry used, no private data in the summary, a rebuild that writes
 * nothing, staleness marks set by triggers and cleared by the build, and reports removed when
 * nothing counted is left.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildChunk, buildPeriod, FIRST_USER } from '../../src/reports/build.ts';
import { parseSummary } from '../../src/reports/summary.ts';
import { periodContaining } from '../../src/time/calendar.ts';
import { useTestDatabase } from '../support/db.ts';
import { analyse, entry, kst, reportsOf, staleMarks, user } from './support.ts';

const database = useTestDatabase();
const week = periodContaining('weekly', kst('2026-11-25T12:00')); // Mon 2026-11-23 … Mon 11-30
let A: string;
let B: string;
let C: string;
let e4: string;
let e1: string;

beforeAll(async () => {
  const db = database.db;
  A = await user(db, '가');
  B = await user(db, '나');
  C = await user(db, '다');

  // The previous week: two entries, scores 1.0 and 0.5 (avg 0.75), 2 days.
  await analyse(db, await entry(db, A, kst('2026-11-20T08:00')), { flow: [['joy', 1]] });
  await analyse(db, await entry(db, A, kst('2026-11-22T12:00')), { flow: [['calm', 0.5]] });

  // This week.
  e1 = await entry(db, A, kst('2026-11-23T09:00'));
  await analyse(db, e1, {
    flow: [
      ['joy', 0.8],
      ['calm', 0.4],
    ],
    keywords: ['산책', '커피', '친구'],
    summary: 'S1',
    ethics: ['self_harm'], // private: never in the report (and never its representative sentence)
  }); // (0.8 + 0.4) / 2 = 0.6
  const e2 = await entry(db, A, new Date(kst('2026-11-25T00:00').getTime() - 1)); // Tue 23:59:59.999
  await analyse(db, e2, {
    flow: [
      ['sadness', 0.6],
      ['neutral', 0.2],
    ],
    keywords: ['커피', '야근', '피곤'],
    summary: 'S2',
  }); // (−0.6 + 0) / 2 = −0.3
  const e3 = await entry(db, A, kst('2026-11-25T00:00'));
  await analyse(db, e3, {
    flow: [['anger', 1]],
    keywords: ['분노'],
    summary: 'OLD',
    createdAt: kst('2026-11-25T01:00'),
  });
  await analyse(db, e3, {
    flow: [
      ['hope', 0.5],
      ['joy', 0.3],
      ['anxiety', 0.4],
    ],
    keywords: ['커피', ' 산책 ', '희망'],
    summary: 'S3',
    createdAt: kst('2026-11-26T01:00'),
  }); // the newest: (0.5 + 0.3 − 0.4) / 3 = 0.133333
  e4 = await entry(db, A, kst('2026-11-25T20:00')); // not analysed
  const e5 = await entry(db, A, kst('2026-11-27T10:00'), 'blocked');
  await analyse(db, e5, { flow: [['despair', 1]], keywords: ['차단됨'], summary: 'BLOCKED' });
  const e6 = await entry(db, A, kst('2026-11-29T23:00'));
  await analyse(db, e6, { flow: [['exhaustion', 0.9]], keywords: ['야근'], summary: 'S6' }); // −0.9
  // Next week (the exclusive end): not counted.
  await analyse(db, await entry(db, A, kst('2026-11-30T00:00')), { flow: [['joy', 1]], summary: 'NEXT' });

  // B: only a blocked entry this week. C: entries, none analysed.
  await entry(db, B, kst('2026-11-24T10:00'), 'blocked');
  await entry(db, C, kst('2026-11-23T00:00'));
  await entry(db, C, kst('2026-11-24T00:00'));
});

describe('a weekly build', () => {
  it('computes every key of the summary as worked out by hand', async () => {
    const result = await buildPeriod(database.db, week, { chunkSize: 2 });
    expect(result).toMatchObject({ reports: 2, written: 2, inserted: 2, removed: 0 });
    const [a] = await reportsOf(database.db, A);
    expect(a).toMatchObject({ period_type: 'weekly', period_start: '2026-11-23', period_end: '2026-11-30' });
    expect(a!.summary).toEqual({
      schema_version: 1,
      entries: 5,
      analysed_entries: 4,
      days_written: 4,
      longest_streak_days: 3,
      // (0.6 − 0.3 + 0.133333 − 0.9) / 4 = −0.11666675
      emotion_score: { avg: -0.117, max: 0.6, min: -0.9 },
      // 8 steps: joy twice.
      emotions: [
        { emotion: 'joy', share: 0.25 },
        { emotion: 'anxiety', share: 0.125 },
        { emotion: 'calm', share: 0.125 },
        { emotion: 'exhaustion', share: 0.125 },
        { emotion: 'hope', share: 0.125 },
        { emotion: 'neutral', share: 0.125 },
        { emotion: 'sadness', share: 0.125 },
      ],
      keywords: [
        { keyword: '커피', count: 3 },
        { keyword: '산책', count: 2 },
        { keyword: '야근', count: 2 },
        { keyword: '친구', count: 1 },
        { keyword: '피곤', count: 1 },
      ],
      representative: { sentence: 'S6', date: '2026-11-29', score: -0.9 },
      waveform: { unit: 'day', start: '2026-11-23', points: [0.6, -0.3, 0.133, null, null, null, -0.9] },
      change: {
        previous: { entries: 2, days_written: 2, avg_score: 0.75 },
        entries: 3,
        days_written: 2,
        avg_score: -0.867,
      },
    });
    expect(parseSummary(a!.summary)).toBeTruthy();
  });

  it('gives a user with unanalysed entries a report without scores, and none to a user with nothing visible', async () => {
    const [c] = await reportsOf(database.db, C);
    expect(c!.summary).toMatchObject({
      entries: 2,
      analysed_entries: 0,
      days_written: 2,
      longest_streak_days: 2,
      emotion_score: null,
      emotions: [],
      keywords: [],
      representative: null,
      waveform: { unit: 'day', start: '2026-11-23', points: [null, null, null, null, null, null, null] },
      change: null,
    });
    expect(parseSummary(c!.summary)).toBeTruthy();
    expect(await reportsOf(database.db, B)).toEqual([]);
  });

  it('never carries private metadata, ethics or slip data, questions, interpretations or diary text', async () => {
    const text = JSON.stringify(await reportsOf(database.db));
    for (const marker of [
      'PRIVATE-METADATA-MARKER',
      'tier_a',
      'valence',
      'self_harm',
      'slip',
      'QUESTION-MARKER',
      'INTERPRETATION-MARKER',
      'DIARY-TEXT-MARKER',
      'BLOCKED',
      '차단됨',
      'OLD',
      'NEXT',
    ]) {
      expect(text).not.toContain(marker);
    }
  });

  it('clears the staleness marks of what it built, and a rebuild that changes nothing writes nothing', async () => {
    expect(
      (await staleMarks(database.db, A)).filter(
        (m) => m.period_type === 'weekly' && m.period_start === '2026-11-23',
      ),
    ).toEqual([]);
    const before = await reportsOf(database.db);
    const again = await buildPeriod(database.db, week, { chunkSize: 1 });
    expect(again).toMatchObject({ reports: 2, written: 0, inserted: 0, removed: 0 });
    const after = await reportsOf(database.db);
    expect(after).toEqual(before); // same updated_at, same xmin: the rows were not touched
  });

  it('marks a late analysis stale; the rebuild takes it in; a blocked entry leaves; an emptied period loses its report', async () => {
    const db = database.db;
    await analyse(db, e4, { flow: [['pride', 1]], summary: 'LATE' });
    const marks = await staleMarks(db, A);
    expect(marks).toEqual(
      expect.arrayContaining([
        { user_id: A, period_type: 'daily', period_start: '2026-11-25' },
        { user_id: A, period_type: 'daily', period_start: '2026-11-26' },
        { user_id: A, period_type: 'weekly', period_start: '2026-11-23' },
        { user_id: A, period_type: 'weekly', period_start: '2026-11-30' },
        { user_id: A, period_type: 'monthly', period_start: '2026-11-01' },
        { user_id: A, period_type: 'monthly', period_start: '2026-12-01' },
        { user_id: A, period_type: 'yearly', period_start: '2026-01-01' },
        { user_id: A, period_type: 'yearly', period_start: '2027-01-01' },
      ]),
    );
    const only = await buildChunk(db, week, { after: FIRST_USER, upto: A, only: A });
    expect(only).toMatchObject({ reports: 1, written: 1, inserted: 0, cleared: 1 });
    let [a] = await reportsOf(db, A);
    // e3 0.133333 and e4 1.0 on the 25th: (0.133333 + 1) / 2 = 0.5666665
    expect(a!.summary).toMatchObject({
      analysed_entries: 5,
      emotion_score: { avg: 0.107, max: 1, min: -0.9 },
      waveform: { points: [0.6, -0.3, 0.567, null, null, null, -0.9] },
    });

    await db.updateTable('diary_entries').set({ moderation_state: 'blocked' }).where('id', '=', e1).execute();
    expect(
      (await staleMarks(db, A)).some((m) => m.period_type === 'weekly' && m.period_start === '2026-11-23'),
    ).toBe(true);
    await buildPeriod(db, week);
    [a] = await reportsOf(db, A);
    expect(a!.summary).toMatchObject({ entries: 4, days_written: 3, longest_streak_days: 2 });
    expect(JSON.stringify(a!.summary)).not.toContain('S1');

    await sql`delete from public.diary_entries where user_id = ${C}`.execute(db);
    const removed = await buildPeriod(db, week);
    expect(removed).toMatchObject({ reports: 1, removed: 1 });
    expect(await reportsOf(db, C)).toEqual([]);
  });

  it('key rotation (content_enc rewritten) marks nothing', async () => {
    const db = database.db;
    await sql`delete from sumda.report_stale`.execute(db);
    await sql`update public.diary_entries set content_enc = content_enc where user_id = ${A}`.execute(db);
    expect(await staleMarks(db)).toEqual([]);
  });
});

describe('who and what a report leaves out', () => {
  const october = periodContaining('weekly', kst('2026-10-07T12:00')); // Mon 2026-10-05 … 10-12

  it('never picks an entry flagged with an ethics tag as the representative sentence; its score still counts', async () => {
    const db = database.db;
    const mixed = await user(db, '혼합');
    await analyse(db, await entry(db, mixed, kst('2026-10-05T21:00')), {
      flow: [['despair', 1]],
      summary: 'FLAGGED-PEAK',
      ethics: ['self_harm'],
    }); // −1: the largest |score|, flagged
    await analyse(db, await entry(db, mixed, kst('2026-10-06T21:00')), {
      flow: [['anger', 0.8]],
      summary: 'FLAGGED-ANGER',
      ethics: ['violence'],
    }); // −0.8, flagged with another tag
    await analyse(db, await entry(db, mixed, kst('2026-10-07T21:00')), {
      flow: [['joy', 0.4]],
      summary: 'PLAIN',
    });
    const onlyFlagged = await user(db, '플래그');
    await analyse(db, await entry(db, onlyFlagged, kst('2026-10-08T21:00')), {
      flow: [['sadness', 0.5]],
      summary: 'FLAGGED-ONLY',
      ethics: ['self_harm_intent'],
    });

    await buildPeriod(db, october);
    const [m] = await reportsOf(db, mixed);
    expect(m!.summary).toMatchObject({
      analysed_entries: 3,
      emotion_score: { avg: -0.467, max: 0.4, min: -1 }, // (−1 − 0.8 + 0.4) / 3
      representative: { sentence: 'PLAIN', date: '2026-10-07', score: 0.4 },
    });
    const [f] = await reportsOf(db, onlyFlagged);
    expect(f!.summary).toMatchObject({
      analysed_entries: 1,
      emotion_score: { avg: -0.5 },
      representative: null,
    });
    expect(JSON.stringify([m, f])).not.toMatch(/FLAGGED|self_harm|violence/);
  });

  it('builds nothing for banned or resigned accounts, and a rebuild leaves the reports they have', async () => {
    const db = database.db;
    const banned = await user(db, '차단');
    const resigned = await user(db, '탈퇴');
    const later = await user(db, '나중차단');
    for (const u of [banned, resigned, later]) {
      await analyse(db, await entry(db, u, kst('2026-10-06T09:00')), { flow: [['calm', 0.5]] });
    }
    await sql`update public.users set state = 'banned' where id = ${banned}`.execute(db);
    await sql`update public.users set state = 'resigned' where id = ${resigned}`.execute(db);

    await buildPeriod(db, october);
    expect(await reportsOf(db, banned)).toEqual([]);
    expect(await reportsOf(db, resigned)).toEqual([]);
    const [kept] = await reportsOf(db, later);
    expect(kept).toBeDefined();

    await sql`update public.users set state = 'banned' where id = ${later}`.execute(db);
    const rebuilt = await buildPeriod(db, october);
    expect(rebuilt.removed).toBe(0);
    expect(await reportsOf(db, later)).toEqual([kept]);
  });
});

describe('other period types', () => {
  it('daily: one waveform point per entry in writing order; monthly: one per day; yearly: one per month', async () => {
    const db = database.db;
    const D = await user(db, '라');
    await analyse(db, await entry(db, D, kst('2026-02-10T22:00')), { flow: [['sadness', 0.5]] });
    await analyse(db, await entry(db, D, kst('2026-02-10T07:00')), { flow: [['joy', 0.5]] });
    await analyse(db, await entry(db, D, kst('2026-03-31T23:59')), { flow: [['calm', 1]] });

    const day = periodContaining('daily', kst('2026-02-10T12:00'));
    await buildPeriod(db, day, { userId: D });
    const month = periodContaining('monthly', kst('2026-02-10T12:00'));
    await buildPeriod(db, month, { userId: D });
    const year = periodContaining('yearly', kst('2026-02-10T12:00'));
    await buildPeriod(db, year, { userId: D });
    const rows = await reportsOf(db, D);
    const by = Object.fromEntries(rows.map((r) => [r.period_type, r]));
    expect(by.daily).toMatchObject({ period_start: '2026-02-10', period_end: '2026-02-11' });
    expect(by.daily!.summary.waveform).toEqual({ unit: 'entry', start: '2026-02-10', points: [0.5, -0.5] });
    expect(by.monthly).toMatchObject({ period_start: '2026-02-01', period_end: '2026-03-01' });
    const monthly = by.monthly!.summary.waveform as { points: (number | null)[] };
    expect(monthly.points).toHaveLength(28);
    expect(monthly.points[9]).toBe(0);
    expect(by.yearly).toMatchObject({ period_start: '2026-01-01', period_end: '2027-01-01' });
    expect(by.yearly!.summary.waveform).toEqual({
      unit: 'month',
      start: '2026-01-01',
      points: [null, 0, 1, null, null, null, null, null, null, null, null, null],
    });
    for (const r of rows) expect(parseSummary(r.summary)).toBeTruthy();
  });
});
