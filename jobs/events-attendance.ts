/**
 * events.attendance (every 5 minutes): streaks and streak rewards of the attendance rows the app
 * wrote since, one batch of (event, user) pairs per job; a full batch enqueues its successor in its
 * own transaction. Safe to run twice or on two workers at once: pairs are locked while computed and
 * a reward is a ledger entry keyed by its attendance row.
 */
import { processAttendance } from '../src/events/index.ts';
import { enqueue } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { defineHandler } from './context.ts';

export const eventsAttendance = defineHandler(QUEUES.eventsAttendance, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  for (const { id, data } of jobs) {
    const run = await processAttendance(ctx.db, {
      ...(data.eventId ? { eventId: data.eventId } : {}),
      inTransaction: async (trx, r) => {
        if (!r.more) return;
        await enqueue(
          ctx.boss,
          'eventsAttendance',
          { ...(data.eventId ? { eventId: data.eventId } : {}), requestId: data.requestId },
          { trx, singletonKey: 'attendance-chain' },
        );
      },
    });
    ctx.log.info({ queue: QUEUES.eventsAttendance.name, jobId: id, ...run }, 'attendance batch');
    outcomes.push({ id, status: 'completed', output: run });
  }
  return outcomes;
});
