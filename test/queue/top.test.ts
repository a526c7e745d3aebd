/**
 * `sumda top`: NDJSON snapshots with --json (one per interval, --count of them), each queue of the
 * catalog with its depth from pg-boss's counters, what finished in the last minute, and dead letters.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { createBoss, enqueueMany } from '../../src/queue/boss.ts';
import { ALL_QUEUES } from '../../src/queue/catalog.ts';
import { topSnapshot } from '../../src/queue/top.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

it('counts what waits, what finished in the last minute and the dead letters, per queue', async () => {
  const boss = createBoss(database.url);
  await boss.start();
  try {
    await enqueueMany(
      boss,
      'slipCheck',
      ['1', '2', '3'].map((n) => ({
        payload: { analysisId: `6f1c0d2e-1111-4222-8333-44445555666${n}` },
        singletonKey: `k${n}`,
      })),
    );
    const [job] = await boss.fetch('slip.check', { batchSize: 1 });
    await boss.complete('slip.check', job!.id);
    await boss.send('slip.check.dead', { analysisId: '6f1c0d2e-1111-4222-8333-444455556669' });
    // What a worker's supervisor does every few seconds.
    await sql`update pgboss.queue set ready_count = 2, queued_count = 2, ready_oldest_seconds = 7, monitor_on = now()
              where name = 'slip.check'`.execute(database.db);
    await sql`update pgboss.queue set queued_count = 1 where name = 'slip.check.dead'`.execute(database.db);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  const snap = await topSnapshot(database.db);
  expect(snap.queues.map((q) => q.queue)).toEqual(ALL_QUEUES.map((q) => q.name));
  expect(snap.queues.find((q) => q.queue === 'slip.check')).toEqual({
    queue: 'slip.check',
    ready: 2,
    deferred: 0,
    active: 0,
    oldestSeconds: 7,
    completedPerMin: 1,
    failedPerMin: 0,
    dead: 1,
  });

  const result = await runSumda(['top', '--json', '--count', '2', '--interval', '100ms'], {
    env: { DATABASE_URL: database.url },
  });
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.trim().split('\n');
  expect(lines).toHaveLength(2);
  for (const line of lines) {
    const parsed = JSON.parse(line) as typeof snap;
    expect(parsed.queues.find((q) => q.queue === 'slip.check')).toMatchObject({ ready: 2, dead: 1 });
  }

  const table = await runSumda(['top', '--count', '1'], { env: { DATABASE_URL: database.url } });
  expect(table.code, table.stderr).toBe(0);
  expect(table.stdout).toMatch(/queue\s.*ready.*deferred.*active.*oldest.*done\/min.*failed\/min.*dead/);
  expect(table.stdout).toContain('slip.check');
}, 90_000);
