/**
 * `sumda worker --once` (a subprocess, the OpenAI analyzer against the fake in this process):
 * SIGTERM drains like the daemon (in-flight calls finish and are stored, nothing new is fetched,
 * exit 130); a 429's `retry-after` reaches pg-boss (the retry starts no earlier); retries due within
 * `--retry-horizon` are waited for, later ones are counted and reported.
 */
import { sql } from 'kysely';
import { beforeEach, describe, expect, it } from 'vitest';
import { analysisJobsOf, goodAnswer } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { waitUntil } from '../support/process.ts';
import { useFakeModelWorkers } from '../support/worker.ts';

const database = useTestDatabase();
const workers = useFakeModelWorkers(database);

beforeEach(async () => {
  // Each test starts from an empty analysis queue.
  await sql`delete from pgboss.job where name like 'analysis.%' or name like 'slip.%'`.execute(database.db);
});

const enqueueEntries = (n: number) => workers.enqueueEntries(n, (i) => `오늘은 ${i + 1}번째로 산책을 했다.`);
const env = () => workers.env();

describe('worker --once', () => {
  it('drains on SIGTERM: in-flight calls finish and are stored, nothing more is fetched, exit 130', async () => {
    workers.fake.responder = () => ({ kind: 'json', content: goodAnswer(), delayMs: 1500 });
    const ids = await enqueueEntries(12);
    const worker = workers.start([
      'worker',
      '--once',
      '--queues',
      'analysis.run',
      '--concurrency',
      '4',
      '--batch-size',
      '2',
    ]);
    await waitUntil(() => workers.fake.chatRequests().length >= 4, { what: 'four calls in flight' });
    worker.send('SIGTERM');
    const exit = await worker.exited;
    expect(exit, worker.stderr.slice(-5).join('\n')).toEqual({ code: 130, signal: null });
    const logs = worker.logs();
    expect(logs.some((l) => l.msg === 'stopping: no new jobs; waiting for in-flight jobs')).toBe(true);
    expect(logs.find((l) => l.msg === 'worker --once finished')).toMatchObject({
      drained: true,
      interrupted: true,
    });
    // Every call that was made was stored; the rest of the entries still wait, untouched.
    const calls = workers.fake.chatRequests().length;
    expect(calls).toBeLessThan(ids.length);
    const stored = await database.db
      .selectFrom('analysis_results')
      .select('diary_id')
      .where('diary_id', 'in', ids)
      .execute();
    expect(stored).toHaveLength(calls);
    const states = await sql<{ state: string; n: number }>`
      select state::text, count(*)::int as n from pgboss.job where name = 'analysis.run' group by state`.execute(
      database.db,
    );
    expect(Object.fromEntries(states.rows.map((r) => [r.state, r.n]))).toEqual({
      completed: calls,
      created: ids.length - calls,
    });
  });

  it("passes a 429's retry-after to pg-boss and reports the job it leaves beyond the horizon", async () => {
    // Every attempt is refused (the SDK's two retries included) with a retry-after of two minutes.
    workers.fake.responder = () => ({ kind: 'error', status: 429, retryAfterSeconds: 120 });
    const [id] = await enqueueEntries(1);
    const before = Date.now();
    const result = await runSumda(
      ['worker', '--once', '--queues', 'analysis.run', '--retry-horizon', '60s', '--json'],
      { env: env() },
    );
    expect(result.code, result.stderr).toBe(0);
    const out = JSON.parse(result.stdout) as { left: { waiting: number; nextAt: string } };
    expect(out.left.waiting).toBe(1);
    const [job] = await analysisJobsOf(database.db, id!);
    expect(job).toMatchObject({ state: 'retry' });
    // The queue's own backoff would say 15 s; the server said 120 s.
    const startAfter = await sql<{ start_after: Date }>`
      select start_after from pgboss.job where id = ${job!.id}::uuid`.execute(database.db);
    expect(startAfter.rows[0]!.start_after.getTime()).toBeGreaterThanOrEqual(before + 119_000);
    expect(new Date(out.left.nextAt).getTime()).toBe(startAfter.rows[0]!.start_after.getTime());
  });

  it('waits for a retry due within the horizon and finishes the job', async () => {
    // The first call and the SDK's retries are refused; the queue's retry (15 s later) is answered.
    let calls = 0;
    workers.fake.responder = () =>
      ++calls <= 3
        ? { kind: 'error', status: 429, retryAfterMs: 50 }
        : { kind: 'json', content: goodAnswer() };
    const [id] = await enqueueEntries(1);
    const result = await runSumda(
      ['worker', '--once', '--queues', 'analysis.run', '--retry-horizon', '60s', '--json'],
      { env: env() },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      left: null,
      processed: { 'analysis.run': { completed: 1, failed: 1 } },
    });
    expect(result.stderr).toContain('waiting for retries due within the horizon');
    expect(await analysisJobsOf(database.db, id!)).toMatchObject([{ state: 'completed', retry_count: 1 }]);
  }, 90_000);

  it('with --retry-horizon 0 it does not wait, and says so on stderr', async () => {
    workers.fake.responder = () => ({ kind: 'error', status: 503 });
    await enqueueEntries(1);
    const result = await runSumda(['worker', '--once', '--queues', 'analysis.run', '--retry-horizon', '0'], {
      env: env(),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(
      /1 job\(s\) still wait for a later start \(next at \S+\); run again after that/,
    );
  });
});
