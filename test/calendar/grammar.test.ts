/**
 * The one grammar for times an operator types: instants (a Seoul date, an ISO date-time with offset,
 * or a duration ago) and durations. Known good and bad values, then a property test: random strings
 * — junk, and near misses made by mutating good values — parse exactly when an independent reading
 * of the grammar accepts them, and then to the same instant. Last, through the CLI: a malformed
 * `--since` is exit 2 with nothing written (it used to enqueue analyses).
 */
import type { Command } from 'commander';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { ExitCode, UsageError } from '../../src/errors.ts';
import { SUPPORTED_FROM, SUPPORTED_UNTIL } from '../../src/time/calendar.ts';
import {
  durationMs,
  formatDuration,
  instantOf,
  MAX_DURATION_DAYS,
  parseDuration,
  parseInstant,
} from '../../src/time/grammar.ts';
import { ADMIN_EMAIL, bootstrapTestAdmin, createUser, testKeys, writeDiary } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const NOW = new Date('2026-11-25T03:00:00Z');
const H = 3_600_000;
const D = 24 * H;

describe('instants', () => {
  it('reads a bare date as Seoul midnight, a date-time by its offset, a duration as that long ago', () => {
    expect(parseInstant('2026-11-25', '--since', NOW).toISOString()).toBe('2026-11-24T15:00:00.000Z');
    expect(parseInstant('2026-11-25T09:30+09:00', '--since', NOW).toISOString()).toBe(
      '2026-11-25T00:30:00.000Z',
    );
    expect(parseInstant('2026-11-25T09:30:15Z', '--since', NOW).toISOString()).toBe(
      '2026-11-25T09:30:15.000Z',
    );
    expect(parseInstant('2026-11-25T09:30:15.1234-05:30', '--since', NOW).toISOString()).toBe(
      '2026-11-25T15:00:15.123Z',
    );
    expect(parseInstant('2024-02-29', '--since', NOW).toISOString()).toBe('2024-02-28T15:00:00.000Z');
    expect(parseInstant('7d', '--since', NOW).getTime()).toBe(NOW.getTime() - 7 * D);
    expect(parseInstant('1h30m', '--since', NOW).getTime()).toBe(NOW.getTime() - 1.5 * H);
  });

  it('refuses what new Date() would have guessed at, naming the flag (exit 2)', () => {
    const refused = [
      '-1',
      '5',
      '0',
      'March 7',
      '7 March 2026',
      'now',
      '',
      ' 7d',
      '7D',
      '-7d',
      '0d',
      '1e3s',
      '2026',
      '2026-11',
      '20261125',
      '2026-02-30',
      '2025-02-29',
      '2026-13-01',
      '2026-11-25T09:30',
      '2026-11-25 09:30+09:00',
      '2026-11-25T24:00Z',
      '2026-11-25T09:60Z',
      '2026-11-25T09:30:60Z',
      '2026-11-25T09Z',
      '2026-11-25T09:30+15:00',
      '2026-11-25T09:30+09:60',
      '2026-11-25T09:30+0900',
      '2026-11-25t09:30z',
      '1900-01-01',
      '1988-12-31',
      `${MAX_DURATION_DAYS + 1}d`,
      '99999999999999999999999d',
      'Tue, 25 Nov 2026 00:00:00 GMT',
      '١٢d',
    ];
    for (const text of refused) {
      expect(instantOf(text, NOW), text).toBeNull();
      let error: unknown;
      try {
        parseInstant(text, '--since', NOW);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(UsageError);
      expect((error as UsageError).exitCode).toBe(ExitCode.usage);
      expect((error as UsageError).message).toMatch(/^--since .*: not a time \(use 2026-11-25/);
    }
  });

  it('quotes at most a short prefix of a huge argument', () => {
    const huge = 'x'.repeat(20_000);
    expect(() => parseInstant(huge, '--until')).toThrow(/^--until "x{40}…"\(20000 chars\): not a time/);
    expect(() => parseDuration(huge, '--for')).toThrow(/^--for "x{40}…"\(20000 chars\): not a duration/);
  });

  it('keeps to the calendar range: the first and last instants it answers for', () => {
    expect(parseInstant('1989-01-01', '--since', NOW)).toEqual(SUPPORTED_FROM);
    expect(parseInstant('9999-12-31T23:59:59.999+09:00', '--until', NOW).getTime()).toBe(
      SUPPORTED_UNTIL.getTime() - 1,
    );
    expect(instantOf('9999-12-31T23:59:59Z', NOW)).toBeNull();
    expect(instantOf('1988-12-31T15:00:00Z', NOW)).toEqual(SUPPORTED_FROM);
    expect(instantOf('1988-12-31T14:59:59Z', NOW)).toBeNull();
  });
});

describe('durations', () => {
  it('one grammar: units, combinations, bounds', () => {
    expect(parseDuration('850ms')).toBe(850);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('1h30m')).toBe(1.5 * H);
    expect(parseDuration('2w')).toBe(14 * D);
    expect(parseDuration(`${MAX_DURATION_DAYS}d`)).toBe(MAX_DURATION_DAYS * D);
    for (const bad of [
      '',
      '0s',
      '0h0m',
      '-5m',
      '5',
      '1.5h',
      '5 m',
      '5M',
      '1y',
      'h',
      `${MAX_DURATION_DAYS}d1ms`,
    ]) {
      expect(durationMs(bad), bad).toBeNull();
      expect(() => parseDuration(bad, '--for'), bad).toThrow(UsageError);
    }
    expect(formatDuration(parseDuration('1d4h'))).toBe('1d 4h');
  });
});

// --- The property test

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

/**
 * The grammar read independently: regular expressions for the three forms, field bounds by Date.UTC
 * round trips, the value by the platform's own ISO parser (which is lenient: it is consulted only
 * for strings the forms admit). Returns the instant in ms, or null.
 */
function oracle(text: string, now: Date): number | null {
  const inRange = (ms: number) =>
    ms >= SUPPORTED_FROM.getTime() && ms < SUPPORTED_UNTIL.getTime() ? ms : null;
  const realDay = (y: number, m: number, d: number) => {
    const t = new Date(Date.UTC(2000, m - 1, d));
    t.setUTCFullYear(y);
    return m >= 1 && m <= 12 && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
  };
  if (/^(\d+(ms|s|m|h|d|w))+$/.test(text)) {
    const size: Record<string, number> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };
    const total = [...text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)].reduce(
      (s, [, n, u]) => s + Number(n) * size[u!]!,
      0,
    );
    return total > 0 && total <= MAX_DURATION_DAYS * 864e5 ? inRange(now.getTime() - total) : null;
  }
  let m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (m) {
    if (!realDay(+m[1]!, +m[2]!, +m[3]!)) return null;
    return inRange(Date.parse(`${text}T00:00:00+09:00`));
  }
  m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(:(\d{2})(\.\d{1,9})?)?(Z|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (m) {
    if (!realDay(+m[1]!, +m[2]!, +m[3]!) || +m[4]! > 23 || +m[5]! > 59 || +(m[7] ?? 0) > 59) return null;
    if (m[10] && (+m[11]! * 60 + +m[12]! > 14 * 60 || +m[12]! > 59)) return null;
    const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
    return Number.isNaN(ms) ? null : inRange(ms);
  }
  return null;
}

