/**
 * One-shot pumps of the same run end together: a pump whose queue is empty keeps fetching while
 * another pump of its run still holds jobs (which may enqueue work for it), so a billing scan's
 * renewals — or an analysis's slip check — run while the scan runs, not in a round after it.
 */
import { expect, it } from 'vitest';
import { createBoss, enqueue } from '../../src/queue/boss.ts';
import { QUEUES } from '../../src/queue/catalog.ts';
import { type JobOutcome, QueuePump } from '../../src/queue/pump.ts';
import { captureLogs } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

it('an idle one-shot pump works what a busy pump of its run enqueues, before that pump finishes', async () => {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    const { log } = captureLogs('info');
    let renewed: () => void = () => {};
    const renewalRan = new Promise<void>((resolve) => {
      renewed = resolve;
    });
    const seen: string[] = [];
    const pumps: QueuePump[] = [];
    const options = {
      batchSize: 1,
      concurrency: 1,
      pollIntervalMs: 20,
      once: true,
      isPaused: () => false,
      log,
      othersBusy: () => pumps.some((p) => p.busy),
    };
    // The "scan" enqueues a renewal, then waits (bounded) for it to have run: it can only finish in
    // time if the renewal pump, empty when the run began, is still fetching.
    pumps.push(
      new QueuePump(
        boss,
        QUEUES.billingScan,
        async (jobs): Promise<JobOutcome[]> => {
          await enqueue(boss, 'billingRenew', {
            subscriptionId: '00000000-0000-4000-8000-000000000001',
          });
          const ran = await Promise.race([
            renewalRan.then(() => true),
            new Promise<false>((resolve) => setTimeout(() => resolve(false), 5000)),
          ]);
          seen.push(ran ? 'scan saw the renewal' : 'scan timed out');
          return jobs.map((j) => ({ id: j.id, status: 'completed' }));
        },
        options,
      ),
      new QueuePump(
        boss,
        QUEUES.billingRenew,
        async (jobs): Promise<JobOutcome[]> => {
          seen.push('renewal');
          renewed();
          return jobs.map((j) => ({ id: j.id, status: 'completed' }));
        },
        options,
      ),
    );
    await enqueue(boss, 'billingScan', {});
    for (const p of pumps) void p.start();
    await Promise.all(pumps.map((p) => p.drained()));
    expect(seen).toEqual(['renewal', 'scan saw the renewal']);
    expect(pumps.map((p) => p.stats.completed)).toEqual([1, 1]);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
});
