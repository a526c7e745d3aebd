/**
 * Changing jobs and queues over real pg-boss, through the real CLI: retry, cancel and resume by id
 * and by filter (count, confirmation, one audit row with the actor), dead letters redriven, a
 * dry run and a refused confirmation that change nothing, an operator refused with exit 6 and a
 * denied audit row, and pausing / resuming a queue (sumda.queue_state plus audit, one transaction).
 * Commands run in-process (`sumda`); exit 0, 2 and 6 and their output lines are also proven through
 * the real bin/sumda subprocess (`runSumda`) once each for jobs and queues.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planJobAction } from '../../src/jobadmin/actions.ts';
import { queueStats } from '../../src/jobadmin/stats.ts';
import { createBoss, type PgBoss, pausedQueues } from '../../src/queue/boss.ts';
import { auditRows, cliEnv, lastSeq, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let boss: PgBoss;
let team: Team;

const RUN = 'analysis.run';
const SLIP = 'slip.check';

async function send(queue: string, options: object = {}): Promise<string> {
  const data =
    queue === RUN
      ? { diaryId: randomUUID(), promptName: 'analysis', promptVersion: 'v1' }
      : { analysisId: randomUUID() };
  const id = await boss.send(queue, data, { singletonKey: randomUUID(), ...options });
  if (!id) throw new Error('send returned no id');
  return id;
}

/** A job that ran once and failed for good: failed in its queue, and copied to `<queue>.dead`. */
async function failedJob(queue: string): Promise<{ id: string; deadId: string }> {
  const id = await send(queue, { retryLimit: 0 });
  const [job] = await boss.fetch(queue);
  expect(job?.id).toBe(id);
  await boss.fail(queue, id, { name: 'Error', message: 'upstream 503' });
  const dead = await sql<{ id: string }>`
    select id from pgboss.job where name = ${`${queue}.dead`} and source_id = ${id}::uuid`.execute(
    database.db,
  );
  return { id, deadId: dead.rows[0]!.id };
}

async function job(id: string) {
  const rows = await sql<{ name: string; state: string; retry_limit: number }>`
    select name, state, retry_limit from pgboss.job where id = ${id}::uuid`.execute(database.db);
  return rows.rows[0];
}

/** Each group of tests starts from empty queues (fetch takes the oldest ready job of a queue). */
async function clearJobs(): Promise<void> {
  await sql`delete from pgboss.job`.execute(database.db);
}

const as = (actor: { email: string }) => ({ env: cliEnv(database.url, actor.email) });

beforeAll(async () => {
  team = await seedTeam(database.db);
  boss = createBoss(database.url);
  await boss.start();
});

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
});

describe('jobs retry', () => {
  beforeEach(clearJobs);

  it('a manager retries a failed job: back to retry, its dead-letter copy dropped, one audit row', async () => {
    const { id, deadId } = await failedJob(RUN);
    const before = await lastSeq(database.db);
    const out = await sumda(['jobs', 'retry', id, '--yes', '--reason', 'upstream is back'], as(team.manager));
    expect(out.stderr).not.toContain('error:');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('will retry 1 job(s)');
    expect(out.stdout).toContain(`retried 1 job(s) (${RUN}: 1)`);
    expect(await job(id)).toMatchObject({ state: 'retry', retry_limit: 1 });
    expect(await job(deadId)).toBeUndefined();
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'jobs.retry',
      actor_id: team.manager.id,
      actor_role: 'manager',
      target_type: 'queue',
      target_id: RUN,
      outcome: 'success',
      reason: 'upstream is back',
      before: { states: { failed: 1 } },
      after: { count: 1, requested: 1, ids: [id], deadLetterCopiesRemoved: 1 },
    });
  });

  it('retrying a dead letter redrives it to its source queue as a new job', async () => {
    const { id, deadId } = await failedJob(RUN);
    const out = await sumda(['jobs', 'retry', deadId, '--yes'], as(team.manager));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('dead letters are redriven to their source queue');
    const match = out.stdout.match(new RegExp(`dead letter ${deadId} redriven to ${RUN} as ([0-9a-f-]{36})`));
    expect(match).not.toBeNull();
    expect(await job(deadId)).toBeUndefined();
    expect(await job(match![1]!)).toMatchObject({ name: RUN, state: 'created' });
    // The original stays failed, as history.
    expect(await job(id)).toMatchObject({ state: 'failed' });
    const [row] = await auditRows(database.db, { action: 'jobs.retry', targetId: `${RUN}.dead` });
    expect(row?.after).toMatchObject({
      count: 1,
      ids: [deadId],
      redriven: [{ id: deadId, newId: match![1] }],
    });
  });

  it('names jobs it leaves alone, and refuses unknown ids with exit 2', async () => {
    const queued = await send(SLIP);
    const out = await sumda(['jobs', 'retry', queued, '--yes'], as(team.manager));
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`${queued} (${SLIP}) is created; retry applies to failed: left alone`);
    expect(out.stdout).toContain('nothing to retry');
    const unknown = await runSumda(['jobs', 'retry', randomUUID(), '--yes'], as(team.manager));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: no job');
  });

  it('an operator is refused: exit 6, a denied audit row, the job untouched', async () => {
    const { id } = await failedJob(SLIP);
    const before = await lastSeq(database.db);
    const out = await runSumda(['jobs', 'retry', id, '--yes'], as(team.operator));
    expect(out.code).toBe(6);
    expect(out.stderr).toContain('jobs.retry needs role manager');
    expect(await job(id)).toMatchObject({ state: 'failed' });
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      action: 'jobs.retry',
      outcome: 'denied',
      actor_id: team.operator.id,
      target_type: 'queue',
      target_id: SLIP,
    });
  });
});

