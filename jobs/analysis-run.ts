/**
 * analysis.run: analyse diary entries (a batch per call) and store the results. A job that fails
 * its last attempt is about to be dead-lettered: its entry is recorded as failed under its prompt
 * (sumda.analysis_failures) so the every-minute scan does not enqueue it again.
 */
import { recordAnalysisFailures } from '../src/analysis/failures.ts';
import { analyzeBatch } from '../src/analysis/run.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { defineHandler } from './context.ts';

export const analysisRun = defineHandler(QUEUES.analysisRun, (ctx) => async (jobs, signal) => {
  const results = await analyzeBatch(
    ctx,
    jobs.map((job) => ({ jobId: job.id, ...job.data })),
    signal,
  );
  const retried = new Set(results.filter((r) => r.status === 'retry').map((r) => r.jobId));
  await recordAnalysisFailures(
    ctx.db,
    jobs
      .filter((j) => retried.has(j.id) && j.retryCount >= QUEUES.analysisRun.retryLimit)
      .map(({ id, data }) => ({
        diaryId: data.diaryId,
        promptName: data.promptName,
        promptVersion: data.promptVersion,
        outcome: 'dead_lettered',
        jobId: id,
      })),
  );
  return results.map((r): JobOutcome => {
    if (r.status === 'retry') return { id: r.jobId, status: 'retry', error: r.error };
    const { jobId, ...output } = r;
    return { id: jobId, status: 'completed', output };
  });
});
