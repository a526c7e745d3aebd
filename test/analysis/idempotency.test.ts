/**
 * Idempotency of analysis: duplicate enqueues (library and `sumda analysis enqueue`) make one job
 * per (entry, prompt version) and one result; running the same job twice — one after the other or
 * at the same time — stores one row and one slip check; the scheduled scan leaves entries whose
 * analysis failed terminally alone, while an operator's `analysis enqueue` re-runs them.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueRange } from '../../src/analysis/enqueue.ts';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import {
  type ActivePrompt,
  type AnalysisDeps,
  activePrompt,
  analyzeBatch,
  enqueueAnalyses,
  findUnanalysed,
} from '../../src/analysis/run.ts';
import { InterruptedError } from '../../src/errors.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import { UNLIMITED } from '../../src/queue/budget.ts';
import {
  ADMIN_EMAIL,
  analysisJobsOf,
  bootstrapTestAdmin,
  captureLogs,
  createUser,
  failingAnalyzer,
  jobsIn,
  runWorkerOnce,
  type TestKeys,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { runSumdaInProcess } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let boss: PgBoss;
let keys: TestKeys;
let prompt: ActivePrompt;
let admin: Awaited<ReturnType<typeof bootstrapTestAdmin>>;
const { log } = captureLogs('info');

beforeAll(async () => {
  keys = testKeys();
  admin = await bootstrapTestAdmin(database.db);
  boss = createBoss(database.url);
  await boss.start();
  prompt = await activePrompt(new PolicyResolver(database.db));
});

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
});

async function diaries(n: number): Promise<{ userId: string; ids: string[] }> {
  const userId = await createUser(database.db);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await writeDiary(database.db, keys.keyring, userId, `오늘은 ${i + 1}번째로 조용히 책을 읽었다.`),
    );
  }
  return { userId, ids };
}

async function resultsOf(diaryId: string) {
  return database.db.selectFrom('analysis_results').select(['id']).where('diary_id', '=', diaryId).execute();
}

function deps(): AnalysisDeps {
  return {
    db: database.db,
    boss,
    keyring: keys.keyring,
    resolver: new PolicyResolver(database.db),
    analyzer: createLocalAnalyzer(),
    budget: UNLIMITED,
    log,
  };
}

/**
 * `sumda analysis enqueue` in this process (its subprocess, exit codes included, is proven in
 * test/roles/runtime.test.ts and test/calendar/grammar.test.ts): three spawns here cost over 30 s
 * on a loaded machine.
 */
function enqueueCli(userId: string) {
  return runSumdaInProcess(['analysis', 'enqueue', '--user', userId, '--yes', '--json'], {
    env: { DATABASE_URL: database.url, SUMDA_ACTOR: ADMIN_EMAIL },
  });
}

function work(analyzer = createLocalAnalyzer(), queues?: string[]) {
  return runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, keys.env),
    log,
    analyzer,
    ...(queues ? { queues } : {}),
  });
}

describe('duplicate enqueues', () => {
  it('the same entry enqueued three times is one job', async () => {
    const { ids } = await diaries(1);
    await enqueueAnalyses(boss, ids, prompt);
    await enqueueAnalyses(boss, ids, prompt);
    await enqueueAnalyses(boss, [ids[0]!, ids[0]!], prompt);
    expect(await analysisJobsOf(database.db, ids[0]!)).toHaveLength(1);
  });

  it('`analysis enqueue` twice: one job and, after the worker, one result per entry', async () => {
    const { userId, ids } = await diaries(3);
    for (let run = 0; run < 2; run++) {
      const result = await enqueueCli(userId);
      expect(result.code, result.stderr).toBe(0);
      // The second run finds the same three entries but creates no job: they are already waiting.
      expect(JSON.parse(result.stdout)).toMatchObject(
        run === 0
          ? { enqueued: 3, alreadyQueued: 0, ...prompt }
          : { enqueued: 0, alreadyQueued: 3, ...prompt },
      );
    }
    for (const id of ids) expect(await analysisJobsOf(database.db, id)).toHaveLength(1);

    await work();
    for (const id of ids) {
      expect(await resultsOf(id)).toHaveLength(1);
      expect(await analysisJobsOf(database.db, id)).toMatchObject([
        { state: 'completed', retry_count: 0, output: { status: 'stored' } },
      ]);
    }
    // With results in place, a third run finds nothing to do.
    const third = await enqueueCli(userId);
    expect(JSON.parse(third.stdout)).toMatchObject({ wouldEnqueue: 0 });
  });
});

describe('the same job run twice', () => {
  it('one after the other: one row, the second run skips', async () => {
    const { ids } = await diaries(1);
    const job = { jobId: randomUUID(), diaryId: ids[0]!, ...prompt };
    const [first] = await analyzeBatch(deps(), [job]);
    const [second] = await analyzeBatch(deps(), [job]);
    expect(first).toMatchObject({ status: 'stored' });
    expect(second).toEqual({ jobId: job.jobId, status: 'skipped', reason: 'exists' });
    expect(await resultsOf(ids[0]!)).toHaveLength(1);
  });

  it('at the same time: one row and one slip check', async () => {
    const { ids } = await diaries(1);
    const job = { jobId: randomUUID(), diaryId: ids[0]!, ...prompt };
    const outcomes = (await Promise.all([analyzeBatch(deps(), [job]), analyzeBatch(deps(), [job])])).flat();
    expect(outcomes.map((o) => o.status).sort()).toEqual(['skipped', 'stored']);
    const rows = await resultsOf(ids[0]!);
    expect(rows).toHaveLength(1);
    const checks = (await jobsIn(database.db, 'slip.check')).filter(
      (j) => j.data?.analysisId === rows[0]!.id,
    );
    expect(checks).toHaveLength(1);
  });
});

