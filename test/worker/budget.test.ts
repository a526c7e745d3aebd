/**
 * The budget every worker process shares (sumda.rate_windows): `perMinute` takers pass at once in
 * the current minute, the next one waits for the next minute — and an abort ends that wait.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createSharedBudget, UNLIMITED } from '../../src/queue/budget.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

/** Seconds left in the database's current minute. */
async function secondsLeftInMinute(): Promise<number> {
  const row = await sql<{ s: number }>`
    select extract(epoch from date_trunc('minute', now()) + interval '1 minute' - now())::float8 as s`.execute(
    database.db,
  );
  return row.rows[0]!.s;
}

describe('createSharedBudget', () => {
  it('lets 5 pass in the current minute, makes the 6th wait, and an abort ends the wait', async () => {
    // Five takes and a 300 ms look must fall in one minute: start afresh when the minute is nearly over.
    const left = await secondsLeftInMinute();
    if (left < 3) await new Promise((r) => setTimeout(r, left * 1000 + 100));

    const budget = createSharedBudget(database.db, 'test', 5);
    await Promise.all(Array.from({ length: 5 }, () => budget.acquire()));

    const controller = new AbortController();
    let settled = false;
    const sixth = budget.acquire(controller.signal).finally(() => {
      settled = true;
    });
    sixth.catch(() => {}); // observed below
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);

    const windows = await sql<{ budget: string; used: number }>`
      select budget, used from sumda.rate_windows where budget = 'test'`.execute(database.db);
    expect(windows.rows).toEqual([{ budget: 'test', used: 5 }]);

    controller.abort(new Error('stop waiting'));
    await expect(sixth).rejects.toThrow('stop waiting');
  });

  it('is shared: another process (another budget object) sees the same window', async () => {
    const a = createSharedBudget(database.db, 'shared', 2);
    const b = createSharedBudget(database.db, 'shared', 2);
    const left = await secondsLeftInMinute();
    if (left < 3) await new Promise((r) => setTimeout(r, left * 1000 + 100));
    await a.acquire();
    await b.acquire();
    const controller = new AbortController();
    let settled = false;
    const third = a.acquire(controller.signal).finally(() => {
      settled = true;
    });
    third.catch(() => {}); // observed below
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    controller.abort();
    await expect(third).rejects.toThrow();
  });

  it('an already aborted signal takes nothing', async () => {
    const budget = createSharedBudget(database.db, 'aborted', 5);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(budget.acquire(controller.signal)).rejects.toThrow('gone');
    const row = await sql<{
      n: number;
    }>`select count(*)::int as n from sumda.rate_windows where budget = 'aborted'`.execute(database.db);
    expect(row.rows[0]!.n).toBe(0);
  });

  it('0 per minute means no budget at all', () => {
    expect(createSharedBudget(database.db, 'none', 0)).toBe(UNLIMITED);
  });
});
