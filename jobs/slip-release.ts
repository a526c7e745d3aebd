/** slip.release (every minute): end warnings and slips whose time is up; slipped users are told. */
import { QUEUES } from '../src/queue/catalog.ts';
import { releaseDueSlips } from '../src/slips/live.ts';
import { defineHandler } from './context.ts';

export const slipRelease = defineHandler(QUEUES.slipRelease, (ctx) => async (jobs) => {
  const released = await releaseDueSlips(ctx);
  if (released > 0) ctx.log.info({ released }, 'released slip conditions');
  return jobs.map((j) => ({ id: j.id, status: 'completed' as const, output: { released } }));
});
