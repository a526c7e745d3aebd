/**
 * Staleness marks from concurrent writers do not deadlock: `sumda.mark_reports_stale` upserts in
 * one order (user, period type, period start), so transactions marking overlapping users — the
 * analysis batches of several workers during a re-analysis — queue behind each other instead of
 * deadlocking (which failed a whole batch back into its queue; migration 0021).
 */
import { sql } from 'kysely';
import pg from 'pg';
import { beforeAll, expect, it } from 'vitest';
import { PgCode, pgCode } from '../../src/errors.ts';
import { createUser } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const USERS = 12;
const CLIENTS = 8;
const ROUNDS = 4;
let users: string[] = [];

beforeAll(async () => {
  users = [];
  for (let i = 0; i < USERS; i++) users.push(await createUser(database.db));
});

/** A deterministic shuffle, different per (round, client). */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

it('concurrent markers of overlapping users queue, none deadlocks', { timeout: 60_000 }, async () => {
  const clients = Array.from({ length: CLIENTS }, () => new pg.Client({ connectionString: database.url }));
  await Promise.all(clients.map((c) => c.connect()));
  const failures: string[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        clients.map(async (client, i) => {
          // Most users, in a different order each, on days spread over one year's months and weeks.
          const mine = shuffled(users, round * 100 + i + 1).slice(0, USERS - 2);
          const days = mine.map((_, k) => `2025-${String(((k + i) % 12) + 1).padStart(2, '0')}-1${k % 10}`);
          try {
            await client.query('begin');
            await client.query('select sumda.mark_reports_stale($1::uuid[], $2::date[])', [mine, days]);
            // Hold the locks a moment, as an analysis batch does until its commit.
            await client.query('select pg_sleep(0.02)');
            await client.query('commit');
          } catch (error) {
            failures.push(pgCode(error) === PgCode.deadlockDetected ? 'deadlock' : String(error));
            await client.query('rollback').catch(() => {});
          }
        }),
      );
    }
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  expect(failures).toEqual([]);
  const marks = await sql<{ n: number }>`select count(*)::int as n from sumda.report_stale`.execute(
    database.db,
  );
  expect(marks.rows[0]!.n).toBeGreaterThan(0);
});
