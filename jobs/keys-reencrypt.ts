/**
 * keys.reencrypt: one batch of key rotation per job. A job whose batch leaves work behind enqueues
 * its successor in the batch's own transaction (the queue is stately, so the chain stays one job at
 * a time), so progress survives crashes and restarts: the work left is always "entries not under
 * the active key", and a retried or duplicate job just finds less of it.
 */
import { REENCRYPT_SINGLETON, reencryptBatch } from '../src/keys/rotation.ts';
import { enqueue } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import type { JobOutcome } from '../src/queue/pump.ts';
import { defineHandler } from './context.ts';

export const keysReencrypt = defineHandler(QUEUES.keysReencrypt, (ctx) => {
  // Keyset cursor carried from one batch to the next in this worker. Only a hint: lost on restart
  // (the next batch then starts from the first id) and never needed for correctness.
  let after: string | null = null;
  return async (jobs) => {
    const outcomes: JobOutcome[] = [];
    for (const job of jobs) {
      const data = job.data;
      const batch = await reencryptBatch(ctx.db, ctx.keyring, {
        batchSize: data.batchSize,
        after,
        requestId: data.requestId ?? null,
        onMore: async (trx, next) => {
          await enqueue(
            ctx.boss,
            'keysReencrypt',
            { batchSize: data.batchSize, requestId: data.requestId },
            {
              trx,
              singletonKey: REENCRYPT_SINGLETON,
              ...(next.delaySeconds > 0 ? { startAfter: next.delaySeconds } : {}),
            },
          );
        },
      });
      after = batch.after;
      const summary = {
        rotation: batch.rotationId,
        activeKeyId: batch.activeKeyId,
        done: batch.done,
        skipped: batch.skipped,
        more: batch.more,
        remaining: batch.remaining,
      };
      ctx.log.info({ queue: QUEUES.keysReencrypt.name, jobId: job.id, ...summary }, 'key rotation batch');
      outcomes.push({ id: job.id, status: 'completed', output: summary });
    }
    return outcomes;
  };
});
