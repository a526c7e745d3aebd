/**
 * report.backfill: one chunk of a recorded backfill run (src/reports/backfill.ts). The chunk, the
 * run's cursor and the successor job commit together; a job that is not the run's named next job
 * (a duplicate, a retry after a takeover) does nothing. A failing chunk is counted on the run and
 * retried by pg-boss; the run stops itself past its failure threshold.
 */
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { runChunk } from '../src/reports/backfill.ts';
import { defineHandler } from './context.ts';

export const reportBackfill = defineHandler(QUEUES.reportBackfill, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  for (const { id, data } of jobs) {
    try {
      const outcome = await runChunk(ctx.db, data.runId, { jobId: id, boss: ctx.boss });
      const output = {
        run: data.runId,
        did: outcome.did,
        period: outcome.period,
        periods: outcome.periods,
        users: outcome.users,
        written: outcome.chunk?.written ?? 0,
        removed: outcome.chunk?.removed ?? 0,
        status: outcome.run.status,
        done: outcome.run.done,
        total: outcome.run.total,
      };
      ctx.log.info({ queue: QUEUES.reportBackfill.name, jobId: id, ...output }, 'report backfill chunk');
      outcomes.push({ id, status: 'completed', output });
    } catch (error) {
      outcomes.push({ id, status: 'retry', error: error as Error });
    }
  }
  return outcomes;
});
