/**
 * points.expire (daily, 03:10 Asia/Seoul): the expiry policy of src/points, one batch of users per
 * job. A batch that leaves users behind enqueues its successor (same day, next keyset position) in
 * its own transaction, so the run survives crashes and restarts; a repeated or duplicate job writes
 * nothing twice (each user's expiry of a day is keyed `expiry` / `<date>:<user>`).
 */
import { expireBatch } from '../src/points/index.ts';
import { enqueue } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { seoulDate } from '../src/time/calendar.ts';
import { defineHandler } from './context.ts';

export const pointsExpire = defineHandler(QUEUES.pointsExpire, (ctx) => async (jobs) => {
  const outcomes: JobOutcome[] = [];
  for (const { id, data } of jobs) {
    // A scheduled tick carries no date: the run is of the day it starts on, and its chain keeps it.
    const date = data.date ?? seoulDate(new Date());
    const batch = await expireBatch(ctx.db, {
      date,
      after: data.after ?? null,
      batchSize: data.batchSize,
      inTransaction: async (trx, b) => {
        if (!b.more || !b.after) return;
        await enqueue(
          ctx.boss,
          'pointsExpire',
          { date, after: b.after, batchSize: data.batchSize, requestId: data.requestId },
          { trx, singletonKey: `expire:${date}:${b.after}` },
        );
      },
    });
    const output = {
      date,
      scanned: batch.scanned,
      expired: batch.expired,
      points: batch.points,
      more: batch.more,
    };
    ctx.log.info({ queue: QUEUES.pointsExpire.name, jobId: id, ...output }, 'points expiry batch');
    outcomes.push({ id, status: 'completed', output });
  }
  return outcomes;
});