const GOOD = [
  '2026-11-25',
  '2024-02-29',
  '1989-01-01',
  '9999-12-31',
  '2026-11-25T09:30+09:00',
  '2026-11-25T23:59:59Z',
  '2026-01-31T00:00:00.5-12:00',
  '2026-06-30T12:00:00.123456+14:00',
  '7d',
  '15m',
  '2h',
  '1h30m',
  '90s',
  '250ms',
  '2w3d',
];
const ALPHABET = '0123456789-:T Z+.msdhwMarchtzy,/١\t';
const TOKENS = [
  '-',
  ':',
  'T',
  'Z',
  '+',
  '.',
  ' ',
  'ms',
  's',
  'm',
  'h',
  'd',
  'w',
  '00',
  '09',
  '12',
  '29',
  '30',
  '31',
  '60',
  '2026',
  '1988',
  'March',
  '-1',
  '5',
];

describe('property: random strings never parse unless they are one of the forms', () => {
  it('20,000 junk strings and near misses: parsed exactly when the forms admit them, to the same instant', () => {
    const r = rng(0x5eed);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text: string;
      const kind = r.int(3);
      if (kind === 0) {
        text = Array.from({ length: r.int(12) }, () => ALPHABET[r.int(ALPHABET.length)]).join('');
      } else if (kind === 1) {
        text = Array.from({ length: 1 + r.int(6) }, () => r.pick(TOKENS)).join('');
      } else {
        // A near miss: a good value with one to three characters replaced, inserted or removed.
        const chars = [...r.pick(GOOD)];
        for (let k = 0, n = 1 + r.int(3); k < n; k++) {
          const at = r.int(chars.length + 1);
          const op = r.int(3);
          const c = ALPHABET[r.int(ALPHABET.length)]!;
          if (op === 0) chars.splice(at, 1, c);
          else if (op === 1) chars.splice(at, 0, c);
          else chars.splice(at, 1);
        }
        text = chars.join('');
      }
      const expected = oracle(text, NOW);
      const got = instantOf(text, NOW);
      expect(got?.getTime() ?? null, JSON.stringify(text)).toBe(expected);
      if (got) accepted++;
    }
    // The near misses keep the test honest: a fair share of them are still valid and must parse.
    expect(accepted).toBeGreaterThan(500);
  });

  it('every good value parses to what the forms say', () => {
    for (const text of GOOD) expect(instantOf(text, NOW)?.getTime(), text).toBe(oracle(text, NOW));
    expect(GOOD.every((t) => instantOf(t, NOW) !== null)).toBe(true);
  });
});

