/**
 * A job whose payload does not parse will never parse: the worker completes it with a `rejected`
 * output and one error row — it is not retried — also when the whole batch is invalid.
 */
import { expect, it } from 'vitest';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import { createBoss } from '../../src/queue/boss.ts';
import { captureLogs, jobsIn, runWorkerOnce, testConfig, testKeys } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

it('an analysis.run job with an invalid payload is completed as rejected and recorded once', async () => {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    // Sent around the catalog (an old producer, a hand-made job): the payload is not what the queue takes.
    await boss.send('analysis.run', {
      diaryId: 'not-a-uuid',
      promptName: 'analysis',
      promptVersion: 'builtin-1',
    });
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  const { log } = captureLogs('info');
  const result = await runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, testKeys().env),
    log,
    analyzer: createLocalAnalyzer(),
  });
  expect(result.processed['analysis.run']).toEqual({ completed: 1, failed: 0 });
  const [job, ...more] = await jobsIn(database.db, 'analysis.run');
  expect(more).toHaveLength(0);
  expect(job).toMatchObject({ state: 'completed', retry_count: 0, output: { rejected: 'invalid payload' } });
  const errors = await database.db.selectFrom('admin.error_logs').selectAll().execute();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ service: 'analysis', context: { job_id: job!.id } });
  expect(errors[0]!.message).toMatch(/^invalid analysis.run payload: diaryId: /);
});
