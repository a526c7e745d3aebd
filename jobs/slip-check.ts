/** slip.check: evaluate the slip and ethics policy for new analyses (enqueued with each analysis). */
import { recordError } from '../src/errorlog.ts';
import { type ParsedPayloadOf, QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { checkSlips } from '../src/slips/live.ts';
import { type HandlerFactory, parsePayloads } from './context.ts';

export const slipCheck: HandlerFactory = (ctx) => async (jobs) => {
  const { valid, rejected, problems } = parsePayloads<ParsedPayloadOf<'slipCheck'>>(QUEUES.slipCheck, jobs);
  for (const p of problems) {
    await recordError(ctx.db, {
      service: 'slip',
      message: `invalid slip.check payload: ${p.message}`,
      context: { job_id: p.job.id },
    });
  }
  const outcomes: JobOutcome[] = [...rejected];
  // One analysis at a time per job: a failure retries only its own job.
  for (const { job, data } of valid) {
    try {
      const [result] = await checkSlips(ctx, [data.analysisId]);
      outcomes.push({ id: job.id, status: 'completed', output: result ?? {} });
    } catch (error) {
      outcomes.push({ id: job.id, status: 'retry', error: error as Error });
    }
  }
  return outcomes;
};
