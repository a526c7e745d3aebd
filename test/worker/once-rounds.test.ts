/**
 * `worker --once` stops at its round limit: a due job it cannot work (its queue is paused) does not
 * keep it looping; the run reports `drained: false` (the command exits 1) and leaves the job.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { runWorker } from '../../jobs/runtime.ts';
import { createBoss, enqueue } from '../../src/queue/boss.ts';
import { captureLogs, jobsIn, testConfig, testKeys } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

it('a --once run that cannot empty its queues stops at the round limit with drained: false', async () => {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    await enqueue(boss, 'keysReencrypt', { batchSize: 10 });
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  await sql`insert into sumda.queue_state (queue, reason) values ('keys.reencrypt', 'test')`.execute(
    database.db,
  );
  const { log, lines } = captureLogs('info');
  const result = await runWorker({
    url: database.url,
    config: testConfig(database.url, testKeys().env),
    log,
    queues: ['keys.reencrypt'],
    once: true,
    drainTimeoutMs: 10_000,
    heartbeatMs: 60_000,
    pollIntervalMs: 100,
    signal: new AbortController().signal,
  });
  expect(result).toMatchObject({
    drained: false,
    interrupted: false,
    processed: { 'keys.reencrypt': { completed: 0, failed: 0 } },
  });
  const stopped = lines.map((l) => JSON.parse(l)).find((l) => l.msg.includes('round limit'));
  expect(stopped).toMatchObject({ maxRounds: 20, due: 1 });
  expect((await jobsIn(database.db, 'keys.reencrypt')).map((j) => j.state)).toEqual(['created']);
});
