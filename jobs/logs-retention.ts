/**
 * logs.retention (daily, 04:40 Asia/Seoul): one small delete batch per job. A full batch enqueues
 * its successor for the same table, an exhausted table enqueues the next one — each in the batch's
 * own transaction — so the run resumes after any crash and a duplicate job only finds less to do.
 */
import {
  deleteBatch,
  RETENTION_BATCH_SIZE,
  RETENTION_TABLES,
  retentionCutoff,
  retentionDays,
} from '../src/logs/retention.ts';
import { enqueue } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { defineHandler } from './context.ts';

export const logsRetention = defineHandler(QUEUES.logsRetention, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  for (const { id, data } of jobs) {
    const table = data.table ?? RETENTION_TABLES[0];
    const batchSize = data.batchSize ?? RETENTION_BATCH_SIZE;
    const batch = await deleteBatch(ctx.db, {
      table,
      cutoff: retentionCutoff(retentionDays(ctx.config, table)),
      batchSize,
      inTransaction: async (trx, b) => {
        const next = b.more ? table : RETENTION_TABLES[RETENTION_TABLES.indexOf(table) + 1];
        if (!next) return;
        await enqueue(
          ctx.boss,
          'logsRetention',
          { table: next, batchSize, requestId: data.requestId },
          { trx, singletonKey: `retention:${next}` },
        );
      },
    });
    ctx.log.info({ queue: QUEUES.logsRetention.name, jobId: id, ...batch }, 'retention batch');
    outcomes.push({ id, status: 'completed', output: batch });
  }
  return outcomes;
});
