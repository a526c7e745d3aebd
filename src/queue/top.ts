/**
 * What `sumda top` shows, one snapshot at a time: per queue, pg-boss's cached counters (ready,
 * deferred, active, oldest due job; refreshed by any running worker's supervisor) and what finished in
 * the last minute (completed, failed), counted from the `(name, completed_on)` index — never a scan of
 * the waiting rows. Dead-letter queues are shown as their source queue's `dead` column.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { ALL_QUEUES, deadLetterName } from './catalog.ts';

export interface QueueTop {
  queue: string;
  ready: number;
  deferred: number;
  active: number;
  /** Seconds the oldest due job has waited; 0 when none. */
  oldestSeconds: number;
  /** Completed and failed in the last minute (per minute). */
  completedPerMin: number;
  failedPerMin: number;
  dead: number;
}

export interface TopSnapshot {
  at: string;
  /** Seconds since pg-boss last refreshed the cached counters (null: never; no worker ran). */
  countersAgeSeconds: number | null;
  queues: QueueTop[];
}

export async function topSnapshot(db: Kysely<Database>): Promise<TopSnapshot> {
  const names = ALL_QUEUES.map((q) => q.name);
  const dead = ALL_QUEUES.filter((q) => q.deadLetter).map((q) => deadLetterName(q.name));
  const rows = await sql<{
    name: string;
    ready: number;
    deferred: number;
    active: number;
    queued: number;
    oldest: number | null;
    age: number | null;
    completed: number;
    failed: number;
    now: Date;
  }>`
    select q.name, q.ready_count as ready, q.deferred_count as deferred, q.active_count as active,
           q.queued_count as queued, q.ready_oldest_seconds as oldest,
           extract(epoch from now() - q.monitor_on)::int as age, now() as now,
           coalesce(f.completed, 0)::int as completed, coalesce(f.failed, 0)::int as failed
    from pgboss.queue q
    left join lateral (
      select count(*) filter (where j.state = 'completed') as completed,
             count(*) filter (where j.state = 'failed') as failed
      from pgboss.job j
      where j.name = q.name and j.completed_on > now() - interval '1 minute'
    ) f on true
    where q.name = any(${[...names, ...dead]}::text[])`.execute(db);
  const byName = new Map(rows.rows.map((r) => [r.name, r]));
  const queues = ALL_QUEUES.map((q): QueueTop => {
    const r = byName.get(q.name);
    const d = q.deadLetter ? byName.get(deadLetterName(q.name)) : undefined;
    return {
      queue: q.name,
      ready: r?.ready ?? 0,
      deferred: r?.deferred ?? 0,
      active: r?.active ?? 0,
      oldestSeconds: r?.oldest ?? 0,
      completedPerMin: r?.completed ?? 0,
      failedPerMin: r?.failed ?? 0,
      dead: d ? d.queued + d.active : 0,
    };
  });
  const ages = rows.rows.map((r) => r.age).filter((a): a is number => a !== null);
  return {
    at: (rows.rows[0]?.now ?? new Date()).toISOString(),
    countersAgeSeconds: ages.length > 0 ? Math.max(...ages) : null,
    queues,
  };
}
