/** `sumda queues`: the catalog with each queue's pause, and pausing / resuming a queue (audited). Glossary: common.ts. */
import { type Kysely, sql } from 'kysely';
import { authorize } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { UsageError } from '../errors.ts';
import { ALL_QUEUES, deadLetterName, type QueueDefinition, SCHEDULE_TZ } from '../queue/catalog.ts';
import { requireQueue } from './common.ts';

export interface QueueInfo {
  name: string;
  description: string;
  policy: QueueDefinition['policy'];
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  expireInSeconds: number;
  deadLetter: string | null;
  schedule: string | null;
  batchSize: number;
  concurrency: number;
  paused: { at: Date; by: string | null; reason: string } | null;
}

interface PauseRow {
  queue: string;
  paused_at: Date;
  paused_by: string | null;
  by_email: string | null;
  reason: string;
}

async function pauseRows(db: Kysely<Database>): Promise<Map<string, PauseRow>> {
  const rows = await sql<PauseRow>`
    select s.queue, s.paused_at, s.paused_by, a.email as by_email, s.reason
    from sumda.queue_state s left join admin.admins a on a.id = s.paused_by`.execute(db);
  return new Map(rows.rows.map((r) => [r.queue, r]));
}

/** The catalog, with each queue's pause. */
export async function listQueues(db: Kysely<Database>): Promise<QueueInfo[]> {
  const paused = await pauseRows(db);
  return ALL_QUEUES.map((def) => {
    const p = paused.get(def.name);
    return {
      name: def.name,
      description: def.description,
      policy: def.policy,
      retryLimit: def.retryLimit,
      retryDelaySeconds: def.retryDelaySeconds,
      retryBackoff: def.retryBackoff,
      expireInSeconds: def.expireInSeconds,
      deadLetter: def.deadLetter ? deadLetterName(def.name) : null,
      schedule: def.schedule ? `${def.schedule.cron} (${SCHEDULE_TZ})` : null,
      batchSize: def.worker.batchSize,
      concurrency: def.worker.concurrency,
      paused: p ? { at: p.paused_at, by: p.by_email, reason: p.reason } : null,
    };
  });
}

/** A queue workers fetch from: a catalog queue, not a dead-letter queue. */
export function requireWorkedQueue(name: string): QueueDefinition {
  const def = requireQueue(name);
  if (def.name !== name)
    throw new UsageError(
      `${name} is a dead-letter queue: no worker fetches from it, so it cannot be paused`,
      {
        hint: `pause ${def.name} instead, or move its jobs with \`sumda jobs retry --all-matching queue=${name}\``,
      },
    );
  return def;
}

export interface PauseResult {
  queue: string;
  changed: boolean;
  paused: { at: Date; by: string | null; reason: string } | null;
}

/**
 * Workers stop fetching from a paused queue within a few seconds (they re-read sumda.queue_state
 * every 3 s); jobs in flight finish. Pausing a paused queue changes nothing (and writes no audit row).
 */
export async function pauseQueue(
  db: Kysely<Database>,
  op: Operation,
  queue: string,
  reason: string,
): Promise<PauseResult> {
  requireWorkedQueue(queue);
  if (!reason.trim()) throw new UsageError('--reason must not be empty');
  await authorize(db, op, 'queues.pause', { type: 'queue', id: queue });
  return db.transaction().execute(async (trx) => {
    const inserted = await sql<{ paused_at: Date }>`
      insert into sumda.queue_state (queue, paused_by, reason) values (${queue}, ${op.actor?.id ?? null}, ${reason})
      on conflict (queue) do nothing
      returning paused_at`.execute(trx);
    const row = inserted.rows[0];
    if (!row) {
      const existing = (await pauseRows(trx)).get(queue)!;
      return {
        queue,
        changed: false,
        paused: { at: existing.paused_at, by: existing.by_email, reason: existing.reason },
      };
    }
    await writeAudit(trx, op, {
      action: 'queues.pause',
      targetType: 'queue',
      targetId: queue,
      before: { paused: false },
      after: { paused: true, paused_at: row.paused_at },
      reason,
    });
    return { queue, changed: true, paused: { at: row.paused_at, by: op.actor?.email ?? null, reason } };
  });
}

/** Lets workers fetch from the queue again. Resuming a queue that is not paused changes nothing. */
export async function resumeQueue(
  db: Kysely<Database>,
  op: Operation,
  queue: string,
  reason: string | null = null,
): Promise<PauseResult> {
  requireWorkedQueue(queue);
  await authorize(db, op, 'queues.resume', { type: 'queue', id: queue });
  return db.transaction().execute(async (trx) => {
    const deleted = await sql<{ paused_at: Date; paused_by: string | null; reason: string }>`
      delete from sumda.queue_state where queue = ${queue}
      returning paused_at, paused_by, reason`.execute(trx);
    const row = deleted.rows[0];
    if (!row) return { queue, changed: false, paused: null };
    await writeAudit(trx, op, {
      action: 'queues.resume',
      targetType: 'queue',
      targetId: queue,
      before: { paused: true, paused_at: row.paused_at, paused_by: row.paused_by, reason: row.reason },
      after: { paused: false },
      reason,
    });
    return { queue, changed: true, paused: null };
  });
}
