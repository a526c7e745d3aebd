/** analysis.run: analyse diary entries (a batch per call) and store the results. */
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
  return results.map((r): JobOutcome => {
    if (r.status === 'retry') return { id: r.jobId, status: 'retry', error: r.error };
    const { jobId, ...output } = r;
    return { id: jobId, status: 'completed', output };
  });
});
