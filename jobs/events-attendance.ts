/**
 * events.attendance (every 5 minutes): streaks and streak rewards of the attendance rows the app
 * wrote since, one batch of (event, user) pairs per job; a full batch enqueues its successor in its
 * own transaction. Safe to run twice or on two workers at once: pairs are locked while computed and
 * a reward is a ledger entry keyed by its attendance row.
 */
import { recordError } from '../src/errorlog.ts';
import { processAttendance } from '../src/events/index.ts';
import { enqueue } from '../src/queue/boss.ts';
import { type ParsedPayloadOf, QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { type HandlerFactory, parsePayloads } from './context.ts';

export const eventsAttendance: HandlerFactory = (ctx) => async (jobs) => {
  const { valid, rejected, problems } = parsePayloads<ParsedPayloadOf<'eventsAttendance'>>(
    QUEUES.eventsAttendance,
    jobs,
  );
  for (const p of problems) {
    await recordError(ctx.db, {
      service: QUEUES.eventsAttendance.service,
      message: `invalid events.attendance payload: ${p.message}`,
      context: { job_id: p.job.id },
    });
  }
  const outcomes: JobOutcome[] = [...rejected];
  for (const { job, data } of valid) {
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
    ctx.log.info({ queue: QUEUES.eventsAttendance.name, jobId: job.id, ...run }, 'attendance batch');
    outcomes.push({ id: job.id, status: 'completed', output: run });
  }
  return outcomes;
};
