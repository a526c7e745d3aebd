/**
 * Job inspection over real pg-boss: `jobs stats` counts a hand-built set of jobs in every state
 * exactly, `jobs list` filters and never prints payloads, `jobs show` prints everything of one job,
 * `queues list` is the catalog, and `schedules list` shows the catalog's crons in Asia/Seoul.
 * Commands run in-process (`sumda`); a table and an exit 2 go through the real subprocess (`runSumda`).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMatch } from '../../src/cli/commands/jobs.ts';
import { UsageError } from '../../src/errors.ts';
import { errorSummary, listJobs } from '../../src/jobadmin/list.ts';
import { listSchedules } from '../../src/jobadmin/schedules.ts';
import { queueStats } from '../../src/jobadmin/stats.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import { ALL_QUEUES, allQueueNames, QUEUES } from '../../src/queue/catalog.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let boss: PgBoss;

const RUN = 'analysis.run';
const payload = () => ({ diaryId: randomUUID(), promptName: 'analysis', promptVersion: 'v1' });

/** The jobs of the fixture, by what happened to them. */
const ids: Record<'ready' | 'deferred' | 'active' | 'completed' | 'failed' | 'dead' | 'slip', string> = {
  ready: '',
  deferred: '',
  active: '',
  completed: '',
  failed: '',
  dead: '',
  slip: '',
};

async function send(queue: string, options: object = {}): Promise<string> {
  const id = await boss.send(queue, payload(), { singletonKey: randomUUID(), ...options });
  if (!id) throw new Error('send returned no id');
  return id;
}

/** Claims the one ready job of a queue (each fixture job is claimed right after it is sent). */
async function claim(queue: string, id: string) {
  const [job] = await boss.fetch(queue);
  expect(job?.id).toBe(id);
  return job!;
}

beforeAll(async () => {
  boss = createBoss(database.url);
  await boss.start();
  // Each job that must leave `created` is claimed before the next one is sent, so fetch takes it.
  ids.active = await send(RUN);
  await claim(RUN, ids.active);
  ids.completed = await send(RUN);
  await boss.complete(RUN, (await claim(RUN, ids.completed)).id, { ok: true });
  // Two attempts, both failing: retry, then failed for good and copied to analysis.run.dead.
  ids.failed = await send(RUN, { retryLimit: 1, retryDelay: 0, retryBackoff: false });
  await boss.fail(RUN, (await claim(RUN, ids.failed)).id, { name: 'Error', message: 'first try' });
  await boss.fail(RUN, (await claim(RUN, ids.failed)).id, {
    name: 'TimeoutError',
    message: 'model did not answer\nstack…',
  });
  ids.ready = await send(RUN);
  ids.deferred = await send(RUN, { startAfter: 3600 });
  ids.slip = await send('slip.check', {});
  const dead = await listJobs(database.db, { queue: `${RUN}.dead` });
  expect(dead).toHaveLength(1);
  ids.dead = dead[0]!.id;
});

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
});

describe('jobs stats', () => {
  it('counts every state of every queue exactly', async () => {
    const rows = await queueStats(database.db);
    expect(rows.map((r) => r.queue)).toEqual(allQueueNames());
    const run = rows.find((r) => r.queue === RUN)!;
    expect(run).toMatchObject({
      deadLetterOf: null,
      ready: 1,
      deferred: 1,
      active: 1,
      failed: 1,
      completed: 1,
      cancelled: 0,
      deadLettered: 1,
      paused: false,
    });
    expect(run.oldestReadySeconds).toBeGreaterThanOrEqual(0);
    expect(rows.find((r) => r.queue === `${RUN}.dead`)).toMatchObject({
      deadLetterOf: RUN,
      ready: 1,
      failed: 0,
      deadLettered: null,
    });
    expect(rows.find((r) => r.queue === 'slip.check')).toMatchObject({ ready: 1, deadLettered: 0 });
    // Queues without a dead-letter queue have no dead-lettered count; empty queues no oldest age.
    expect(rows.find((r) => r.queue === 'housekeeping')).toMatchObject({
      ready: 0,
      deadLettered: null,
      oldestReadySeconds: null,
    });
  });

  it('the CLI prints the same numbers, as JSON and as a table', async () => {
    const json = await sumda(['jobs', 'stats', '--json'], { env: { DATABASE_URL: database.url } });
    expect(json.stderr).toBe('');
    expect(json.code).toBe(0);
    // The oldest age ticks between the two reads; everything else is equal.
    const strip = (rows: { oldestReadySeconds: number | null }[]) =>
      rows.map((r) => ({ ...r, oldestReadySeconds: r.oldestReadySeconds === null }));
    expect(strip(JSON.parse(json.stdout))).toEqual(strip(await queueStats(database.db)));
    const table = await runSumda(['jobs', 'stats'], { env: { DATABASE_URL: database.url } });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/analysis\.run\s+│ 1\s+│ 1\s+│ 1\s+│ 1\s+│ 1\s+│ 0\s+│ 1\s+│/);
  });
});

