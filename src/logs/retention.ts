/**
 * Log retention: rows of admin.api_logs, admin.login_logs and admin.error_logs older than their
 * configured number of days (SUMDA_RETENTION_API_LOGS_DAYS, default 90;
 * SUMDA_RETENTION_LOGIN_LOGS_DAYS, default 365; SUMDA_RETENTION_ERROR_LOGS_DAYS, default 180)
 * are deleted in small batches, each its own short transaction, the oldest ids first; a short
 * lock_timeout keeps a batch from ever waiting behind a long lock. (No FOR UPDATE SKIP LOCKED: log
 * rows are never updated, so the only contender is another deleter, whose rows this one skips once
 * they are gone — and FOR UPDATE would need an UPDATE grant the worker must not have on logs.) The `logs.retention` job chains one batch per job (successor enqueued
 * in the batch's transaction), table after table, so a run survives restarts and repeats harmlessly.
 *
 * Error logs are only a log: what the analysis scan and key rotations decide by lives in sumda's
 * own failure state (src/analysis/failures.ts), so trimming them changes no decision.
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/types.ts';
import { enqueue, type PgBoss } from '../queue/boss.ts';

export const RETENTION_TABLES = ['api_logs', 'login_logs', 'error_logs'] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** Rows per delete: small enough that a batch takes milliseconds and holds its locks that long. */
export const RETENTION_BATCH_SIZE = 5000;
/** A batch that cannot get a lock within this gives up (and is retried), rather than queueing behind it. */
const LOCK_TIMEOUT = '2s';

export function retentionDays(config: Pick<Config, 'retention'>, table: RetentionTable): number {
  if (table === 'api_logs') return config.retention.apiLogsDays;
  return table === 'login_logs' ? config.retention.loginLogsDays : config.retention.errorLogsDays;
}

/** The instant before which rows of `table` go, `days` days before `now`. */
export function retentionCutoff(days: number, now = new Date()): Date {
  return new Date(now.getTime() - days * 86_400_000);
}

export interface RetentionPlanRow {
  table: RetentionTable;
  days: number;
  cutoff: Date;
  /** Rows older than the cutoff: what a run would delete. */
  expired: number;
  total: number;
}

export async function retentionPlan(
  db: Kysely<Database>,
  config: Pick<Config, 'retention'>,
  now = new Date(),
): Promise<RetentionPlanRow[]> {
  const rows: RetentionPlanRow[] = [];
  for (const table of RETENTION_TABLES) {
    const days = retentionDays(config, table);
    const cutoff = retentionCutoff(days, now);
    const r = await sql<{ expired: number; total: number }>`
      select count(*) filter (where created_at < ${cutoff})::int as expired, count(*)::int as total
      from ${sql.table(`admin.${table}`)}`.execute(db);
    rows.push({ table, days, cutoff, ...r.rows[0]! });
  }
  return rows;
}

export interface RetentionBatch {
  table: RetentionTable;
  deleted: number;
  /** A full batch: there may be more. */
  more: boolean;
}

/**
 * Deletes one batch of `table` rows older than `cutoff`, oldest ids first, in its own transaction.
 * `inTransaction` runs before the commit (the job enqueues its successor there).
 */
export async function deleteBatch(
  db: Kysely<Database>,
  input: {
    table: RetentionTable;
    cutoff: Date;
    batchSize?: number;
    inTransaction?: (trx: Kysely<Database>, batch: RetentionBatch) => Promise<void>;
  },
): Promise<RetentionBatch> {
  const size = input.batchSize ?? RETENTION_BATCH_SIZE;
  const table = sql.table(`admin.${input.table}`);
  return db.transaction().execute(async (trx) => {
    await sql`set local lock_timeout = ${sql.lit(LOCK_TIMEOUT)}`.execute(trx);
    const result = await sql`
      delete from ${table} where id in (
        select id from ${table} where created_at < ${input.cutoff}
        order by id limit ${size})`.execute(trx);
    const deleted = Number(result.numAffectedRows ?? 0n);
    const batch = { table: input.table, deleted, more: deleted === size };
    await input.inTransaction?.(trx, batch);
    return batch;
  });
}

/**
 * `sumda logs retention`: starts a run now — the first job of the chain, enqueued in the same
 * transaction as its audit row (the worker does the deleting).
 */
export async function startRetention(
  db: Kysely<Database>,
  boss: PgBoss,
  op: Operation,
  plan: RetentionPlanRow[],
  options: { batchSize?: number } = {},
): Promise<string | null> {
  return mutate(db, op, 'logs.retention', async (trx) => {
    const jobId = await enqueue(
      boss,
      'logsRetention',
      {
        table: RETENTION_TABLES[0],
        requestId: op.requestId,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      },
      { trx, singletonKey: `retention:${RETENTION_TABLES[0]}` },
    );
    await writeAudit(trx, op, {
      action: 'logs.retention',
      targetType: 'logs',
      targetId: RETENTION_TABLES.join(','),
      after: { job: jobId, plan: plan.map((p) => ({ table: p.table, days: p.days, expired: p.expired })) },
    });
    return jobId;
  });
}

/**
 * `sumda logs retention --inline`: the whole run in this process, batch after batch, each batch
 * with its audit row in its own transaction.
 */
export async function runRetentionInline(
  db: Kysely<Database>,
  op: Operation,
  config: Pick<Config, 'retention'>,
  options: { batchSize?: number; signal?: AbortSignal; onBatch?: (deleted: number) => void } = {},
): Promise<Record<RetentionTable, number>> {
  await authorize(db, op, 'logs.retention', { type: 'logs', id: RETENTION_TABLES.join(',') });
  const deleted = { api_logs: 0, login_logs: 0, error_logs: 0 };
  for (const table of RETENTION_TABLES) {
    const cutoff = retentionCutoff(retentionDays(config, table));
    for (;;) {
      if (options.signal?.aborted) return deleted;
      const batch = await deleteBatch(db, {
        table,
        cutoff,
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        inTransaction: async (trx, b) => {
          if (b.deleted === 0) return;
          await writeAudit(trx, op, {
            action: 'logs.retention',
            targetType: 'logs',
            targetId: table,
            after: { deleted: b.deleted, cutoff },
          });
        },
      });
      deleted[table] += batch.deleted;
      options.onBatch?.(deleted.api_logs + deleted.login_logs + deleted.error_logs);
      if (!batch.more) break;
    }
  }
  return deleted;
}
