/**
 * Report periods as operators type and read them, on the one calendar module (src/time/calendar.ts):
 * parsing a period type, the period containing an instant in its printed form, and the periods a
 * date range covers (what a backfill builds).
 */
import { UsageError } from '../errors.ts';
import {
  formatInstant,
  nextPeriod,
  PERIOD_TYPES,
  type Period,
  type PeriodType,
  parseCalendarDate,
  periodContaining,
  SUPPORTED_FROM,
  SUPPORTED_UNTIL,
  startOfSeoulDay,
} from '../time/calendar.ts';
import { quote } from '../util/quote.ts';

export type { Period, PeriodType };
export { PERIOD_TYPES };

export function parsePeriodType(text: string, flag = '--type'): PeriodType {
  if ((PERIOD_TYPES as readonly string[]).includes(text)) return text as PeriodType;
  throw new UsageError(`${flag} ${quote(text)}: one of ${PERIOD_TYPES.join(', ')}`);
}

/** An instant within the calendar's range, or a UsageError naming the flag. */
export function checkInstant(at: Date, flag: string): Date {
  if (!(at.getTime() >= SUPPORTED_FROM.getTime() && at.getTime() < SUPPORTED_UNTIL.getTime())) {
    throw new UsageError(`${flag}: ${at.toISOString()} is outside 1989-01-01 … 9999-12-31 (Asia/Seoul)`);
  }
  return at;
}

/** A Seoul calendar date typed by an operator (`2026-11-25`). */
export function parseDateFlag(text: string, flag: string): string {
  if (!parseCalendarDate(text))
    throw new UsageError(`${flag} ${quote(text)}: not a calendar date (YYYY-MM-DD)`);
  checkInstant(startOfSeoulDay(text), flag);
  return text;
}

/** What `report period` prints: the type and the bounds as ISO 8601 instants with the +09:00 offset. */
export interface PrintedPeriod {
  type: PeriodType;
  /** Inclusive. */
  start: string;
  /** Exclusive. */
  end: string;
}

export function printedPeriod(period: Period): PrintedPeriod {
  return { type: period.type, start: formatInstant(period.start), end: formatInstant(period.end) };
}

export function periodAt(type: PeriodType, at: Date): Period {
  return periodContaining(type, checkInstant(at, '--at'));
}

/** Every period of a type that contains a day from `fromDate` to `toDate` (both inclusive, Seoul days). */
export function periodsCovering(type: PeriodType, fromDate: string, toDate: string): Period[] {
  const last = periodContaining(type, startOfSeoulDay(toDate));
  const out: Period[] = [];
  for (let p = periodContaining(type, startOfSeoulDay(fromDate)); p.start <= last.start; p = nextPeriod(p)) {
    out.push(p);
  }
  return out;
}
