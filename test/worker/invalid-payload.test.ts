/**
 * A job whose payload does not parse will never parse: `defineHandler` fails it at once, without
 * retries, into its queue's dead-letter queue (or `failed` where the queue has none), the worker
 * records one error row under the queue's service, and the rest of the batch is worked as usual.
 */
import { expect, it } from 'vitest';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import { createBoss } from '../../src/queue/boss.ts';
import {
  captureLogs,
  createUser,
  jobsIn,
  runWorkerOnce,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

/**
 * Sends around the catalog (an old producer, a hand-made job): pg-boss takes any payload. Each job
 * gets its own singleton key (every queue is stately: one queued job per key).
 */
async function sendRaw(jobs: { queue: string; data: object }[]): Promise<string[]> {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    const ids: string[] = [];
    for (const [i, { queue, data }] of jobs.entries())
      ids.push((await boss.send(queue, data, { singletonKey: `raw-${i}` }))!);
    return ids;
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

/** The error rows about these jobs (the database is shared by the tests of this file). */
async function errorRows(jobIds: (string | undefined)[]) {
  const rows = await database.db.selectFrom('admin.error_logs').selectAll().orderBy('id').execute();
  return rows.filter((r) => jobIds.includes((r.context as { job_id?: string }).job_id));
}

it('an invalid analysis.run payload goes to the dead-letter queue, not retried, beside a valid job of its batch', async () => {
  const keys = testKeys();
  const user = await createUser(database.db);
  const diary = await writeDiary(database.db, keys.keyring, user, '오늘은 친구와 오래 걸었다.');
  const [invalidId, validId] = await sendRaw([
    {
      queue: 'analysis.run',
      data: { diaryId: 'not-a-uuid', promptName: 'analysis', promptVersion: 'builtin-1' },
    },
    {
      queue: 'analysis.run',
      data: { diaryId: diary, promptName: 'analysis', promptVersion: 'builtin-1' },
    },
  ]);
  const { log } = captureLogs('info');
  const result = await runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, keys.env),
    log,
    analyzer: createLocalAnalyzer(),
  });
  expect(result).toMatchObject({ drained: true, processed: { 'analysis.run': { completed: 1, failed: 1 } } });

  const jobs = new Map((await jobsIn(database.db, 'analysis.run')).map((j) => [j.id, j]));
  expect(jobs.get(validId!)).toMatchObject({ state: 'completed' });
  // Failed on its first attempt with no retry left: pg-boss moved it to the dead-letter queue.
  expect(jobs.get(invalidId!)).toMatchObject({ state: 'failed', retry_count: 0 });
  const dead = await jobsIn(database.db, 'analysis.run.dead');
  expect(dead).toHaveLength(1);
  expect(dead[0]).toMatchObject({ state: 'created', source_id: invalidId, data: { diaryId: 'not-a-uuid' } });

  const errors = await errorRows([invalidId, validId]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({
    service: 'analysis',
    severity: 'error',
    ref_id: null,
    context: { job_id: invalidId, terminal: true, outcome: 'dead_lettered' },
  });
  expect(errors[0]!.message).toMatch(/^analysis\.run failed: invalid payload: diaryId: /);
});

it('a batch of only invalid keys.reencrypt payloads is dead-lettered under the queue service (diary)', async () => {
  const keys = testKeys();
  const [zero, notANumber] = await sendRaw([
    { queue: 'keys.reencrypt', data: { batchSize: 0 } },
    { queue: 'keys.reencrypt', data: { batchSize: 'many' } },
  ]);
  const { log } = captureLogs('info');
  const result = await runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, keys.env),
    log,
    queues: ['keys.reencrypt'],
  });
  expect(result.processed['keys.reencrypt']).toEqual({ completed: 0, failed: 2 });
  const dead = await jobsIn(database.db, 'keys.reencrypt.dead');
  expect(dead.map((j) => j.source_id).sort()).toEqual([zero, notANumber].sort());
  const errors = await errorRows([zero, notANumber]);
  expect(errors.map((e) => e.service)).toEqual(['diary', 'diary']);
  expect(errors.every((e) => e.message.startsWith('keys.reencrypt failed: invalid payload: '))).toBe(true);
});

it('on a queue without a dead-letter queue the invalid job fails for good instead of completing', async () => {
  const keys = testKeys();
  const [invalid] = await sendRaw([{ queue: 'slip.release', data: { requestId: 'not-a-uuid' } }]);
  const { log } = captureLogs('info');
  const result = await runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, keys.env),
    log,
    queues: ['slip.release'],
  });
  // The scheduler tick `--once` sends first is valid and completes; the hand-made job does not.
  expect(result).toMatchObject({ drained: true, processed: { 'slip.release': { completed: 1, failed: 1 } } });
  const job = (await jobsIn(database.db, 'slip.release')).find((j) => j.id === invalid);
  expect(job).toMatchObject({ state: 'failed', retry_count: 0 });
  const errors = await errorRows([invalid]);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ service: 'slip', context: { job_id: invalid, terminal: true } });
});
