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

export function createSharedBudget(db: Kysely<Database>, name: string, perMinute: number): Budget {
  if (perMinute <= 0) return UNLIMITED;
  return {
    async acquire(signal) {
      for (;;) {
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        const taken = await sql<{ used: number; wait_ms: number }>`
          insert into sumda.rate_windows as w (budget, window_start, used)
          values (${name}, date_trunc('minute', now()), 1)
          on conflict (budget, window_start) do update set used = w.used + 1 where w.used < ${perMinute}
          returning used, 0 as wait_ms`.execute(db);
        if (taken.rows.length > 0) return;
        const next = await sql<{ wait_ms: number }>`
          select ceil(extract(epoch from date_trunc('minute', now()) + interval '1 minute' - now()) * 1000)::int as wait_ms`.execute(
          db,
        );
        const waitMs = (next.rows[0]?.wait_ms ?? 1000) + Math.floor(Math.random() * 250);
        if (signal?.aborted) throw signal.reason ?? new Error('aborted');
        // The wait is up to a minute: an abort (drain timeout, second signal) must end it at once.
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => {
            clearTimeout(timer);
            reject(signal?.reason ?? new Error('aborted'));
          };
          const timer = setTimeout(() => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          }, waitMs);
          signal?.addEventListener('abort', onAbort, { once: true });
        });
      }
    },
  };
}

/** Housekeeping: windows older than an hour are history. */
export async function trimBudgets(db: Kysely<Database>): Promise<number> {
  const result =
    await sql`delete from sumda.rate_windows where window_start < now() - interval '1 hour'`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
