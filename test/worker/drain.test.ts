/**
 * Stopping `sumda worker` (a subprocess) with the OpenAI analyzer pointed at the fake in this
 * process: the first SIGTERM stops fetching and lets in-flight calls finish (exit 0, results
 * stored, heartbeat lines meanwhile); a second SIGTERM during the drain exits at once (130); a
 * drain that outlasts --drain-timeout exits 1 and says so.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { analysisJobsOf, goodAnswer } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { hasMsg, type SumdaProcess, waitUntil } from '../support/process.ts';
import { useFakeModelWorkers } from '../support/worker.ts';

const database = useTestDatabase();
const workers = useFakeModelWorkers(database);

/** `n` new entries of a new user, enqueued for analysis. */
const enqueueEntries = (n: number) =>
  workers.enqueueEntries(n, (i) => `퇴근길에 ${i + 1}번 버스를 놓쳐서 걸어왔다.`);

function startWorker(extra: string[]): SumdaProcess {
  return workers.start(['worker', '--queues', 'analysis.run', '--poll-interval', '100ms', ...extra]);
}

async function activeJobs(ids: string[]): Promise<string[]> {
  const rows = await sql<{ id: string }>`
    select id from pgboss.job
    where name = 'analysis.run' and state = 'active' and data->>'diaryId' = any(${ids}::text[])`.execute(
    database.db,
  );
  return rows.rows.map((r) => r.id);
}

describe('SIGTERM', () => {
  it('drains: in-flight jobs finish and are stored, the process exits 0; heartbeats meanwhile', async () => {
    workers.fake.responder = () => ({ kind: 'json', content: goodAnswer(), delayMs: 1500 });
    const ids = await enqueueEntries(10);
    const w = startWorker(['--heartbeat', '200ms', '--drain-timeout', '20s']);
    await waitUntil(() => workers.fake.chatRequests().length >= ids.length, {
      what: 'every call to be in flight',
    });
    const inFlight = await activeJobs(ids);
    expect(inFlight.length).toBeGreaterThan(0);
    w.send('SIGTERM');

    expect(await w.exited, w.stderr.slice(-5).join('\n')).toEqual({ code: 0, signal: null });
    const logs = w.logs();
    expect(logs.some((l) => l.msg === 'stopping: no new jobs; waiting for in-flight jobs')).toBe(true);
    expect(logs.find((l) => l.msg === 'worker stopped')).toMatchObject({
      drained: true,
      processed: { 'analysis.run': { completed: ids.length, failed: 0 } },
    });
    expect(logs.filter((l) => l.msg === 'heartbeat').length).toBeGreaterThan(0);
    expect(logs.find((l) => l.msg === 'heartbeat')).toMatchObject({
      queues: {
        'analysis.run': { fetched: expect.any(Number), inFlight: expect.any(Number), paused: false },
      },
    });

    // Every job that was active at the signal is completed, with its result.
    const results = await database.db
      .selectFrom('analysis_results')
      .select('diary_id')
      .where('diary_id', 'in', ids)
      .execute();
    expect(results.map((r) => r.diary_id).sort()).toEqual([...ids].sort());
    for (const id of ids) {
      expect(await analysisJobsOf(database.db, id)).toMatchObject([
        { state: 'completed', retry_count: 0, output: { status: 'stored' } },
      ]);
    }
    const completed = await sql<{ id: string }>`
      select id from pgboss.job where state = 'completed' and id = any(${inFlight}::uuid[])`.execute(
      database.db,
    );
    expect(completed.rows).toHaveLength(inFlight.length);
    expect(workers.fake.chatRequests()).toHaveLength(ids.length); // nothing was retried
  });

  it('a second SIGTERM during the drain exits at once, non-zero', async () => {
    workers.fake.responder = () => ({ kind: 'hang' });
    const ids = await enqueueEntries(2);
    const w = startWorker(['--drain-timeout', '60s']);
    await waitUntil(() => workers.fake.chatRequests().length >= ids.length, { what: 'the calls to hang' });
    w.send('SIGTERM');
    await w.waitForLine(hasMsg('stopping: no new jobs; waiting for in-flight jobs'));
    w.send('SIGTERM');
    const exit = await w.exited;
    expect(exit).toEqual({ code: 130, signal: null });
    expect(w.logs().some((l) => l.msg === 'worker stopped')).toBe(false);
  });

  it('a drain that outlasts --drain-timeout exits 1 and says so', async () => {
    workers.fake.responder = () => ({ kind: 'hang' });
    const ids = await enqueueEntries(2);
    const w = startWorker(['--drain-timeout', '200ms']);
    await waitUntil(() => workers.fake.chatRequests().length >= ids.length, { what: 'the calls to hang' });
    w.send('SIGTERM');
    const exit = await w.exited;
    expect(exit, w.stderr.slice(-5).join('\n')).toEqual({ code: 1, signal: null });
    const logs = w.logs();
    expect(
      logs.find((l) => l.msg === 'drain timed out; aborting in-flight jobs (they will be retried)'),
    ).toMatchObject({
      level: 50,
      inFlight: ids.length,
    });
    expect(logs.find((l) => l.msg === 'worker stopped')).toMatchObject({ drained: false });
    // The aborted jobs were handed back for a retry (not left active until they expire), and recorded.
    expect(
      logs.filter(
        (l) => l.level === 50 && l.msg !== 'drain timed out; aborting in-flight jobs (they will be retried)',
      ),
    ).toEqual([]);
    for (const id of ids) {
      expect(await analysisJobsOf(database.db, id)).toMatchObject([{ state: 'retry' }]);
      const errors = await database.db
        .selectFrom('admin.error_logs')
        .selectAll()
        .where('ref_id', '=', id)
        .execute();
      expect(errors).toMatchObject([{ service: 'analysis', context: { queue: 'analysis.run', attempt: 1 } }]);
    }
    // Nothing was invented for the calls that never answered.
    const results = await database.db
      .selectFrom('analysis_results')
      .select('id')
      .where('diary_id', 'in', ids)
      .execute();
    expect(results).toEqual([]);
  });
});
