/** slip.check: evaluate the slip and ethics policy for new analyses (enqueued with each analysis). */
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { checkSlips } from '../src/slips/live.ts';
import { defineHandler } from './context.ts';

export const slipCheck = defineHandler(
  QUEUES.slipCheck,
  (ctx) => async (jobs) =>
    // One analysis per check, so a failure retries only its own job; the checks of a batch run side
    // by side (one user's are serialised by checkSlips's per-user lock). One after another, a batch of
    // 20 kept 2 checks running per worker whatever the queue's concurrency (40): the soak
    // (bench/soak.ts) saw slip checks fall behind a steady 20 entries/s on two workers.
    Promise.all(
      jobs.map(async (job): Promise<JobOutcome> => {
        try {
          const [result] = await checkSlips(ctx, [job.data.analysisId]);
          return { id: job.id, status: 'completed', output: result ?? {} };
        } catch (error) {
          return { id: job.id, status: 'retry', error: error as Error };
        }
      }),
    ),
);
