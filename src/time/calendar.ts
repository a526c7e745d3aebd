/**
 * The service's calendar: Asia/Seoul. Every "day", "week", "month" and "year" in sumda — report
 * periods, the seed's history, a bare date typed by an operator, billing anniversaries, the date a
 * prompt sees — is a Seoul calendar one, and is computed here.
 *
 * Why plain arithmetic and no Intl: Korea has kept UTC+09:00 without daylight saving since
 * 1988-10-09 03:00 KDT (the tz database, which PostgreSQL ships, lists no later transition:
 * +10:00 summer time in 1987–88, +08:30 in 1954–61, LMT +08:27:52 before 1908). So within the
 * supported range a Seoul wall clock is the UTC clock plus nine hours, and a period boundary is
 * a midnight at +09:00. That makes every function here a few integer operations — the analysis
 * worker asks for the Seoul date of every entry — and lets the tests check it against PostgreSQL's
 * own `date_trunc(field, ts, 'Asia/Seoul')`.
 *
 * Supported range: instants from 1989-01-01T00:00+09:00 (the first whole year at +09:00) up to,
 * not including, 10000-01-01T00:00+09:00 (four-digit years). Outside it, or for an invalid Date,
 * the functions throw a RangeError instead of answering with the wrong offset. The periods just
 * before the range (1988) are still returned correctly by `previousPeriod`: 1988's midnights were
 * all at +09:00 (its summer time switched at 02:00/03:00).
 *
 * Glossary:
 * - instant: a `Date`, a point in time.
 * - calendar date: `YYYY-MM-DD`, a Seoul day, as PostgreSQL `date` columns come back (reports).
 * - period: `daily` | `weekly` (ISO week, from Monday 00:00) | `monthly` | `yearly` — the values of
 *   `public.reports.period_type` — with `start` inclusive and `end` exclusive, as instants and as
 *   calendar dates (`reports.period_start` / `period_end`, matching the `reports_period_shape_check`).
 */

export const TIME_ZONE = 'Asia/Seoul';
/** The zone's offset from UTC, as written after an ISO 8601 time. */
export const UTC_OFFSET = '+09:00';
const OFFSET_MS = 9 * 3_600_000;
const DAY_MS = 86_400_000;

/** 1989-01-01T00:00+09:00: the first instant the calendar answers for. */
export const SUPPORTED_FROM = new Date(Date.UTC(1989, 0, 1) - OFFSET_MS);
/** 10000-01-01T00:00+09:00: the first instant past the range (exclusive). */
export const SUPPORTED_UNTIL = new Date(Date.UTC(10000, 0, 1) - OFFSET_MS);

export const PERIOD_TYPES = ['daily', 'weekly', 'monthly', 'yearly'] as const;
export type PeriodType = (typeof PERIOD_TYPES)[number];

export interface Period {
  type: PeriodType;
  /** Seoul midnight of the first day, inclusive. */
  start: Date;
  /** Seoul midnight after the last day, exclusive. */
  end: Date;
  /** `start` as a calendar date (`reports.period_start`). */
  startDate: string;
  /** `end` as a calendar date (`reports.period_end`, exclusive). */
  endDate: string;
}

export interface CalendarDate {
  year: number;
  /** 1–12 */
  month: number;
  /** 1–31 */
  day: number;
}

/** A Seoul wall clock reading of an instant. */
export interface SeoulTime extends CalendarDate {
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** ISO weekday: 1 = Monday … 7 = Sunday. */
  weekday: number;
}

// --- Day numbers: days since 1970-01-01 on the proleptic Gregorian calendar (H. Hinnant's algorithms).

