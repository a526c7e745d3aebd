/**
 * Report periods: the boundaries the seed asks for (12-31 → 01-01, 2024-02-29 and 2028-02-29, ISO
 * weeks straddling a new year, a millisecond either side of midnight KST and of midnight UTC), a
 * property test of thousands of random instants against PostgreSQL's own
 * `date_trunc(field, ts, 'Asia/Seoul')` as the oracle, the range a backfill covers, and
 * `sumda report period` itself (its JSON, its bad input → exit 2).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { periodAt, periodsCovering, printedPeriod } from '../../src/reports/periods.ts';
import { createRng } from '../../src/seed/corpus.ts';
import { nextPeriod, PERIOD_TYPES, type PeriodType, previousPeriod } from '../../src/time/calendar.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const at = (iso: string) => new Date(iso);
const printed = (type: PeriodType, iso: string) => printedPeriod(periodAt(type, at(iso)));

describe('boundaries', () => {
  it('12-31 → 01-01 for every type', () => {
    const before = '2026-12-31T23:59:59.999+09:00';
    const after = '2027-01-01T00:00:00.000+09:00';
    expect(printed('daily', before)).toEqual({
      type: 'daily',
      start: '2026-12-31T00:00:00+09:00',
      end: '2027-01-01T00:00:00+09:00',
    });
    expect(printed('daily', after).start).toBe('2027-01-01T00:00:00+09:00');
    expect(printed('monthly', before)).toMatchObject({
      start: '2026-12-01T00:00:00+09:00',
      end: '2027-01-01T00:00:00+09:00',
    });
    expect(printed('monthly', after)).toMatchObject({
      start: '2027-01-01T00:00:00+09:00',
      end: '2027-02-01T00:00:00+09:00',
    });
    expect(printed('yearly', before)).toMatchObject({
      start: '2026-01-01T00:00:00+09:00',
      end: '2027-01-01T00:00:00+09:00',
    });
    expect(printed('yearly', after)).toMatchObject({
      start: '2027-01-01T00:00:00+09:00',
      end: '2028-01-01T00:00:00+09:00',
    });
  });

  it('leap days: 2024-02-29 and 2028-02-29', () => {
    expect(printed('daily', '2024-02-29T12:00:00+09:00')).toMatchObject({
      start: '2024-02-29T00:00:00+09:00',
      end: '2024-03-01T00:00:00+09:00',
    });
    expect(printed('monthly', '2024-02-29T23:59:59.999+09:00')).toMatchObject({
      start: '2024-02-01T00:00:00+09:00',
      end: '2024-03-01T00:00:00+09:00',
    });
    expect(printed('daily', '2028-02-29T00:00:00+09:00')).toMatchObject({
      start: '2028-02-29T00:00:00+09:00',
      end: '2028-03-01T00:00:00+09:00',
    });
    expect(printed('weekly', '2028-02-29T00:00:00+09:00')).toMatchObject({
      start: '2028-02-28T00:00:00+09:00',
      end: '2028-03-06T00:00:00+09:00',
    });
    expect(printed('monthly', '2025-02-28T10:00:00+09:00').end).toBe('2025-03-01T00:00:00+09:00');
  });

  it('ISO weeks that straddle a new year start on Monday in the old year (or the new)', () => {
    // 2026-01-01 is a Thursday: its ISO week (2026-W01) starts Monday 2025-12-29.
    expect(printed('weekly', '2026-01-01T00:00:00+09:00')).toMatchObject({
      start: '2025-12-29T00:00:00+09:00',
      end: '2026-01-05T00:00:00+09:00',
    });
    // 2027-01-03 is a Sunday: still the week of Monday 2026-12-28 (2026-W53).
    expect(printed('weekly', '2027-01-03T23:59:59.999+09:00')).toMatchObject({
      start: '2026-12-28T00:00:00+09:00',
      end: '2027-01-04T00:00:00+09:00',
    });
    // 2024-01-01 is itself a Monday.
    expect(printed('weekly', '2024-01-01T00:00:00+09:00').start).toBe('2024-01-01T00:00:00+09:00');
    expect(printed('weekly', '2023-12-31T23:59:59.999+09:00').start).toBe('2023-12-25T00:00:00+09:00');
  });

  it('a millisecond either side of midnight KST and of midnight UTC', () => {
    expect(printed('daily', '2026-11-24T14:59:59.999Z').start).toBe('2026-11-24T00:00:00+09:00');
    expect(printed('daily', '2026-11-24T15:00:00.000Z').start).toBe('2026-11-25T00:00:00+09:00');
    // Midnight UTC is 09:00 in Seoul: no boundary there.
    expect(printed('daily', '2026-11-24T23:59:59.999Z').start).toBe('2026-11-25T00:00:00+09:00');
    expect(printed('daily', '2026-11-25T00:00:00.000Z').start).toBe('2026-11-25T00:00:00+09:00');
    // Sunday 23:59:59.999 KST vs Monday 00:00 KST.
    expect(printed('weekly', '2026-11-29T14:59:59.999Z').start).toBe('2026-11-23T00:00:00+09:00');
    expect(printed('weekly', '2026-11-29T15:00:00.000Z').start).toBe('2026-11-30T00:00:00+09:00');
  });

  it('next and previous', () => {
    const w = periodAt('weekly', at('2027-01-01T00:00:00+09:00'));
    expect(printedPeriod(nextPeriod(w)).start).toBe('2027-01-04T00:00:00+09:00');
    expect(printedPeriod(previousPeriod(w)).start).toBe('2026-12-21T00:00:00+09:00');
    const m = periodAt('monthly', at('2024-03-15T00:00:00+09:00'));
    expect(printedPeriod(previousPeriod(m))).toMatchObject({
      start: '2024-02-01T00:00:00+09:00',
      end: '2024-03-01T00:00:00+09:00',
    });
  });

  it('the periods a date range covers (what a backfill builds)', () => {
    expect(periodsCovering('weekly', '2026-12-30', '2027-01-11').map((p) => p.startDate)).toEqual([
      '2026-12-28',
      '2027-01-04',
      '2027-01-11',
    ]);
    expect(periodsCovering('monthly', '2024-01-31', '2024-03-01').map((p) => p.startDate)).toEqual([
      '2024-01-01',
      '2024-02-01',
      '2024-03-01',
    ]);
    expect(periodsCovering('daily', '2024-02-28', '2024-03-01').map((p) => p.startDate)).toEqual([
      '2024-02-28',
      '2024-02-29',
      '2024-03-01',
    ]);
  });
});

describe('against PostgreSQL', () => {
  it('agrees with date_trunc(field, ts, Asia/Seoul) on 4,000 random instants, for every type', async () => {
    const rng = createRng(20_261_202);
    const instants: Date[] = [];
    const lo = Date.UTC(1990, 0, 1);
    const hi = Date.UTC(2090, 0, 1);
    for (let i = 0; i < 4000; i++) {
      const t = lo + Math.floor(rng.next() * (hi - lo));
      // Every other instant a millisecond around a Seoul midnight.
      const midnight = Math.floor((t + 9 * 3_600_000) / 86_400_000) * 86_400_000 - 9 * 3_600_000;
      instants.push(new Date(i % 2 === 0 ? t : midnight + (i % 4 === 1 ? -1 : 0)));
    }
    const field: Record<PeriodType, string> = {
      daily: 'day',
      weekly: 'week',
      monthly: 'month',
      yearly: 'year',
    };
    const step: Record<PeriodType, string> = {
      daily: '1 day',
      weekly: '7 days',
      monthly: '1 month',
      yearly: '1 year',
    };
    for (const type of PERIOD_TYPES) {
      const rows = await sql<{ start: Date; end: Date }>`
        select date_trunc(${field[type]}, t, 'Asia/Seoul') as start,
               ((date_trunc(${field[type]}, t, 'Asia/Seoul') at time zone 'Asia/Seoul') + ${step[type]}::interval)
                 at time zone 'Asia/Seoul' as end
        from unnest(${instants.map((d) => d.toISOString())}::timestamptz[]) with ordinality as u(t, n)
        order by n`.execute(database.db);
      const mismatches = instants.flatMap((instant, i) => {
        const p = periodAt(type, instant);
        const oracle = rows.rows[i]!;
        return p.start.getTime() === oracle.start.getTime() && p.end.getTime() === oracle.end.getTime()
          ? []
          : [`${type} ${instant.toISOString()}: ${p.start.toISOString()} vs ${oracle.start.toISOString()}`];
      });
      expect(mismatches).toEqual([]);
    }
  });
});

describe('sumda report period', () => {
  it('prints { type, start, end } as ISO 8601 with the +09:00 offset', async () => {
    const r = await runSumda([
      'report',
      'period',
      '--type',
      'weekly',
      '--at',
      '2027-01-01T00:00:00+09:00',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      type: 'weekly',
      start: '2026-12-28T00:00:00+09:00',
      end: '2027-01-04T00:00:00+09:00',
    });
  });

  it('bad input: unknown type, not an instant, outside the calendar → exit 2 with one line', async () => {
    for (const [i, args] of [
      ['--type', 'fortnight', '--at', '2026-11-25'],
      ['--type', 'daily', '--at', 'yesterday-ish'],
      ['--type', 'daily', '--at', '1980-01-01'],
    ].entries()) {
      // The first case through the real subprocess, the rest in-process.
      const r = await (i === 0 ? runSumda : sumda)(['report', 'period', ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')[0]).toMatch(/^error: --(type|at)/);
    }
  });
});
