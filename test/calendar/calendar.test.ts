/**
 * The Asia/Seoul calendar by hand: year ends, leap days, ISO weeks across a new year, the
 * milliseconds either side of midnight in Seoul and in UTC, next/previous periods, the billing
 * month clamp, ISO formatting, and the edges of the supported range. (The property test against
 * PostgreSQL's own time zone arithmetic is in postgres-oracle.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import {
  addDays,
  addMonths,
  formatInstant,
  nextPeriod,
  PERIOD_TYPES,
  type PeriodType,
  parseCalendarDate,
  periodContaining,
  periodStartingOn,
  previousPeriod,
  SUPPORTED_FROM,
  SUPPORTED_UNTIL,
  seoulDate,
  seoulTime,
  startOfSeoulDay,
} from '../../src/time/calendar.ts';

const at = (iso: string) => new Date(iso);
const dates = (type: PeriodType, instant: string) => {
  const p = periodContaining(type, at(instant));
  return [p.startDate, p.endDate];
};

describe('the Seoul date of an instant', () => {
  it('is nine hours ahead of UTC, to the millisecond either side of midnight', () => {
    // Midnight in Seoul is 15:00 UTC the day before.
    expect(seoulDate(at('2026-11-24T14:59:59.999Z'))).toBe('2026-11-24');
    expect(seoulDate(at('2026-11-24T15:00:00.000Z'))).toBe('2026-11-25');
    expect(seoulDate(at('2026-11-25T00:00:00+09:00'))).toBe('2026-11-25');
    expect(seoulDate(at('2026-11-24T23:59:59.999+09:00'))).toBe('2026-11-24');
    // Midnight UTC is 09:00 in Seoul: the Seoul date does not change there.
    expect(seoulDate(at('2026-11-24T23:59:59.999Z'))).toBe('2026-11-25');
    expect(seoulDate(at('2026-11-25T00:00:00.000Z'))).toBe('2026-11-25');
  });

  it('turns the year at Seoul midnight, 12-31 → 01-01', () => {
    expect(seoulDate(at('2026-12-31T14:59:59.999Z'))).toBe('2026-12-31');
    expect(seoulDate(at('2026-12-31T15:00:00.000Z'))).toBe('2027-01-01');
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2027-01-01', -1)).toBe('2026-12-31');
  });

  it('knows the leap days of 2024 and 2028, and that 2100 has none', () => {
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2024-02-29', 1)).toBe('2024-03-01');
    expect(addDays('2028-02-28', 1)).toBe('2028-02-29');
    expect(addDays('2027-02-28', 1)).toBe('2027-03-01');
    expect(addDays('2100-02-28', 1)).toBe('2100-03-01');
    expect(addDays('2000-02-28', 1)).toBe('2000-02-29');
    expect(seoulDate(at('2028-02-28T15:00:00Z'))).toBe('2028-02-29');
    expect(parseCalendarDate('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(parseCalendarDate('2027-02-29')).toBeNull();
    expect(parseCalendarDate('2100-02-29')).toBeNull();
  });

  it('reads the wall clock field by field, with the ISO weekday', () => {
    expect(seoulTime(at('2026-11-25T06:07:08.009Z'))).toEqual({
      year: 2026,
      month: 11,
      day: 25,
      hour: 15,
      minute: 7,
      second: 8,
      millisecond: 9,
      weekday: 3, // a Wednesday
    });
    expect(seoulTime(at('2026-11-29T23:00:00+09:00')).weekday).toBe(7);
    expect(seoulTime(at('2026-11-30T00:00:00+09:00')).weekday).toBe(1);
  });

  it('starts a calendar day at Seoul midnight and refuses dates that do not exist', () => {
    expect(startOfSeoulDay('2026-11-25').toISOString()).toBe('2026-11-24T15:00:00.000Z');
    expect(() => startOfSeoulDay('2026-02-30')).toThrow(RangeError);
    expect(() => startOfSeoulDay('2026-11-25T00:00')).toThrow(RangeError);
    expect(() => addDays('26-11-25', 1)).toThrow(RangeError);
  });
});

describe('periods', () => {
  it('a day runs from Seoul midnight to the next, either side of midnight KST and UTC', () => {
    expect(dates('daily', '2026-11-24T14:59:59.999Z')).toEqual(['2026-11-24', '2026-11-25']);
    expect(dates('daily', '2026-11-24T15:00:00.000Z')).toEqual(['2026-11-25', '2026-11-26']);
    expect(dates('daily', '2026-11-24T23:59:59.999Z')).toEqual(['2026-11-25', '2026-11-26']);
    expect(dates('daily', '2026-11-25T00:00:00.000Z')).toEqual(['2026-11-25', '2026-11-26']);
    const day = periodContaining('daily', at('2026-11-25T12:00:00+09:00'));
    expect(day.start.toISOString()).toBe('2026-11-24T15:00:00.000Z');
    expect(day.end.toISOString()).toBe('2026-11-25T15:00:00.000Z');
  });

  it('the end is exclusive: the instant at the end belongs to the next period', () => {
    for (const type of PERIOD_TYPES) {
      const p = periodContaining(type, at('2026-11-25T12:00:00+09:00'));
      expect(periodContaining(type, p.start)).toEqual(p);
      expect(periodContaining(type, new Date(p.end.getTime() - 1))).toEqual(p);
      expect(periodContaining(type, p.end)).toEqual(nextPeriod(p));
    }
  });

  it('a week is the ISO week from Monday 00:00, across a new year', () => {
    // 2026-11-25 is a Wednesday.
    expect(dates('weekly', '2026-11-25T12:00:00+09:00')).toEqual(['2026-11-23', '2026-11-30']);
    // Monday 00:00 KST starts a week; a millisecond before is still Sunday's week.
    expect(dates('weekly', '2026-11-30T00:00:00+09:00')).toEqual(['2026-11-30', '2026-12-07']);
    expect(dates('weekly', '2026-11-29T23:59:59.999+09:00')).toEqual(['2026-11-23', '2026-11-30']);
    // Sunday 15:00 UTC is already Monday in Seoul.
    expect(dates('weekly', '2026-11-29T15:00:00Z')).toEqual(['2026-11-30', '2026-12-07']);
    // 2027-01-01 is a Friday: its ISO week began on Monday 2026-12-28 (ISO 2026-W53).
    expect(dates('weekly', '2027-01-01T00:00:00+09:00')).toEqual(['2026-12-28', '2027-01-04']);
    // 2025-12-31 is a Wednesday in ISO 2026-W01, which began 2025-12-29.
    expect(dates('weekly', '2025-12-31T23:59:59.999+09:00')).toEqual(['2025-12-29', '2026-01-05']);
    // 2024-12-30 (Monday) starts 2025-W01; 2021-01-03 (Sunday) ends 2020-W53.
    expect(dates('weekly', '2025-01-01T08:00:00+09:00')).toEqual(['2024-12-30', '2025-01-06']);
    expect(dates('weekly', '2021-01-03T23:00:00+09:00')).toEqual(['2020-12-28', '2021-01-04']);
    // A week containing a leap day.
    expect(dates('weekly', '2028-02-29T12:00:00+09:00')).toEqual(['2028-02-28', '2028-03-06']);
  });

  it('a month and a year start on the 1st, leap Februaries included', () => {
    expect(dates('monthly', '2024-02-29T23:59:59.999+09:00')).toEqual(['2024-02-01', '2024-03-01']);
    expect(dates('monthly', '2024-02-29T15:00:00Z')).toEqual(['2024-03-01', '2024-04-01']);
    expect(dates('monthly', '2028-02-29T00:00:00+09:00')).toEqual(['2028-02-01', '2028-03-01']);
    expect(dates('monthly', '2026-12-31T23:59:59.999+09:00')).toEqual(['2026-12-01', '2027-01-01']);
    expect(dates('yearly', '2026-12-31T14:59:59.999Z')).toEqual(['2026-01-01', '2027-01-01']);
    expect(dates('yearly', '2026-12-31T15:00:00.000Z')).toEqual(['2027-01-01', '2028-01-01']);
    // Midnight UTC on New Year's Day is 09:00 in Seoul: the same year.
    expect(dates('yearly', '2027-01-01T00:00:00Z')).toEqual(['2027-01-01', '2028-01-01']);
    expect(dates('monthly', '2027-01-01T00:00:00Z')).toEqual(['2027-01-01', '2027-02-01']);
  });

  it('next and previous walk the calendar without gaps or overlaps', () => {
    for (const type of PERIOD_TYPES) {
      let p = periodContaining(type, at('2023-12-15T00:00:00+09:00'));
      for (let i = 0; i < 60; i++) {
        const next = nextPeriod(p);
        expect(next.start).toEqual(p.end);
        expect(next.startDate).toBe(p.endDate);
        expect(previousPeriod(next)).toEqual(p);
        p = next;
      }
    }
    const feb = periodContaining('monthly', at('2024-03-10T00:00:00+09:00'));
    expect(previousPeriod(feb).startDate).toBe('2024-02-01');
    expect(previousPeriod(feb).endDate).toBe('2024-03-01');
    expect(previousPeriod(periodContaining('yearly', at('2027-06-01T00:00:00+09:00'))).startDate).toBe(
      '2026-01-01',
    );
  });

  it('a period read back from reports.period_start must start there', () => {
    expect(periodStartingOn('weekly', '2026-11-23')).toEqual(
      periodContaining('weekly', at('2026-11-25T00:00:00+09:00')),
    );
    expect(periodStartingOn('monthly', '2026-02-01').endDate).toBe('2026-03-01');
    expect(() => periodStartingOn('weekly', '2026-11-25')).toThrow('does not start a weekly period');
    expect(() => periodStartingOn('monthly', '2026-02-02')).toThrow(RangeError);
    expect(() => periodStartingOn('yearly', '2026-02-01')).toThrow(RangeError);
  });
});

describe('addMonths (billing anniversaries)', () => {
  const anchor = at('2024-01-31T10:30:00+09:00');
  const seq = (from: Date, n: number) =>
    Array.from({ length: n }, (_, i) => formatInstant(addMonths(from, i + 1)));

  it('clamps to the month end from the original anchor: Jan 31 → Feb 29 → Mar 31 …', () => {
    expect(seq(anchor, 13)).toEqual([
      '2024-02-29T10:30:00+09:00',
      '2024-03-31T10:30:00+09:00',
      '2024-04-30T10:30:00+09:00',
      '2024-05-31T10:30:00+09:00',
      '2024-06-30T10:30:00+09:00',
      '2024-07-31T10:30:00+09:00',
      '2024-08-31T10:30:00+09:00',
      '2024-09-30T10:30:00+09:00',
      '2024-10-31T10:30:00+09:00',
      '2024-11-30T10:30:00+09:00',
      '2024-12-31T10:30:00+09:00',
      '2025-01-31T10:30:00+09:00',
      '2025-02-28T10:30:00+09:00',
    ]);
    // Chaining would drift to the 29th: computing from the anchor does not.
    expect(formatInstant(addMonths(addMonths(anchor, 1), 1))).toBe('2024-03-29T10:30:00+09:00');
  });

  it('the Seoul day counts, not the UTC one, and backwards works too', () => {
    // 2026-01-31 00:30 KST is still January 30th in UTC.
    const early = at('2026-01-31T00:30:00+09:00');
    expect(formatInstant(addMonths(early, 1))).toBe('2026-02-28T00:30:00+09:00');
    expect(formatInstant(addMonths(early, 25))).toBe('2028-02-29T00:30:00+09:00');
    expect(formatInstant(addMonths(at('2024-03-31T23:59:59.999+09:00'), -1))).toBe(
      '2024-02-29T23:59:59.999+09:00',
    );
    expect(formatInstant(addMonths(at('2024-02-29T12:00:00+09:00'), 12))).toBe('2025-02-28T12:00:00+09:00');
    expect(formatInstant(addMonths(at('2024-02-29T12:00:00+09:00'), 48))).toBe('2028-02-29T12:00:00+09:00');
    expect(formatInstant(addMonths(at('2026-12-15T09:00:00+09:00'), 0))).toBe('2026-12-15T09:00:00+09:00');
    expect(() => addMonths(anchor, 1.5)).toThrow(RangeError);
  });
});

describe('formatInstant', () => {
  it('writes ISO 8601 at +09:00, milliseconds only when there are some', () => {
    expect(formatInstant(at('2026-11-24T15:00:00Z'))).toBe('2026-11-25T00:00:00+09:00');
    expect(formatInstant(at('2026-12-31T14:59:59.999Z'))).toBe('2026-12-31T23:59:59.999+09:00');
    expect(formatInstant(at('2026-01-01T00:00:00.050Z'))).toBe('2026-01-01T09:00:00.050+09:00');
    // And it reads back as the same instant.
    const instant = at('2027-03-04T05:06:07.089Z');
    expect(new Date(formatInstant(instant)).getTime()).toBe(instant.getTime());
  });
});

describe('the supported range', () => {
  it('starts on 1989-01-01 KST and ends before the year 10000', () => {
    expect(formatInstant(SUPPORTED_FROM)).toBe('1989-01-01T00:00:00+09:00');
    expect(seoulDate(new Date(SUPPORTED_UNTIL.getTime() - 1))).toBe('9999-12-31');
    expect(() => seoulDate(new Date(SUPPORTED_FROM.getTime() - 1))).toThrow(RangeError);
    expect(() => seoulDate(SUPPORTED_UNTIL)).toThrow(RangeError);
    // Summer time 1987–88 (+10:00) is outside: no silent answer with the wrong offset.
    expect(() => periodContaining('daily', at('1988-07-01T00:00:00+10:00'))).toThrow(/supported range/);
    expect(() => formatInstant(new Date(Number.NaN))).toThrow('an invalid date');
  });

  it('the year before the range is still a correct previous period (its midnights were +09:00)', () => {
    const first = periodContaining('yearly', SUPPORTED_FROM);
    expect(previousPeriod(first)).toMatchObject({
      startDate: '1988-01-01',
      endDate: '1989-01-01',
      start: at('1988-01-01T00:00:00+09:00'),
    });
  });
});