function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function civilFromDays(days: number): CalendarDate {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days in a month of the Gregorian calendar (month 1–12). */
export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function formatDate({ year, month, day }: CalendarDate): string {
  return `${year}-${pad2(month)}-${pad2(day)}`;
}

/** The instant's milliseconds, checked against the supported range (an invalid Date fails too). */
function checked(at: Date): number {
  const ms = at.getTime();
  if (!(ms >= SUPPORTED_FROM.getTime() && ms < SUPPORTED_UNTIL.getTime())) {
    throw new RangeError(
      `${Number.isNaN(ms) ? 'an invalid date' : at.toISOString()} is outside the Asia/Seoul calendar's supported range (1989-01-01 to 9999-12-31)`,
    );
  }
  return ms;
}

/** The Seoul day number of an instant (days since 1970-01-01 in Seoul). */
function seoulDay(at: Date): number {
  return Math.floor((checked(at) + OFFSET_MS) / DAY_MS);
}

/** The instant of Seoul midnight of a day number. */
function midnight(days: number): Date {
  return new Date(days * DAY_MS - OFFSET_MS);
}

// --- Calendar dates

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `YYYY-MM-DD` of a real calendar day (no 2026-02-30), or null. Years 0001–9999. */
export function parseCalendarDate(text: string): CalendarDate | null {
  const m = DATE.exec(text);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  return { year, month, day };
}

function dayNumberOf(date: string): number {
  const parsed = parseCalendarDate(date);
  if (!parsed) throw new RangeError(`${JSON.stringify(date)} is not a calendar date (YYYY-MM-DD)`);
  return daysFromCivil(parsed.year, parsed.month, parsed.day);
}

/** The Seoul calendar date of an instant, `YYYY-MM-DD`. */
export function seoulDate(at: Date): string {
  return formatDate(civilFromDays(seoulDay(at)));
}

/** The Seoul wall clock of an instant, field by field. */
export function seoulTime(at: Date): SeoulTime {
  const wall = checked(at) + OFFSET_MS;
  const days = Math.floor(wall / DAY_MS);
  let rest = wall - days * DAY_MS;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  // 1970-01-01 was a Thursday (ISO weekday 4).
  const weekday = ((((days + 3) % 7) + 7) % 7) + 1;
  return { ...civilFromDays(days), hour, minute, second, millisecond: rest - second * 1000, weekday };
}

/** Seoul midnight at the start of a calendar date, as an instant. */
export function startOfSeoulDay(date: string): Date {
  const at = midnight(dayNumberOf(date));
  checked(at);
  return at;
}

/** A calendar date moved by whole days (negative goes back). */
export function addDays(date: string, days: number): string {
  return formatDate(civilFromDays(dayNumberOf(date) + days));
}

/** An instant as ISO 8601 in Seoul time: `2026-11-25T09:30:00+09:00`, milliseconds only when not zero. */
export function formatInstant(at: Date): string {
  const t = seoulTime(at);
  const ms = t.millisecond === 0 ? '' : `.${String(t.millisecond).padStart(3, '0')}`;
  return `${formatDate(t)}T${pad2(t.hour)}:${pad2(t.minute)}:${pad2(t.second)}${ms}${UTC_OFFSET}`;
}

// --- Periods

function periodFromDays(type: PeriodType, first: number): Period {
  let after: number;
  if (type === 'daily') after = first + 1;
  else if (type === 'weekly') after = first + 7;
  else {
    const { year, month } = civilFromDays(first);
    after =
      type === 'monthly'
        ? daysFromCivil(month === 12 ? year + 1 : year, month === 12 ? 1 : month + 1, 1)
        : daysFromCivil(year + 1, 1, 1);
  }
  return {
    type,
    start: midnight(first),
    end: midnight(after),
    startDate: formatDate(civilFromDays(first)),
    endDate: formatDate(civilFromDays(after)),
  };
}

/** The first day (day number) of the period of `type` that contains Seoul day `days`. */
function firstDayOf(type: PeriodType, days: number): number {
  if (type === 'daily') return days;
  // ISO weeks start on Monday; 1970-01-01 (day 0) was a Thursday, so Mondays are days ≡ 4 (mod 7).
  if (type === 'weekly') return days - ((((days - 4) % 7) + 7) % 7);
  const { year, month } = civilFromDays(days);
  return type === 'monthly' ? daysFromCivil(year, month, 1) : daysFromCivil(year, 1, 1);
}

/** The Seoul period of a type that contains an instant. */
export function periodContaining(type: PeriodType, at: Date): Period {
  return periodFromDays(type, firstDayOf(type, seoulDay(at)));
}

/**
 * The period of a type that starts on a calendar date (as read back from `reports.period_start`);
 * a date that does not start such a period (a Wednesday for `weekly`) is a RangeError.
 */
export function periodStartingOn(type: PeriodType, startDate: string): Period {
  const first = dayNumberOf(startDate);
  if (firstDayOf(type, first) !== first) throw new RangeError(`${startDate} does not start a ${type} period`);
  checked(midnight(first));
  return periodFromDays(type, first);
}

/** The period right after. */
export function nextPeriod(period: Period): Period {
  return periodContaining(period.type, period.end);
}

/** The period right before. */
export function previousPeriod(period: Period): Period {
  return periodFromDays(period.type, firstDayOf(period.type, dayNumberOf(period.startDate) - 1));
}

// --- Months

/**
 * The anchor moved by whole calendar months on the Seoul wall clock, the day clamped to the
 * target month's length: the n-th monthly anniversary of a billing date. Always compute from the
 * original anchor (2024-01-31 + 1 → 02-29, + 2 → 03-31), never by chaining (02-29 + 1 → 03-29).
 * The time of day is kept.
 */
export function addMonths(anchor: Date, months: number): Date {
  if (!Number.isInteger(months)) throw new RangeError(`addMonths: ${months} is not a whole number of months`);
  const t = seoulTime(anchor);
  const index = t.year * 12 + (t.month - 1) + months;
  const year = Math.floor(index / 12);
  const month = index - year * 12 + 1;
  const day = Math.min(t.day, daysInMonth(year, month));
  const timeOfDay = ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.millisecond;
  const at = new Date(midnight(daysFromCivil(year, month, day)).getTime() + timeOfDay);
  checked(at);
  return at;
}