describe('jobs cancel and resume', () => {
  beforeEach(clearJobs);

  it('cancels a queued job and resumes it, each audited', async () => {
    const id = await send(SLIP);
    const before = await lastSeq(database.db);
    const cancel = await sumda(['jobs', 'cancel', id, '--yes'], as(team.admin));
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancelled 1 job(s) (${SLIP}: 1)`);
    expect(await job(id)).toMatchObject({ state: 'cancelled' });
    const resume = await sumda(['jobs', 'resume', id, '--yes', '--json'], as(team.manager));
    expect(resume.code).toBe(0);
    expect(JSON.parse(resume.stdout)).toMatchObject({ action: 'resume', requested: 1, changed: 1 });
    expect(await job(id)).toMatchObject({ state: 'created' });
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(
      rows.map((r) => [r.action, r.actor_email, r.target_id, (r.after as { ids: string[] }).ids]),
    ).toEqual([
      ['jobs.cancel', team.admin.email, SLIP, [id]],
      ['jobs.resume', team.manager.email, SLIP, [id]],
    ]);
  });
});

describe('jobs … --all-matching', () => {
  let failed: string[];
  beforeAll(async () => {
    await clearJobs();
    failed = [];
    for (let i = 0; i < 3; i++) failed.push((await failedJob(SLIP)).id);
  });

  it('--dry-run prints the count and the ids and writes nothing', async () => {
    const before = await lastSeq(database.db);
    const out = await sumda(
      ['jobs', 'retry', '--all-matching', `queue=${SLIP},state=failed,since=1h`, '--dry-run'],
      as(team.manager),
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`would retry 3 job(s) — ${SLIP}: 3 failed`);
    for (const id of failed) expect(out.stdout).toContain(id);
    expect(out.stdout).toContain('nothing was changed (--dry-run)');
    for (const id of failed) expect(await job(id)).toMatchObject({ state: 'failed' });
    expect(await lastSeq(database.db)).toBe(before);
  });

  it('without a terminal and without --yes: exit 2, nothing changed', async () => {
    const before = await lastSeq(database.db);
    const out = await sumda(['jobs', 'retry', '--all-matching', `queue=${SLIP}`], as(team.manager));
    expect(out.code).toBe(2);
    expect(out.stdout).toContain('will retry 3 job(s)');
    expect(out.stderr).toContain('refusing to retry 3 job(s) without confirmation');
    for (const id of failed) expect(await job(id)).toMatchObject({ state: 'failed' });
    expect(await lastSeq(database.db)).toBe(before);
  });

  it('rejects an unknown key, an unknown queue and a state the action cannot change with exit 2', async () => {
    for (const filter of [`queue=${SLIP},owner=me`, 'queue=nope', `queue=${SLIP},state=completed`]) {
      const out = await sumda(['jobs', 'retry', '--all-matching', filter, '--yes'], as(team.manager));
      expect(out.code, filter).toBe(2);
    }
    const both = await sumda(
      ['jobs', 'retry', failed[0]!, '--all-matching', `queue=${SLIP}`],
      as(team.manager),
    );
    expect(both.code).toBe(2);
  });

  it('with --yes retries exactly the counted jobs, in one audit row', async () => {
    const before = await lastSeq(database.db);
    const out = await sumda(['jobs', 'retry', '--all-matching', `queue=${SLIP}`, '--yes'], as(team.manager));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`retried 3 job(s) (${SLIP}: 3)`);
    for (const id of failed) expect(await job(id)).toMatchObject({ state: 'retry' });
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'jobs.retry', target_id: SLIP, actor_id: team.manager.id });
    expect(rows[0]!.after).toMatchObject({ count: 3, requested: 3, filter: { queue: SLIP } });
    expect(((rows[0]!.after as { ids: string[] }).ids ?? []).sort()).toEqual([...failed].sort());
    // Their dead-letter copies went with them.
    expect((await queueStats(database.db)).find((r) => r.queue === SLIP)?.deadLettered).toBe(0);
  });

  it('cancel matches queued jobs by default; resume matches the cancelled ones', async () => {
    const plan = await planJobAction(database.db, 'cancel', { match: { queue: SLIP } });
    expect(plan.jobs.map((j) => j.id).sort()).toEqual([...failed].sort());
    const cancel = await sumda(
      ['jobs', 'cancel', '--all-matching', `queue=${SLIP}`, '--yes'],
      as(team.manager),
    );
    expect(cancel.code).toBe(0);
    for (const id of failed) expect(await job(id)).toMatchObject({ state: 'cancelled' });
    const resume = await sumda(
      ['jobs', 'resume', '--all-matching', `queue=${SLIP}`, '--yes'],
      as(team.manager),
    );
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain('resumed');
    for (const id of failed) expect(await job(id)).toMatchObject({ state: 'created' });
  });
});

describe('queues pause and resume', () => {
  it('pause writes sumda.queue_state with the actor and an audit row; resume removes it', async () => {
    const before = await lastSeq(database.db);
    const pause = await runSumda(['queues', 'pause', RUN, '--reason', 'OpenAI incident'], as(team.manager));
    expect(pause.code).toBe(0);
    expect(pause.stdout).toContain(`${RUN} paused`);
    const state = await sql<{ paused_by: string; reason: string }>`
      select paused_by, reason from sumda.queue_state where queue = ${RUN}`.execute(database.db);
    expect(state.rows).toEqual([{ paused_by: team.manager.id, reason: 'OpenAI incident' }]);
    expect(await pausedQueues(database.db)).toEqual(new Set([RUN]));
    expect((await queueStats(database.db)).find((r) => r.queue === RUN)?.paused).toBe(true);
    const listed = JSON.parse((await sumda(['queues', 'list', '--json'], as(team.operator))).stdout);
    expect(listed.find((q: { name: string }) => q.name === RUN).paused).toMatchObject({
      by: team.manager.email,
      reason: 'OpenAI incident',
    });

    // Pausing again changes nothing and writes nothing.
    const again = await sumda(['queues', 'pause', RUN, '--reason', 'again'], as(team.manager));
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already paused');

    const resume = await sumda(['queues', 'resume', RUN, '--reason', 'incident closed'], as(team.manager));
    expect(resume.code).toBe(0);
    expect(await pausedQueues(database.db)).toEqual(new Set());
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows.map((r) => [r.action, r.target_type, r.target_id, r.actor_id, r.reason])).toEqual([
      ['queues.pause', 'queue', RUN, team.manager.id, 'OpenAI incident'],
      ['queues.resume', 'queue', RUN, team.manager.id, 'incident closed'],
    ]);
    expect(rows[1]!.before).toMatchObject({ paused: true, reason: 'OpenAI incident' });
  });

  it('refuses an operator (exit 6), unknown and dead-letter queues (exit 2); --dry-run writes nothing', async () => {
    const before = await lastSeq(database.db);
    const denied = await runSumda(['queues', 'pause', RUN, '--reason', 'x'], as(team.operator));
    expect(denied.code).toBe(6);
    const unknown = await sumda(['queues', 'pause', 'analysis.runs', '--reason', 'x'], as(team.manager));
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('hint: queues: analysis.scan, analysis.run');
    expect((await sumda(['queues', 'pause', `${RUN}.dead`, '--reason', 'x'], as(team.manager))).code).toBe(2);
    const dry = await sumda(['queues', 'pause', RUN, '--reason', 'x', '--dry-run'], as(team.manager));
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would pause');
    expect(await pausedQueues(database.db)).toEqual(new Set());
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows.map((r) => [r.action, r.outcome, r.actor_id])).toEqual([
      ['queues.pause', 'denied', team.operator.id],
    ]);
  });
});