describe('jobs list', () => {
  it('filters by queue, state and time, newest first, with attempt and error summary', async () => {
    const all = await listJobs(database.db, { queue: RUN });
    expect(all.map((j) => j.id)).toEqual([ids.deferred, ids.ready, ids.failed, ids.completed, ids.active]);
    const [failed] = await listJobs(database.db, { queue: RUN, states: ['failed'] });
    expect(failed).toMatchObject({ id: ids.failed, attempt: 2, maxAttempts: 2 });
    expect(failed!.error).toBe('TimeoutError: model did not answer');
    expect(await listJobs(database.db, { states: ['created'], queue: 'slip.check' })).toHaveLength(1);
    expect(await listJobs(database.db, { since: new Date(Date.now() + 3_600_000) })).toEqual([]);
    expect((await listJobs(database.db, { limit: 2 })).length).toBe(2);
    // The dead letter shows the error of the job it copies.
    const [dead] = await listJobs(database.db, { queue: `${RUN}.dead` });
    expect(dead!.error).toBe('TimeoutError: model did not answer');
  });

  it('the CLI lists without payloads and refuses an unknown queue or state with exit 2', async () => {
    const env = { DATABASE_URL: database.url };
    const out = await sumda(['jobs', 'list', '--queue', RUN, '--state', 'failed,active', '--json'], {
      env,
    });
    expect(out.code).toBe(0);
    const rows = JSON.parse(out.stdout);
    expect(rows.map((r: { id: string }) => r.id).sort()).toEqual([ids.active, ids.failed].sort());
    expect(out.stdout).not.toContain('diaryId');
    const table = await sumda(['jobs', 'list', '--since', '1h'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(ids.slip);
    expect(table.stdout).toContain('2/2');
    expect(table.stdout).not.toContain('diaryId');

    const unknown = await sumda(['jobs', 'list', '--queue', 'analysis.runn'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown queue "analysis.runn"');
    expect(unknown.stderr).toContain('analysis.run, analysis.run.dead');
    expect((await sumda(['jobs', 'list', '--state', 'broken'], { env })).code).toBe(2);
  });
});

describe('jobs show', () => {
  it('prints every field of one job, payload and output included; dead letters name their source', async () => {
    const env = { DATABASE_URL: database.url };
    const failed = await sumda(['jobs', 'show', ids.failed, '--json'], { env });
    expect(failed.code).toBe(0);
    const job = JSON.parse(failed.stdout);
    expect(job).toMatchObject({
      id: ids.failed,
      name: RUN,
      state: 'failed',
      retry_count: 1,
      retry_limit: 1,
      dead_letter: `${RUN}.dead`,
      output: { name: 'TimeoutError' },
    });
    expect(job.data.diaryId).toMatch(/^[0-9a-f-]{36}$/);
    const dead = JSON.parse((await sumda(['jobs', 'show', ids.dead, '--json'], { env })).stdout);
    expect(dead).toMatchObject({ name: `${RUN}.dead`, source_name: RUN, source_id: ids.failed });
    const text = await sumda(['jobs', 'show', ids.completed], { env });
    expect(text.stdout).toMatch(/state\s+completed/);
    expect(text.stdout).toContain('"ok":true');
  });

  it('an unknown or malformed id exits 2', async () => {
    const env = { DATABASE_URL: database.url };
    const missing = await runSumda(['jobs', 'show', randomUUID()], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: no job');
    expect((await sumda(['jobs', 'show', 'not-an-id'], { env })).code).toBe(2);
  });
});

describe('the --all-matching grammar', () => {
  it('parses queue, state and since; rejects unknown keys, repeats and a missing queue', async () => {
    expect(await parseMatch('queue=analysis.run')).toEqual({ queue: 'analysis.run' });
    const match = await parseMatch('queue=analysis.run, state=failed ,since=2026-11-25');
    expect(match).toEqual({
      queue: 'analysis.run',
      state: 'failed',
      since: new Date('2026-11-25T00:00:00+09:00'),
    });
    for (const bad of [
      'queue=analysis.run,colour=red',
      'state=failed',
      'queue=a,queue=b',
      'queue',
      'queue=analysis.run,state=done',
    ])
      await expect(parseMatch(bad), bad).rejects.toThrow(UsageError);
  });

  it('errorSummary takes the first line and truncates', () => {
    expect(errorSummary(null)).toBeNull();
    expect(errorSummary({ name: 'Error', message: 'a\nb' })).toBe('a');
    expect(errorSummary({ value: 'x'.repeat(200) })?.length).toBe(100);
  });
});

describe('queues list and schedules list', () => {
  it('queues list is the catalog', async () => {
    const out = await sumda(['queues', 'list', '--json'], { env: { DATABASE_URL: database.url } });
    expect(out.code).toBe(0);
    const rows = JSON.parse(out.stdout);
    expect(rows.map((q: { name: string }) => q.name)).toEqual(ALL_QUEUES.map((q) => q.name));
    expect(rows.find((q: { name: string }) => q.name === RUN)).toMatchObject({
      policy: 'stately',
      retryLimit: 4,
      deadLetter: `${RUN}.dead`,
      concurrency: QUEUES.analysisRun.worker.concurrency,
      paused: null,
    });
  });

  it("shows the catalog's cron schedules with their next runs in Asia/Seoul", async () => {
    // Midnight in Seoul: analysis.scan runs every minute, housekeeping at minute 17 of every hour.
    const from = new Date('2026-11-25T00:00:00+09:00');
    const rows = await listSchedules(boss, { from, count: 3 });
    const scan = rows.find((s) => s.queue === 'analysis.scan')!;
    expect(scan).toMatchObject({ cron: '* * * * *', timezone: 'Asia/Seoul', status: 'ok' });
    expect(scan.nextRuns).toEqual([1, 2, 3].map((m) => new Date(from.getTime() + m * 60_000)));
    const housekeeping = rows.find((s) => s.queue === 'housekeeping')!;
    expect(housekeeping).toMatchObject({ cron: '17 * * * *', timezone: 'Asia/Seoul', status: 'ok' });
    expect(housekeeping.nextRuns).toEqual([
      new Date('2026-11-25T00:17:00+09:00'),
      new Date('2026-11-25T01:17:00+09:00'),
      new Date('2026-11-25T02:17:00+09:00'),
    ]);
    expect(housekeeping.description).toContain('expired overrides');

    const out = await sumda(['schedules', 'list', '--json'], { env: { DATABASE_URL: database.url } });
    expect(out.code).toBe(0);
    const cli = JSON.parse(out.stdout);
    expect(cli.map((s: { queue: string }) => s.queue).sort()).toEqual(
      ALL_QUEUES.filter((q) => q.schedule)
        .map((q) => q.name)
        .sort(),
    );
    const next = cli
      .find((s: { queue: string }) => s.queue === 'housekeeping')
      .nextRuns.map((d: string) => new Date(d));
    expect(next).toHaveLength(3);
    // Minute 17 of an hour in Seoul (UTC+9, no daylight saving), one hour apart.
    for (const d of next) expect(d.getUTCMinutes()).toBe(17);
    expect(next[1].getTime() - next[0].getTime()).toBe(3_600_000);
    const table = await runSumda(['schedules', 'list'], { env: { DATABASE_URL: database.url } });
    expect(table.stdout).toMatch(/housekeeping\s+│ 17 \* \* \* \*\s+│ Asia\/Seoul/);
  });
});
