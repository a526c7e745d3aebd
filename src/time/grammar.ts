/**
 * What a person may write for a time — one grammar for every time flag, filter and policy setting.
 *
 * Durations: one or more `<digits><unit>` with unit `ms`, `s`, `m`, `h`, `d` (24 hours) or `w`, e.g.
 * `90s`, `15m`, `24h`, `7d`, `1h30m`. Longer than zero and at most MAX_DURATION_DAYS days.
 *
 * Instants, exactly one of:
 * - a calendar date `YYYY-MM-DD`: midnight starting that day in Asia/Seoul (the service's calendar);
 * - an ISO 8601 date-time with its offset: `YYYY-MM-DDTHH:MM[:SS[.fraction]]` then `Z` or `±HH:MM`
 *   (an offset is required: a bare wall clock would be read in the machine's zone);
 * - a duration, meaning that long before now (`7d` = seven days ago).
 * Every field is checked (no 2026-02-30, no 24:00, offsets within ±14:00) and the instant must lie in
 * the calendar's range (1989 to 9999). Anything else — `-1`, `5`, `March 7`, a date-time without an
 * offset — is refused with exit 2: `new Date()` would have guessed, and a guess acted on is a bug.
 */
import { UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { daysInMonth, SUPPORTED_FROM, SUPPORTED_UNTIL, startOfSeoulDay, UTC_OFFSET } from './calendar.ts';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const DURATION_PART = /(\d+)(ms|s|m|h|d|w)/g;
/** The longest duration anyone means (ten years); beyond it a value is a typo. */
export const MAX_DURATION_DAYS = 3650;
const MAX_DURATION_MS = MAX_DURATION_DAYS * UNIT_MS.d;

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2}))$/;
/** ISO 8601 offsets in use run from -12:00 to +14:00; ±14:00 bounds both. */
const MAX_OFFSET_MINUTES = 14 * 60;

export const DURATION_EXAMPLES = '90s, 15m, 24h, 7d, 1h30m';
export const INSTANT_EXAMPLES = `2026-11-25 (midnight ${UTC_OFFSET}), 2026-11-25T09:30${UTC_OFFSET}, or 7d for seven days ago`;

/**
 * Milliseconds of a duration, or null when the text is not one (wrong form, zero, or longer than
 * MAX_DURATION_DAYS).
 */
export function durationMs(text: string): number | null {
  if (!DURATION.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(DURATION_PART)) {
    total += Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
    if (total > MAX_DURATION_MS) return null;
  }
  return total > 0 ? total : null;
}

/** Milliseconds in a duration such as `7d` or `1h30m`; anything else is a usage error naming the flag. */
export function parseDuration(text: string, flag = 'duration'): number {
  const ms = durationMs(text);
  if (ms === null) {
    throw new UsageError(
      `${flag} ${quote(text)}: not a duration (use e.g. ${DURATION_EXAMPLES}; longer than zero, at most ${MAX_DURATION_DAYS}d)`,
    );
  }
  return ms;
}

function inRange(ms: number): boolean {
  return ms >= SUPPORTED_FROM.getTime() && ms < SUPPORTED_UNTIL.getTime();
}

function realDate(y: string, m: string, d: string): boolean {
  const month = Number(m);
  return (
    Number(y) >= 1 &&
    month >= 1 &&
    month <= 12 &&
    Number(d) >= 1 &&
    Number(d) <= daysInMonth(Number(y), month)
  );
}

/** The instant of an ISO 8601 date-time with offset, or null when any field is out of bounds. */
function dateTimeMs(m: RegExpExecArray): number | null {
  const [, y, mo, d, h, mi, s = '0', fraction = '', zulu, sign, oh = '0', om = '0'] = m;
  if (!realDate(y!, mo!, d!)) return null;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return null;
  if (Number(om) > 59) return null;
  const offset = zulu ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  if (Math.abs(offset) > MAX_OFFSET_MINUTES) return null;
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  return (
    Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms) - offset * 60_000
  );
}

/** The instant the text names under the grammar above, or null. `now` anchors "ago". */
export function instantOf(text: string, now: Date = new Date()): Date | null {
  let ms: number | null = null;
  const ago = durationMs(text);
  if (ago !== null) ms = now.getTime() - ago;
  else if (DATE.test(text)) {
    const [, y, mo, d] = DATE.exec(text)!;
    if (realDate(y!, mo!, d!) && Number(y) >= 1989) ms = startOfSeoulDay(text).getTime();
  } else {
    const m = DATE_TIME.exec(text);
    if (m) ms = dateTimeMs(m);
  }
  return ms !== null && inRange(ms) ? new Date(ms) : null;
}

/** An instant typed by an operator (see the grammar above); anything else is exit 2 naming the flag. */
export function parseInstant(text: string, flag: string, now: Date = new Date()): Date {
  const at = instantOf(text, now);
  if (!at) throw new UsageError(`${flag} ${quote(text)}: not a time (use ${INSTANT_EXAMPLES})`);
  return at;
}

/** The PostgreSQL interval literal for a number of milliseconds, e.g. `86400 seconds`. */
export function toPgInterval(ms: number): string {
  return `${Math.round(ms / 1000)} seconds`;
}

/** A short human rendering: `3d 4h`, `12m 5s`, `850ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [
    ['d', UNIT_MS.d],
    ['h', UNIT_MS.h],
    ['m', UNIT_MS.m],
    ['s', UNIT_MS.s],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
