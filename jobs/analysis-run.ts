/** analysis.run: analyse diary entries (a batch per call) and store the results. */
import { analyzeBatch } from '../src/analysis/run.ts';
import { recordError } from '../src/errorlog.ts';
import { type ParsedPayloadOf, QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { type HandlerFactory, parsePayloads } from './context.ts';

export const analysisRun: HandlerFactory = (ctx) => async (jobs, signal) => {
  const { valid, rejected, problems } = parsePayloads<ParsedPayloadOf<'analysisRun'>>(
    QUEUES.analysisRun,
    jobs,
  );
  for (const p of problems) {
    await recordError(ctx.db, {
      service: 'analysis',
      message: `invalid analysis.run payload: ${p.message}`,
      context: { job_id: p.job.id },
    });
  }
  const results = await analyzeBatch(
    ctx,
    valid.map(({ job, data }) => ({ jobId: job.id, ...data })),
    signal,
  );
  const outcomes: JobOutcome[] = results.map((r) => {
    if (r.status === 'retry') return { id: r.jobId, status: 'retry', error: r.error };
    const { jobId, ...output } = r;
    return { id: jobId, status: 'completed', output };
  });
  return [...rejected, ...outcomes];
};
