/**
 * The slip.check layout that keeps a large backlog fast (README "Backlogs"): a standard queue in a
 * partition of its own on new installs; an existing install's stately queue is relaxed to standard in
 * place by the install every `db migrate` and worker start runs — queue row and waiting jobs alike.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { createBoss, enqueueMany, installQueues } from '../../src/queue/boss.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

async function layout(name: string) {
  const r = await sql<{ policy: string; partition: boolean; table_name: string }>`
    select policy, partition, table_name from pgboss.queue where name = ${name}`.execute(database.db);
  return r.rows[0];
}

it('a new install has slip.check as a standard queue with its own table', async () => {
  const q = await layout('slip.check');
  expect(q).toMatchObject({ policy: 'standard', partition: true });
  expect(q!.table_name).not.toBe('job_common');
  // analysis.run keeps its stately dedupe (an entry is enqueued once per prompt version).
  expect(await layout('analysis.run')).toMatchObject({ policy: 'stately' });
});

it('an install whose slip.check is stately is relaxed in place, waiting jobs included; finished jobs untouched', async () => {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    await enqueueMany(boss, 'slipCheck', [
      { payload: { analysisId: '6f1c0d2e-1111-4222-8333-444455556661' }, singletonKey: 'a1' },
      { payload: { analysisId: '6f1c0d2e-1111-4222-8333-444455556662' }, singletonKey: 'a2' },
    ]);
    // As an older sumda installed it.
    await sql`update pgboss.queue set policy = 'stately' where name = 'slip.check'`.execute(database.db);
    await sql`update pgboss.job set policy = 'stately' where name = 'slip.check'`.execute(database.db);
    await sql`update pgboss.job set state = 'completed', completed_on = now()
              where name = 'slip.check' and singleton_key = 'a2'`.execute(database.db);

    await installQueues(boss);
    await installQueues(boss); // idempotent

    expect(await layout('slip.check')).toMatchObject({ policy: 'standard' });
    const jobs = await sql<{ singleton_key: string; policy: string }>`
      select singleton_key, policy from pgboss.job where name = 'slip.check' order by singleton_key`.execute(
      database.db,
    );
    expect(jobs.rows).toEqual([
      { singleton_key: 'a1', policy: 'standard' },
      { singleton_key: 'a2', policy: 'stately' },
    ]);
    // And this process's pg-boss sees the new policy (its queue cache was reloaded).
    expect((await boss.getQueue('slip.check'))?.policy).toBe('standard');
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
});
