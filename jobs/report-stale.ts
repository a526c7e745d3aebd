/**
 * report.stale (every minute): rebuilds the reports marked stale whose period has ended, drops
 * marks that have no report, and re-chains backfill runs whose worker died mid-chunk.
 */
import { QUEUES } from '../src/queue/catalog.ts';
import { takeOverStalledRuns } from '../src/reports/backfill.ts';
import { rebuildStale } from '../src/reports/stale.ts';
import { defineHandler } from './context.ts';

export const reportStale = defineHandler(QUEUES.reportStale, (ctx) => async (jobs, signal) => {
  const takenOver = await takeOverStalledRuns(ctx.db, ctx.boss);
  if (takenOver.length > 0)
    ctx.log.warn({ runs: takenOver }, 'report backfill runs taken over after a stalled chunk');
  const result = await rebuildStale(ctx.db, { signal });
  if (result.statements > 0 || result.discarded > 0) ctx.log.info({ ...result }, 'stale reports rebuilt');
  return jobs.map((j) => ({ id: j.id, status: 'completed' as const, output: { ...result, takenOver } }));
});