describe('every time option of the command line', () => {
  it('has a default the grammar reads (a default that fails would make the bare command exit 2)', async () => {
    const { buildProgram } = await import('../../src/cli/main.ts');
    const found: string[] = [];
    const walk = (command: Command, path: string) => {
      for (const option of command.options) {
        const kind = /<(when|time|instant|duration)>/.exec(option.flags)?.[1];
        if (!kind) continue;
        found.push(`${path} ${option.long}`);
        if (option.defaultValue === undefined) continue;
        const value = String(option.defaultValue);
        // A pause of zero means none: the command reads `0ms` itself before the grammar.
        if (`${path} ${option.long}` === 'sumda report backfill --throttle' && value === '0ms') continue;
        const read = kind === 'duration' ? durationMs(value) : instantOf(value, NOW);
        expect(read, `${path} ${option.long} default ${JSON.stringify(value)}`).not.toBeNull();
      }
      for (const sub of command.commands) walk(sub, `${path} ${sub.name()}`);
    };
    walk(await buildProgram([], { all: true }), 'sumda');
    expect(found).toEqual(
      expect.arrayContaining(['sumda analysis enqueue --since', 'sumda slip stats --since']),
    );
  });
});

describe('through the CLI', () => {
  const database = useTestDatabase();

  it('analysis enqueue --since -1 --yes is exit 2 and enqueues nothing, audits nothing', {
    timeout: 120_000,
  }, async () => {
    await bootstrapTestAdmin(database.db);
    const keys = testKeys();
    const userId = await createUser(database.db);
    await writeDiary(database.db, keys.keyring, userId, '오늘은 산책을 했다.');
    const env = { DATABASE_URL: database.url, SUMDA_ACTOR: ADMIN_EMAIL };
    for (const args of [
      ['analysis', 'enqueue', '--since', '-1', '--yes'],
      ['analysis', 'enqueue', '--since', '1d', '--until', 'March 7', '--yes'],
    ]) {
      const r = await runSumda(args, { env });
      expect(r.code, r.stderr).toBe(ExitCode.usage);
      expect(r.stderr).toMatch(/--(since|until) "(-1|March 7)": not a time/);
    }
    const r = await runSumda(['slip', 'list', '--since', '5'], { env });
    expect(r.code).toBe(ExitCode.usage);
    const audit = await database.db
      .selectFrom('admin.audit_log')
      .select('action')
      .where('action', 'like', 'analysis.%')
      .execute();
    expect(audit).toEqual([]);
    // pg-boss creates its schema on first use: none, or an empty job table.
    const table = await sql<{ t: string | null }>`select to_regclass('pgboss.job')::text as t`.execute(
      database.db,
    );
    if (table.rows[0]!.t) {
      const jobs = await sql<{ n: number }>`select count(*)::int as n from pgboss.job`.execute(database.db);
      expect(jobs.rows[0]!.n).toBe(0);
    }
  });
});
