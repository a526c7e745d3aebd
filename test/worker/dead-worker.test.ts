/**
 * A worker that dies (SIGKILL: no drain, no hand-back) leaves its jobs active. They carry a heartbeat
 * the worker refreshed; once it stops, another worker's supervisor retries them — long before the
 * 10-minute expiry of analysis.run — and each is then done exactly once: one analysis and one slip
 * check per entry, no model call repeated by a live worker.
 */
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { HEARTBEAT_SECONDS } from '../../src/queue/boss.ts';
import { QUEUES } from '../../src/queue/catalog.ts';
import { goodAnswer } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { hasMsg, type SumdaProcess, waitUntil } from '../support/process.ts';
import { useFakeModelWorkers } from '../support/worker.ts';

const database = useTestDatabase();
const workers = useFakeModelWorkers(database, { openaiTimeoutMs: 120_000 });

function startWorker(): SumdaProcess {
  return workers.start(['worker', '--queues', 'analysis.run,slip.check', '--poll-interval', '200ms']);
}

it('the jobs of a SIGKILLed worker are retried by another within well under a minute, each done once', async () => {
  // The expiry alone would take ten minutes: this test could not pass on it.
  expect(QUEUES.analysisRun.expireInSeconds).toBeGreaterThanOrEqual(600);
  const ids = await workers.enqueueEntries(4, (i) => `${i + 1}번째 일기: 오늘은 조용했다.`);

  // Worker A takes every job and hangs in the model calls; it keeps their heartbeats fresh.
  workers.fake.responder = () => ({ kind: 'hang' });
  const a = startWorker();
  await waitUntil(() => workers.fake.chatRequests().length >= ids.length, { what: 'A to hold every job' });
  const held = await sql<{ id: string; heartbeat_seconds: number | null }>`
    select id, heartbeat_seconds from pgboss.job where name = 'analysis.run' and state = 'active'`.execute(
    database.db,
  );
  expect(held.rows).toHaveLength(ids.length);
  expect(held.rows.every((r) => r.heartbeat_seconds === HEARTBEAT_SECONDS)).toBe(true);

  // Worker B runs beside it (as in production) and finds nothing to take while A holds everything.
  const b = startWorker();
  await b.waitForLine(hasMsg('worker started'));
  a.send('SIGKILL');
  await a.exited;
  const killedAt = Date.now();
  const callsByA = workers.fake.chatRequests().length;
  workers.fake.responder = () => ({ kind: 'json', content: goodAnswer() });
  await waitUntil(
    async () => {
      const r = await sql<{ n: number }>`
        select count(*)::int as n from pgboss.job where name = 'slip.check' and state = 'completed'`.execute(
        database.db,
      );
      return r.rows[0]!.n === ids.length;
    },
    { what: "B to redo A's jobs and their slip checks", timeoutMs: 55_000, intervalMs: 250 },
  );
  const recoveredMs = Date.now() - killedAt;
  expect(
    b.logs().find((l) => l.msg === 'retrying at once the jobs of a worker whose heartbeat stopped'),
  ).toMatchObject({
    jobs: ids.length,
  });

  const jobs = await sql<{ state: string; retry_count: number; output: { status?: string } | null }>`
    select state::text, retry_count, output from pgboss.job where name = 'analysis.run'`.execute(database.db);
  expect(jobs.rows).toHaveLength(ids.length);
  for (const job of jobs.rows) {
    expect(job).toMatchObject({ state: 'completed', retry_count: 1, output: { status: 'stored' } });
  }
  // Exactly once to effect: one analysis per entry, one slip check per analysis, one model call per
  // entry by B (A's calls died with A).
  const analyses = await database.db
    .selectFrom('analysis_results')
    .select('diary_id')
    .where('diary_id', 'in', ids)
    .execute();
  expect(analyses.map((r) => r.diary_id).sort()).toEqual([...ids].sort());
  expect(workers.fake.chatRequests().length - callsByA).toBe(ids.length);
  const checks = await sql<{
    n: number;
  }>`select count(*)::int as n from pgboss.job where name = 'slip.check'`.execute(database.db);
  expect(checks.rows[0]!.n).toBe(ids.length);
  // pg-boss retried them (heartbeat lost); no handler failed.
  const errors = await database.db
    .selectFrom('admin.error_logs')
    .select('message')
    .where('service', '=', 'analysis')
    .execute();
  expect(errors).toEqual([]);
  console.log(`dead worker's jobs recovered ${recoveredMs} ms after the SIGKILL`);
}, 90_000);
