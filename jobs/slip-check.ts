/** slip.check: evaluate the slip and ethics policy for new analyses (enqueued with each analysis). */
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { checkSlips } from '../src/slips/live.ts';
import { defineHandler } from './context.ts';

export const slipCheck = defineHandler(QUEUES.slipCheck, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  // One analysis at a time per job: a failure retries only its own job.
  for (const job of jobs) {
    try {
      const [result] = await checkSlips(ctx, [job.data.analysisId]);
      outcomes.push({ id: job.id, status: 'completed', output: result ?? {} });
    } catch (error) {
      outcomes.push({ id: job.id, status: 'retry', error: error as Error });
    }
  }
  return outcomes;
});