describe('one batch, several jobs', () => {
  it('each slip check follows the request of its own job', async () => {
    const { ids } = await diaries(2);
    const jobs = ids.map((diaryId) => ({ jobId: randomUUID(), diaryId, ...prompt, requestId: randomUUID() }));
    const outcomes = await analyzeBatch(deps(), jobs);
    expect(outcomes.map((o) => o.status)).toEqual(['stored', 'stored']);
    const checks = await jobsIn(database.db, 'slip.check');
    for (const [i, outcome] of outcomes.entries()) {
      const analysisId = (outcome as { analysisId: string }).analysisId;
      expect(checks.filter((c) => c.data?.analysisId === analysisId)).toMatchObject([
        { data: { analysisId, requestId: jobs[i]!.requestId } },
      ]);
    }
  });
});

describe('analysis enqueue', () => {
  it('stopped by Ctrl-C it rolls back: no job and no audit row; otherwise jobs and audit row together', async () => {
    const { userId, ids } = await diaries(2);
    const op = admin.op();
    const stop = new AbortController();
    const range = { userId, prompt };
    await expect(
      enqueueRange(database.db, boss, op, range, { onProgress: () => stop.abort(), signal: stop.signal }),
    ).rejects.toBeInstanceOf(InterruptedError);
    for (const id of ids) expect(await analysisJobsOf(database.db, id)).toEqual([]);
    const audit = () =>
      database.db.selectFrom('admin.audit_log').select('id').where('request_id', '=', op.requestId).execute();
    expect(await audit()).toEqual([]);

    expect(await enqueueRange(database.db, boss, op, range)).toEqual({ enqueued: 2, alreadyQueued: 0 });
    for (const id of ids) expect(await analysisJobsOf(database.db, id)).toHaveLength(1);
    expect(await audit()).toHaveLength(1);
  });
});

describe('terminal failures and re-runs', () => {
  it('the scan skips an entry that failed terminally under the prompt, error logs or not; `analysis enqueue` re-runs it', async () => {
    const { userId, ids } = await diaries(2);
    const [failed, fresh] = ids as [string, string];
    await enqueueAnalyses(boss, [failed], prompt);
    await work(failingAnalyzer('refused'));
    expect(await analysisJobsOf(database.db, failed)).toMatchObject([
      { state: 'completed', output: { status: 'failed', outcome: 'refused' } },
    ]);

    // The scan decides by sumda.analysis_failures, not by the logs: trimming them changes nothing.
    await database.db.deleteFrom('admin.error_logs').execute();
    // The failure is the prompt's (name and version): another prompt of the same version still needs it.
    const scan = { since: new Date(Date.now() - 86_400_000), userId, skipFailed: true };
    expect((await findUnanalysed(database.db, { ...scan, prompt })).map((f) => f.id)).toEqual([fresh]);
    const other = { promptName: `${prompt.promptName}-other`, promptVersion: prompt.promptVersion };
    expect((await findUnanalysed(database.db, { ...scan, prompt: other })).map((f) => f.id).sort()).toEqual(
      [failed, fresh].sort(),
    );

    // The scheduled scan: the fresh entry is enqueued, the failed one is not.
    await work(createLocalAnalyzer(), ['analysis.scan']);
    expect(await analysisJobsOf(database.db, fresh)).toMatchObject([{ state: 'created' }]);
    expect(await analysisJobsOf(database.db, failed)).toHaveLength(1);

    // An operator re-run does enqueue it again (and the fresh one is not duplicated).
    const rerun = await enqueueCli(userId);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ enqueued: 1, alreadyQueued: 1 });
    const jobs = await analysisJobsOf(database.db, failed);
    expect(jobs.map((j) => j.state)).toEqual(['completed', 'created']);
    expect(await analysisJobsOf(database.db, fresh)).toHaveLength(1);

    await work();
    expect(await resultsOf(failed)).toHaveLength(1);
    expect(await resultsOf(fresh)).toHaveLength(1);
  });

  it('an entry whose job is dead-lettered past its retries is not enqueued again by the scan', async () => {
    const { userId, ids } = await diaries(1);
    const entry = ids[0]!;
    await enqueueAnalyses(boss, [entry], prompt);
    // Its last attempt: the retries are used up.
    await sql`update pgboss.job set retry_count = retry_limit
              where name = 'analysis.run' and data->>'diaryId' = ${entry}`.execute(database.db);
    const unreachable = {
      name: 'stub',
      async analyze(): Promise<never> {
        throw new Error('the model is unreachable');
      },
    };
    await work(unreachable);
    expect(await analysisJobsOf(database.db, entry)).toMatchObject([{ state: 'failed' }]);
    expect(await jobsIn(database.db, 'analysis.run.dead')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ data: expect.objectContaining({ diaryId: entry }) }),
      ]),
    );
    await database.db.deleteFrom('admin.error_logs').execute();
    const scan = { since: new Date(Date.now() - 86_400_000), userId, skipFailed: true, prompt };
    expect(await findUnanalysed(database.db, scan)).toEqual([]);
  });
});
