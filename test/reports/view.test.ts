/**
 * Looking at reports: the sparkline and bars, `report show` (text and --json, unknown user or
 * missing report → exit 2) and `report stats` (users, average score, positive share and its shift,
 * writing frequency) over reports built from fixtures. The text report goes through the real
 * subprocess; the other command lines run in-process.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildPeriod } from '../../src/reports/build.ts';
import { bar, reportStats, sparkline } from '../../src/reports/view.ts';
import { periodContaining } from '../../src/time/calendar.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';
import { analyse, entry, kst, user } from './support.ts';

const database = useTestDatabase();
let A: string;
let B: string;

beforeAll(async () => {
  const db = database.db;
  A = await user(db, '보기');
  B = await user(db, '통계');
  // Week of 11-16: A joy 1.0; B sadness 0.5. Week of 11-23: A joy 0.5 and anger 1.0 on two days; B nothing.
  await analyse(db, await entry(db, A, kst('2026-11-17T21:00')), {
    flow: [['joy', 1]],
    keywords: ['산책'],
    summary: '가벼운 산책',
  });
  await analyse(db, await entry(db, B, kst('2026-11-18T21:00')), { flow: [['sadness', 0.5]] });
  await analyse(db, await entry(db, A, kst('2026-11-23T21:00')), {
    flow: [['joy', 0.5]],
    keywords: ['커피', '산책'],
    summary: '커피 한 잔',
  });
  await analyse(db, await entry(db, A, kst('2026-11-25T21:00')), {
    flow: [['anger', 1]],
    keywords: ['야근'],
    summary: '화가 난 야근',
  });
  for (const at of ['2026-11-17T12:00', '2026-11-24T12:00'])
    await buildPeriod(db, periodContaining('weekly', kst(at)));
});

describe('rendering', () => {
  it('sparkline: eight levels over −1 … 1, a dot where nothing was analysed; bars by share', () => {
    expect(sparkline([-1, -0.5, 0, 0.5, 1, null])).toBe('▁▃▅▇█·');
    expect(bar(0.25, 8)).toBe('██░░░░░░');
  });
});

describe('report show', () => {
  it('prints the waveform, emotions, keywords, sentence and change; --json is the stored summary', async () => {
    const env = { DATABASE_URL: database.url };
    const text = await runSumda(['report', 'show', '--user', A, '--period', 'weekly', '--at', '2026-11-24'], {
      env,
    });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('weekly report of 보기');
    expect(text.stdout).toContain('waveform  ▇·▁····');
    expect(text.stdout).toMatch(/anger\s+█{10}░{10} 50%/);
    expect(text.stdout).toContain('keywords  산책 ×1, 야근 ×1, 커피 ×1');
    expect(text.stdout).toContain('“화가 난 야근” (2026-11-25, score -1)');
    expect(text.stdout).toContain(
      'change    vs last week: entries +1 (was 1), days +1 (was 1), avg score -1.25 (was 1)',
    );
    const json = await sumda(
      ['report', 'show', '--user', A, '--period', 'weekly', '--at', '2026-11-24', '--json'],
      { env },
    );
    expect(JSON.parse(json.stdout)).toMatchObject({
      periodStart: '2026-11-23',
      summary: { entries: 2, emotion_score: { avg: -0.25 } },
    });
    const none = await sumda(['report', 'show', '--user', B, '--period', 'weekly', '--at', '2026-11-24'], {
      env,
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: no weekly report of user/);
    const nobody = await sumda(['report', 'show', '--user', 'not-a-user', '--period', 'weekly'], { env });
    expect(nobody.code).toBe(2);
  }, 90_000);
});

describe('report stats', () => {
  it('users, average score, positive share and its shift, writing frequency, per week', async () => {
    const rows = await reportStats(database.db, 'weekly', '2026-11-01');
    expect(rows).toEqual([
      {
        period_start: '2026-11-16',
        users: 2,
        avg_score: 0.25,
        positive_share: 0.5,
        positive_shift: null,
        avg_entries: 1,
        avg_days_written: 1,
        top_emotion: 'joy',
      },
      {
        period_start: '2026-11-23',
        users: 1,
        avg_score: -0.25,
        positive_share: 0.5,
        positive_shift: 0,
        avg_entries: 2,
        avg_days_written: 2,
        top_emotion: 'anger',
      },
    ]);
  });
});
