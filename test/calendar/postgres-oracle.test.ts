/**
 * The calendar against PostgreSQL's own Asia/Seoul arithmetic, the oracle the reports table and
 * every `at time zone 'Asia/Seoul'` query rely on: thousands of seeded random instants (across the
 * whole supported range, most of them in this century, many a millisecond either side of a Seoul
 * or UTC midnight), one query for all of them, and for each instant and period type the Seoul
 * date, the ISO weekday, `date_trunc(field, ts, 'Asia/Seoul')` and the period end, plus the wall
 * clock and month arithmetic (PostgreSQL adds months with the same month-end clamp).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/seed/corpus.ts';
import {
  addMonths,
  formatInstant,
  PERIOD_TYPES,
  periodContaining,
  SUPPORTED_FROM,
  SUPPORTED_UNTIL,
  seoulDate,
  seoulTime,
} from '../../src/time/calendar.ts';
import { useTestDatabase } from '../support/db.ts';

const test = useTestDatabase();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Seeded instants: uniform over the range, uniform over 2000–2100, and midnights (KST and UTC) ± 1 ms. */
function randomInstants(n: number, seed: number): Date[] {
  const rng = createRng(seed);
  const from = SUPPORTED_FROM.getTime();
  const until = SUPPORTED_UNTIL.getTime();
  const y2000 = Date.UTC(2000, 0, 1);
  const y2100 = Date.UTC(2100, 0, 1);
  const uniform = (a: number, b: number) => a + Math.floor(rng.next() * (b - a));
  const out: Date[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    if (kind === 0) out.push(new Date(uniform(from, until)));
    else if (kind === 1) out.push(new Date(uniform(y2000, y2100)));
    else {
      // A UTC midnight, or a Seoul one (15:00 UTC), then -1, 0 or +1 ms.
      const day = Math.floor(uniform(y2000, y2100) / DAY) * DAY + (kind === 2 ? 0 : 15 * HOUR);
      out.push(new Date(day + rng.int(3) - 1));
    }
  }
  // The very edges of the range.
  out.push(SUPPORTED_FROM, new Date(SUPPORTED_UNTIL.getTime() - 1));
  return out;
}

const FIELD = { daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' } as const;
const STEP = { daily: '1 day', weekly: '7 days', monthly: '1 month', yearly: '1 year' } as const;

describe('the calendar against PostgreSQL', () => {
  it('agrees on Seoul dates, weekdays and every period of 4,000 random instants', async () => {
    const instants = randomInstants(4000, 20261125);
    const types = PERIOD_TYPES.map((t) => ({ type: t, field: FIELD[t], step: STEP[t] }));
    const { rows } = await sql<{
      i: string;
      type: string;
      seoul_date: string;
      isodow: number;
      wall: string;
      start: Date;
      end: Date;
      start_date: string;
      end_date: string;
    }>`
      select u.i::text, p.type,
             (u.t at time zone 'Asia/Seoul')::date::text as seoul_date,
             extract(isodow from u.t at time zone 'Asia/Seoul')::int as isodow,
             to_char(u.t at time zone 'Asia/Seoul', 'YYYY-MM-DD"T"HH24:MI:SS.MS') as wall,
             date_trunc(p.field, u.t, 'Asia/Seoul') as start,
             (date_trunc(p.field, u.t, 'Asia/Seoul') at time zone 'Asia/Seoul' + p.step::interval) at time zone 'Asia/Seoul' as "end",
             (date_trunc(p.field, u.t, 'Asia/Seoul') at time zone 'Asia/Seoul')::date::text as start_date,
             ((date_trunc(p.field, u.t, 'Asia/Seoul') at time zone 'Asia/Seoul' + p.step::interval))::date::text as end_date
      from unnest(${instants.map((d) => d.toISOString())}::timestamptz[]) with ordinality as u(t, i)
      cross join jsonb_to_recordset(${JSON.stringify(types)}::jsonb) as p(type text, field text, step text)
      order by u.i, p.type`.execute(test.db);
    expect(rows).toHaveLength(instants.length * PERIOD_TYPES.length);

    const mismatches: string[] = [];
    for (const row of rows) {
      const instant = instants[Number(row.i) - 1]!;
      const type = row.type as (typeof PERIOD_TYPES)[number];
      const p = periodContaining(type, instant);
      const t = seoulTime(instant);
      const wall = formatInstant(instant).slice(0, 19);
      const ms = String(t.millisecond).padStart(3, '0');
      const ours = [
        seoulDate(instant),
        t.weekday,
        `${wall}.${ms}`,
        p.start.getTime(),
        p.end.getTime(),
        p.startDate,
        p.endDate,
      ];
      const theirs = [
        row.seoul_date,
        row.isodow,
        row.wall,
        row.start.getTime(),
        row.end.getTime(),
        row.start_date,
        row.end_date,
      ];
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        mismatches.push(
          `${instant.toISOString()} ${type}: ours ${JSON.stringify(ours)} postgres ${JSON.stringify(theirs)}`,
        );
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('adds calendar months as PostgreSQL does, month-end clamp included', async () => {
    const rng = createRng(31);
    // Anchors biased to month ends, where the clamp matters; offsets up to ±10 years.
    const cases = Array.from({ length: 2000 }, () => {
      const day = Date.UTC(2000 + rng.int(90), rng.int(12), 28 + rng.int(4)) - 9 * HOUR;
      return { anchor: new Date(day + rng.int(DAY)), months: rng.int(241) - 120 };
    }).filter((c) => !Number.isNaN(c.anchor.getTime()));
    const { rows } = await sql<{ i: string; moved: Date }>`
      select u.i::text, ((u.t at time zone 'Asia/Seoul') + make_interval(months => u.m)) at time zone 'Asia/Seoul' as moved
      from unnest(${cases.map((c) => c.anchor.toISOString())}::timestamptz[], ${cases.map((c) => c.months)}::int[])
           with ordinality as u(t, m, i)
      order by u.i`.execute(test.db);
    const mismatches = rows
      .map((row) => {
        const c = cases[Number(row.i) - 1]!;
        const ours = addMonths(c.anchor, c.months);
        return ours.getTime() === row.moved.getTime()
          ? null
          : `${formatInstant(c.anchor)} ${c.months}: ours ${formatInstant(ours)} postgres ${formatInstant(row.moved)}`;
      })
      .filter(Boolean);
    expect(rows).toHaveLength(cases.length);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('PostgreSQL knows the offsets before the range that the calendar refuses to guess', async () => {
    // The supported range begins after Korea's last transition (1988-10-09, the end of summer time).
    const { rows } = await sql<{ at: string; offset: string }>`
      select v.at, to_char(v.at::timestamptz at time zone 'Asia/Seoul' - (v.at::timestamptz at time zone 'UTC'), 'HH24:MI') as offset
      from (values ('1988-07-01T00:00:00Z'), ('1988-10-08T17:00:00Z'), ('1960-01-01T00:00:00Z'), ('2500-06-01T00:00:00Z')) v(at)`.execute(
      test.db,
    );
    expect(rows.map((r) => r.offset)).toEqual(['10:00', '09:00', '08:30', '09:00']);
  });
});
