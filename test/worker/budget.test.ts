/**
 * The budget every worker process shares (sumda.rate_windows): `perMinute` takers pass at once in
 * the current minute, the next one waits for the next minute — and an abort ends that wait. The
 * clock is pinned and the wait observed, so nothing here sleeps or races a minute boundary.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { abortableDelay, createSharedBudget, trimBudgets, UNLIMITED } from '../../src/queue/budget.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

/** 30 s into a minute: five takes fall in one window, and the next window is 30 s away. */
const MID_MINUTE = new Date('2026-03-02T01:02:30Z');

/**
 * A budget on a pinned clock whose waits are observed, not slept: `waiting` resolves with the
 * milliseconds a taker was told to wait, and the wait itself ends only by an abort.
 */
function observedBudget(name: string, perMinute: number) {
  let waiting!: (ms: number) => void;
  const waited = new Promise<number>((resolve) => {
    waiting = resolve;
  });
  const budget = createSharedBudget(database.db, name, perMinute, {
    at: () => MID_MINUTE,
    wait: (ms, signal) =>
      new Promise<void>((_, reject) => {
        waiting(ms);
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  });
  return { budget, waited };
}

describe('createSharedBudget', () => {
  it('lets 5 pass in the current minute, makes the 6th wait for the next, and an abort ends the wait', async () => {
    const { budget, waited } = observedBudget('test', 5);
    await Promise.all(Array.from({ length: 5 }, () => budget.acquire()));

    const controller = new AbortController();
    const sixth = budget.acquire(controller.signal);
    sixth.catch(() => {}); // observed below
    // Told to wait for the next minute (30 s away, plus up to 250 ms of jitter).
    const ms = await waited;
    expect(ms).toBeGreaterThanOrEqual(30_000);
    expect(ms).toBeLessThan(30_250);

    const windows = await sql<{ budget: string; used: number; window_start: Date }>`
      select budget, used, window_start from sumda.rate_windows where budget = 'test'`.execute(database.db);
    expect(windows.rows).toEqual([
      { budget: 'test', used: 5, window_start: new Date('2026-03-02T01:02:00Z') },
    ]);

    controller.abort(new Error('stop waiting'));
    await expect(sixth).rejects.toThrow('stop waiting');
  });

  it('is shared: another process (another budget object) sees the same window', async () => {
    const a = observedBudget('shared', 2);
    const b = observedBudget('shared', 2);
    await a.budget.acquire();
    await b.budget.acquire();
    const controller = new AbortController();
    const third = a.budget.acquire(controller.signal);
    third.catch(() => {}); // observed below
    await a.waited;
    controller.abort();
    await expect(third).rejects.toThrow();
  });

  it('the default wait is a timer that an abort ends at once', async () => {
    const controller = new AbortController();
    const waiting = abortableDelay(60_000, controller.signal);
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
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

describe('trimBudgets', () => {
  it('deletes windows older than an hour, batch after batch, and keeps the recent ones', async () => {
    await sql`delete from sumda.rate_windows`.execute(database.db); // the pinned windows above are old too
    await sql`
      insert into sumda.rate_windows (budget, window_start, used)
      select 'trim', date_trunc('minute', now()) - make_interval(mins => 61 + i), 1 from generate_series(0, 4) i
      union all select 'trim', date_trunc('minute', now()), 1`.execute(database.db);
    expect(await trimBudgets(database.db, 2)).toBe(5);
    const left = await sql<{ n: number }>`
      select count(*)::int as n from sumda.rate_windows where budget = 'trim'`.execute(database.db);
    expect(left.rows[0]!.n).toBe(1);
  });
});
