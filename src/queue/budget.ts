/**
 * A budget shared by every worker process: at most `perMinute` uses per calendar minute, counted in
 * sumda.rate_windows (fixed windows; the database's clock decides the minute). Protects the
 * OpenAI account when many workers run. A taker that finds the window spent waits for the next one.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';

export interface Budget {
  acquire(signal?: AbortSignal): Promise<void>;
}

export const UNLIMITED: Budget = { acquire: async () => {} };

export interface BudgetOptions {
  /** The instant that decides the window: the database's clock (`now()`) unless a test pins one. */
  at?: () => Date;
  /** How a taker waits for the next window: an abortable timer unless a test observes the wait. */
  wait?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function createSharedBudget(
  db: Kysely<Database>,
  name: string,
  perMinute: number,
  options: BudgetOptions = {},
): Budget {
  if (perMinute <= 0) return UNLIMITED;
  const wait = options.wait ?? abortableDelay;
  const instant = () => (options.at ? sql`${options.at()}::timestamptz` : sql`now()`);
  return {
    async acquire(signal) {
      for (;;) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        const taken = await sql<{ used: number; wait_ms: number }>`
          insert into sumda.rate_windows as w (budget, window_start, used)
          values (${name}, date_trunc('minute', ${instant()}), 1)
          on conflict (budget, window_start) do update set used = w.used + 1 where w.used < ${perMinute}
          returning used, 0 as wait_ms`.execute(db);
        if (taken.rows.length > 0) return;
        const at = instant();
        const next = await sql<{ wait_ms: number }>`
          select ceil(extract(epoch from date_trunc('minute', ${at}) + interval '1 minute' - ${at}) * 1000)::int as wait_ms`.execute(
          db,
        );
        const waitMs = (next.rows[0]?.wait_ms ?? 1000) + Math.floor(Math.random() * 250);
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        await wait(waitMs, signal);
      }
    },
  };
}

/** Resolves after `ms`; the wait is up to a minute, so an abort (drain timeout, second signal) ends it at once. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Windows deleted per statement: an hour of one budget is 60 rows; the cap bounds a backlog after downtime. */
export const TRIM_BATCH_SIZE = 1000;

/** Housekeeping: windows older than an hour are history, deleted in batches (each its own statement). */
export async function trimBudgets(db: Kysely<Database>, batchSize = TRIM_BATCH_SIZE): Promise<number> {
  let trimmed = 0;
  for (;;) {
    const result = await sql`
      delete from sumda.rate_windows where (budget, window_start) in (
        select budget, window_start from sumda.rate_windows
        where window_start < now() - interval '1 hour'
        order by window_start limit ${batchSize})`.execute(db);
    const deleted = Number(result.numAffectedRows ?? 0);
    trimmed += deleted;
    if (deleted < batchSize) return trimmed;
  }
}
