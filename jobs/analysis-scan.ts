/**
 * analysis.scan (every minute): entries of the last week with no analysis under the active prompt
 * are enqueued, at most 5,000 per tick; the queue's singleton policy drops duplicates of jobs
 * already waiting. Older ranges are backfilled with `sumda analysis enqueue`.
 */
import { activePrompt, enqueueAnalyses, findUnanalysed } from '../src/analysis/run.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { defineHandler } from './context.ts';

const LOOKBACK_MS = 7 * 86_400_000;
const PER_TICK = 5000;

export const analysisScan = defineHandler(QUEUES.analysisScan, (ctx) => async (jobs) => {
  const prompt = await activePrompt(ctx.resolver);
  const found = await findUnanalysed(ctx.db, {
    since: new Date(Date.now() - LOOKBACK_MS),
    prompt,
    skipFailed: true,
    limit: PER_TICK,
  });
  const enqueued = await enqueueAnalyses(
    ctx.boss,
    found.map((f) => f.id),
    prompt,
  );
  if (enqueued > 0)
    ctx.log.info({ enqueued, unanalysed: found.length, ...prompt }, 'analysis scan enqueued entries');
  return jobs.map((j) => ({
    id: j.id,
    status: 'completed' as const,
    output: { enqueued, unanalysed: found.length, ...prompt },
  }));
});
