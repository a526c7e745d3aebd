/** `sumda jobs stats`: live counts per queue and dead-letter queue, straight from `pgboss.job`. Glossary: common.ts. */
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.ts';
import { allQueueNames, deadLetterName, findQueue } from '../queue/catalog.ts';
import { QUERIES } from '../queue/plans.ts';
import { isDeadLetterQueue } from './common.ts';

export interface QueueStatsRow {
  queue: string;
  /** For a dead-letter queue, the queue whose failures it holds. */
  deadLetterOf: string | null;
  ready: number;
  deferred: number;
  active: number;
  failed: number;
  completed: number;
  cancelled: number;
  /** Jobs waiting in this queue's dead-letter queue (not cancelled or completed); null when it has none. */
  deadLettered: number | null;
  /** Seconds the oldest ready job has waited since it could start; null when none is ready. */
  oldestReadySeconds: number | null;
  paused: boolean;
}

/** One row per catalog queue and dead-letter queue, counted in one grouped query over pgboss.job. */
export async function queueStats(db: Kysely<Database>): Promise<QueueStatsRow[]> {
  const names = allQueueNames();
  const result = await QUERIES.queueCounts(names).execute(db);
  const byName = new Map(result.rows.map((r) => [r.queue, r]));
  return result.rows.map((r) => {
    const dead = isDeadLetterQueue(r.queue);
    const def = findQueue(r.queue)!;
    return {
      queue: r.queue,
      deadLetterOf: dead ? def.name : null,
      ready: r.ready,
      deferred: r.deferred,
      active: r.active,
      failed: r.failed,
      completed: r.completed,
      cancelled: r.cancelled,
      deadLettered: !dead && def.deadLetter ? (byName.get(deadLetterName(def.name))?.waiting ?? 0) : null,
      oldestReadySeconds: r.oldest_ready_seconds,
      paused: r.paused,
    };
  });
}
