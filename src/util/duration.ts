/** Human durations used by flags: `90s`, `15m`, `24h`, `7d`, `2w`, and combinations like `1h30m`. */
import { UsageError } from '../errors.ts';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const PART = /(\d+)(ms|s|m|h|d|w)/g;
const WHOLE = /^(\d+(ms|s|m|h|d|w))+$/;

/** Milliseconds in a duration such as `7d` or `1h30m`; a bad value is a usage error naming the flag. */
export function parseDuration(text: string, flag = 'duration'): number {
  const value = text.trim();
  if (!WHOLE.test(value)) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(text)} is not a duration (use e.g. 90s, 15m, 24h, 7d, 1h30m)`,
    );
  }
  let total = 0;
  for (const match of value.matchAll(PART)) {
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  if (total <= 0) throw new UsageError(`${flag}: must be longer than zero`);
  return total;
}

/** The Postgres interval literal for a number of milliseconds, e.g. `86400 seconds`. */
export function toPgInterval(ms: number): string {
  return `${Math.round(ms / 1000)} seconds`;
}

/** A short human rendering: `3d 4h`, `12m 5s`, `850ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
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
