/**
 * Job and queue operations for operators (`sumda jobs|queues|schedules`): accurate counts straight
 * from `pgboss.job`, listing and showing jobs, retry / cancel / resume by id or by filter (dead
 * letters are redriven to their source queue), pausing queues, and the installed schedules.
 *
 * Reads are plain SQL over pg-boss's tables (its cached queue counts lag up to a minute and its
 * `findJobs` filters by neither state nor time); changes go through pg-boss's own `retry`,
 * `cancel`, `resume`, `redrive` and `deleteJob`, run on the caller's kysely transaction so the
 * change and its audit row commit together.
 *
 * Glossary: a job is *ready* when it is queued (created or retry) and its start time has come,
 * *deferred* when it is queued for later; *failed* is terminal (retries exhausted); a *dead letter*
 * is the copy pg-boss parks in `<queue>.dead` when a job of a queue with a dead-letter queue fails
 * terminally (the original stays in its queue as failed).
 */
import { type Kysely, sql } from 'kysely';
import { type CommandResponse, fromKysely, type PgBoss } from 'pg-boss';
import { authorize, type Permission } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import {
  ALL_QUEUES,
  allQueueNames,
  deadLetterName,
  findQueue,
  type QueueDefinition,
  SCHEDULE_TZ,
} from '../queue/catalog.ts';

export const JOB_STATES = ['created', 'retry', 'active', 'completed', 'cancelled', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** How many job ids an audit row carries; the count is always complete. */
const AUDIT_IDS = 100;

/** A catalog queue's dead-letter queue (`<queue>.dead`)? */
export function isDeadLetterQueue(name: string): boolean {
  const def = findQueue(name);
  return def !== undefined && def.name !== name;
}

/** A catalog queue (or its dead-letter queue) by name; anything else is a usage error listing the known ones. */
export function requireQueue(name: string): QueueDefinition {
  const def = findQueue(name);
  if (!def)
    throw new UsageError(`unknown queue ${JSON.stringify(name)}`, {
      hint: `queues: ${allQueueNames().join(', ')}`,
    });
  return def;
}

export function parseJobState(text: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(text))
    throw new UsageError(`state ${JSON.stringify(text)}: use ${JOB_STATES.join(', ')}`);
  return text as JobState;
}

// ---------------------------------------------------------------------------------------------
// stats

export interface QueueStatsRow {
  queue: string;
  /** For a dead-letter queue, the queue whose failures it holds. */
  deadLetterOf: string | null;
  ready: number;
  deferred: number;
  active: number;
  failed: number;
  completed: number;
  cancelled: number;
  /** Jobs waiting in this queue's dead-letter queue (not cancelled or completed); null when it has none. */
  deadLettered: number | null;
  /** Seconds the oldest ready job has waited since it could start; null when none is ready. */
  oldestReadySeconds: number | null;
  paused: boolean;
}

/** One row per catalog queue and dead-letter queue, counted in one grouped query over pgboss.job. */
export async function queueStats(db: Kysely<Database>): Promise<QueueStatsRow[]> {
  const names = allQueueNames();
  const result = await sql<{
    queue: string;
    ready: number;
    deferred: number;
    active: number;
    failed: number;
    completed: number;
    cancelled: number;
    waiting: number;
    oldest_ready_seconds: number | null;
    paused: boolean;
  }>`
    with counts as (
      select name,
        count(*) filter (where state in ('created', 'retry') and not blocked and start_after <= now()) as ready,
        count(*) filter (where state in ('created', 'retry') and (blocked or start_after > now())) as deferred,
        count(*) filter (where state = 'active') as active,
        count(*) filter (where state = 'failed') as failed,
        count(*) filter (where state = 'completed') as completed,
        count(*) filter (where state = 'cancelled') as cancelled,
        min(start_after) filter (where state in ('created', 'retry') and not blocked and start_after <= now()) as oldest_ready
      from pgboss.job
      where name = any(${names}::text[])
      group by name
    )
    select q.name as queue,
      coalesce(c.ready, 0)::int as ready,
      coalesce(c.deferred, 0)::int as deferred,
      coalesce(c.active, 0)::int as active,
      coalesce(c.failed, 0)::int as failed,
      coalesce(c.completed, 0)::int as completed,
      coalesce(c.cancelled, 0)::int as cancelled,
      (coalesce(c.ready, 0) + coalesce(c.deferred, 0) + coalesce(c.active, 0) + coalesce(c.failed, 0))::int as waiting,
      floor(extract(epoch from now() - c.oldest_ready))::int as oldest_ready_seconds,
      (s.queue is not null) as paused
    from unnest(${names}::text[]) with ordinality as q(name, ord)
    left join counts c on c.name = q.name
    left join sumda.queue_state s on s.queue = q.name
    order by q.ord`.execute(db);
  const byName = new Map(result.rows.map((r) => [r.queue, r]));
  return result.rows.map((r) => {
    const dead = isDeadLetterQueue(r.queue);
    const def = findQueue(r.queue)!;
    return {
      queue: r.queue,
      deadLetterOf: dead ? def.name : null,
      ready: r.ready,
      deferred: r.deferred,
      active: r.active,
      failed: r.failed,
      completed: r.completed,
      cancelled: r.cancelled,
      deadLettered: !dead && def.deadLetter ? (byName.get(deadLetterName(def.name))?.waiting ?? 0) : null,
      oldestReadySeconds: r.oldest_ready_seconds,
      paused: r.paused,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// list and show

export interface JobListFilter {
  queue?: string;
  states?: JobState[];
  since?: Date;
  limit?: number;
}

export interface JobSummary {
  id: string;
  queue: string;
  state: JobState;
  /** 1-based: the attempt running now or last run. */
  attempt: number;
  maxAttempts: number;
  createdOn: Date;
  startAfter: Date;
  startedOn: Date | null;
  completedOn: Date | null;
  singletonKey: string | null;
  /** First line of the last error, for failed, retrying and dead-lettered jobs. */
  error: string | null;
}

/** Newest first. Payload data is left out on purpose: it is shown by `showJob` only. */
export async function listJobs(db: Kysely<Database>, filter: JobListFilter = {}): Promise<JobSummary[]> {
  if (filter.queue) requireQueue(filter.queue);
  const names = filter.queue ? [filter.queue] : allQueueNames();
  const states = filter.states && filter.states.length > 0 ? filter.states : null;
  const result = await sql<{
    id: string;
    queue: string;
    state: JobState;
    retry_count: number;
    retry_limit: number;
    created_on: Date;
    start_after: Date;
    started_on: Date | null;
    completed_on: Date | null;
    singleton_key: string | null;
    error_output: unknown;
  }>`
    select id, name as queue, state, retry_count, retry_limit, created_on, start_after, started_on,
      completed_on, singleton_key,
      case when state in ('failed', 'retry') then output
           when source_name is not null then source_output end as error_output
    from pgboss.job
    where name = any(${names}::text[])
      and (${states}::text[] is null or state = any(${states}::pgboss.job_state[]))
      and (${filter.since ?? null}::timestamptz is null or created_on >= ${filter.since ?? null}::timestamptz)
    order by created_on desc, id desc
    limit ${filter.limit ?? 50}`.execute(db);
  return result.rows.map((r) => ({
    id: r.id,
    queue: r.queue,
    state: r.state,
    attempt: r.retry_count + 1,
    maxAttempts: r.retry_limit + 1,
    createdOn: r.created_on,
    startAfter: r.start_after,
    startedOn: r.started_on,
    completedOn: r.completed_on,
    singletonKey: r.singleton_key,
    error: errorSummary(r.error_output),
  }));
}

/** One line of an error pg-boss stored as a job's output (`{message, name}`, or anything else). */
export function errorSummary(output: unknown, width = 100): string | null {
  if (output === null || output === undefined) return null;
  const o = output as { message?: unknown; name?: unknown; value?: unknown };
  let text: string;
  if (typeof o === 'object' && typeof o.message === 'string')
    text = typeof o.name === 'string' && o.name !== 'Error' ? `${o.name}: ${o.message}` : o.message;
  else if (typeof o === 'object' && typeof o.value === 'string') text = o.value;
  else text = typeof output === 'string' ? output : JSON.stringify(output);
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** Every column of one job (data and output included), by id. Unknown id: exit 2. */
export async function showJob(db: Kysely<Database>, id: string): Promise<Record<string, unknown>> {
  const result = await sql<Record<string, unknown>>`
    select * from pgboss.job where id = ${id}::uuid and name = any(${allQueueNames()}::text[])`.execute(db);
  const row = result.rows[0];
  if (!row) throw new NotFoundError(`no job ${id}`, { hint: 'find ids with `sumda jobs list`' });
  return row;
}

// ---------------------------------------------------------------------------------------------
// retry, cancel, resume

export type JobAction = 'retry' | 'cancel' | 'resume';

const PERMISSION: Record<JobAction, Permission> = {
  retry: 'jobs.retry',
  cancel: 'jobs.cancel',
  resume: 'jobs.resume',
};

/**
 * The states an action changes. Retry: failed jobs (pg-boss gives them one more attempt); in a
 * dead-letter queue, the parked copies (redriven to their source queue). Cancel: queued or running
 * jobs. Resume: cancelled jobs.
 */
function actionableStates(action: JobAction, queue: string): readonly JobState[] {
  if (action === 'retry') return isDeadLetterQueue(queue) ? ['created', 'retry', 'failed'] : ['failed'];
  if (action === 'cancel') return ['created', 'retry', 'active'];
  return ['cancelled'];
}

/** What `--all-matching` selects when it names no state: cancel leaves running jobs alone unless asked. */
function defaultMatchStates(action: JobAction, queue: string): readonly JobState[] {
  return action === 'cancel' ? ['created', 'retry'] : actionableStates(action, queue);
}

/** `--all-matching queue=<name>[,state=<s>][,since=<when>]`, parsed. */
export interface JobMatch {
  queue: string;
  state?: JobState;
  since?: Date;
}

export type JobTarget = { ids: string[] } | { match: JobMatch };

export interface PlannedJob {
  id: string;
  queue: string;
  state: JobState;
}

export interface JobActionPlan {
  action: JobAction;
  target: JobTarget;
  /** The jobs the action will change, oldest first. */
  jobs: PlannedJob[];
  /** Named jobs in a state the action does not apply to. */
  skipped: (PlannedJob & { why: string })[];
}

function describeStates(action: JobAction, queue: string): string {
  return actionableStates(action, queue).join(' or ');
}

/**
 * Read-only: which jobs an action would change. Unknown ids and queues, and a state the action
 * cannot change, are usage errors (exit 2); named jobs in another state are listed as skipped.
 */
export async function planJobAction(
  db: Kysely<Database>,
  action: JobAction,
  target: JobTarget,
): Promise<JobActionPlan> {
  const names = allQueueNames();
  if ('ids' in target) {
    const ids = [...new Set(target.ids)];
    if (ids.length === 0) throw new UsageError('name at least one job id, or use --all-matching');
    const result = await sql<PlannedJob>`
      select id, name as queue, state from pgboss.job
      where id = any(${ids}::uuid[]) and name = any(${names}::text[])
      order by created_on, id`.execute(db);
    const found = new Set(result.rows.map((r) => r.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0)
      throw new NotFoundError(`no job ${missing.join(', ')}`, { hint: 'find ids with `sumda jobs list`' });
    const jobs: PlannedJob[] = [];
    const skipped: JobActionPlan['skipped'] = [];
    for (const row of result.rows) {
      if (actionableStates(action, row.queue).includes(row.state)) jobs.push(row);
      else
        skipped.push({
          ...row,
          why: `${row.state}; ${action} applies to ${describeStates(action, row.queue)}`,
        });
    }
    return { action, target: { ids }, jobs, skipped };
  }
  const { queue, state, since } = target.match;
  requireQueue(queue);
  if (state && !actionableStates(action, queue).includes(state))
    throw new UsageError(
      `${action} does not change ${state} jobs; in ${queue} it applies to ${describeStates(action, queue)}`,
    );
  const states = state ? [state] : [...defaultMatchStates(action, queue)];
  const result = await sql<PlannedJob>`
    select id, name as queue, state from pgboss.job
    where name = ${queue} and state = any(${states}::pgboss.job_state[])
      and (${since ?? null}::timestamptz is null or created_on >= ${since ?? null}::timestamptz)
    order by created_on, id`.execute(db);
  return { action, target, jobs: result.rows, skipped: [] };
}

export interface JobActionResult {
  action: JobAction;
  /** Jobs the plan named. */
  requested: number;
  /** Jobs pg-boss changed (fewer when some moved on since the plan). */
  changed: number;
  /** Dead letters re-created in their source queue, with their new ids. */
  redriven: { id: string; queue: string; newId: string | null }[];
  /** Retried jobs whose parked copy in the dead-letter queue was dropped (it would run the work twice). */
  deadLetterCopiesRemoved: number;
  byQueue: Record<string, number>;
}

function auditTarget(plan: JobActionPlan): { type: string; id: string } {
  const queues =
    'match' in plan.target ? [plan.target.match.queue] : [...new Set(plan.jobs.map((j) => j.queue))];
  return { type: 'queue', id: queues.sort().join(',') || '(none)' };
}

/** Refuses (exit 6, audited as denied) an actor who may not run this action on these jobs. */
export async function authorizeJobAction(
  db: Kysely<Database>,
  op: Operation,
  plan: JobActionPlan,
): Promise<void> {
  await authorize(db, op, PERMISSION[plan.action], auditTarget(plan));
}

function groupByQueue(jobs: PlannedJob[]): Map<string, PlannedJob[]> {
  const groups = new Map<string, PlannedJob[]>();
  for (const job of jobs) {
    const group = groups.get(job.queue) ?? [];
    group.push(job);
    groups.set(job.queue, group);
  }
  return groups;
}

/**
 * Applies a plan through pg-boss, on one transaction with its audit row (action jobs.<action>,
 * target the queue, after {count, ids (first 100)}). pg-boss re-checks each job's state, so a job
 * that moved on since the plan is left alone and not counted.
 */
export async function applyJobAction(
  db: Kysely<Database>,
  boss: PgBoss,
  op: Operation,
  plan: JobActionPlan,
  options: { reason?: string | null } = {},
): Promise<JobActionResult> {
  await authorizeJobAction(db, op, plan);
  return db.transaction().execute(async (trx) => {
    const onTrx = { db: fromKysely(trx) };
    const result: JobActionResult = {
      action: plan.action,
      requested: plan.jobs.length,
      changed: 0,
      redriven: [],
      deadLetterCopiesRemoved: 0,
      byQueue: {},
    };
    for (const [queue, jobs] of groupByQueue(plan.jobs)) {
      const ids = jobs.map((j) => j.id);
      let changed = 0;
      if (plan.action === 'retry' && isDeadLetterQueue(queue)) {
        const moved = await redriveDeadLetters(trx, boss, queue, jobs, onTrx);
        result.redriven.push(...moved.redriven);
        changed = moved.count;
      } else if (plan.action === 'retry') {
        changed = affected(await boss.retry(queue, ids, onTrx));
        result.deadLetterCopiesRemoved += await dropDeadLetterCopies(trx, boss, queue, ids, onTrx);
      } else if (plan.action === 'cancel') {
        changed = affected(await boss.cancel(queue, ids, onTrx));
      } else {
        changed = affected(await boss.resume(queue, ids, onTrx));
      }
      result.byQueue[queue] = changed;
      result.changed += changed;
    }
    const before: Record<string, number> = {};
    for (const job of plan.jobs) before[job.state] = (before[job.state] ?? 0) + 1;
    const target = auditTarget(plan);
    await writeAudit(trx, op, {
      action: PERMISSION[plan.action],
      targetType: target.type,
      targetId: target.id,
      before: { states: before },
      after: {
        count: result.changed,
        requested: result.requested,
        ids: plan.jobs.slice(0, AUDIT_IDS).map((j) => j.id),
        ...('match' in plan.target ? { filter: plan.target.match } : {}),
        ...(result.redriven.length > 0
          ? { redriven: result.redriven.slice(0, AUDIT_IDS).map((r) => ({ id: r.id, newId: r.newId })) }
          : {}),
        ...(result.deadLetterCopiesRemoved > 0
          ? { deadLetterCopiesRemoved: result.deadLetterCopiesRemoved }
          : {}),
      },
      reason: options.reason ?? null,
    });
    return result;
  });
}

/**
 * How many jobs a pg-boss command changed. Its `CommandResponse` type is empty, but every command
 * returns `{jobs, requested, affected}` (manager.js `mapCommandResponse`).
 */
function affected(response: CommandResponse): number {
  return Number((response as { affected?: unknown }).affected ?? 0);
}

type OnTrx = { db: ReturnType<typeof fromKysely> };

/**
 * Dead letters go back to the queue they failed in as new jobs (pg-boss `redrive`); a copy that an
 * earlier redrive could not re-create (it is failed in place) is retried first so it qualifies.
 */
async function redriveDeadLetters(
  trx: Kysely<Database>,
  boss: PgBoss,
  queue: string,
  jobs: PlannedJob[],
  onTrx: OnTrx,
): Promise<{ count: number; redriven: JobActionResult['redriven'] }> {
  const failed = jobs.filter((j) => j.state === 'failed').map((j) => j.id);
  if (failed.length > 0) await boss.retry(queue, failed, onTrx);
  const ids = jobs.map((j) => j.id);
  const origins = await sql<{ id: string; source_name: string | null; root: string | null }>`
    select id, source_name, coalesce(source_root_id, source_id) as root
    from pgboss.job where name = ${queue} and id = any(${ids}::uuid[])`.execute(trx);
  const count = await boss.redrive(queue, { ...onTrx, ids, limit: Math.max(ids.length, 1) });
  // The re-created jobs carry the chain's first job as source_root_id and were created in this transaction.
  const created = await sql<{ id: string; name: string; root: string }>`
    select id, name, source_root_id as root from pgboss.job
    where name = any(${[...new Set(origins.rows.map((o) => o.source_name ?? ''))]}::text[])
      and source_root_id = any(${origins.rows.map((o) => o.root).filter((r) => r !== null)}::uuid[])
      and created_on = now()`.execute(trx);
  const gone = await sql<{ id: string }>`
    select id from pgboss.job where name = ${queue} and id = any(${ids}::uuid[])`.execute(trx);
  const left = new Set(gone.rows.map((r) => r.id));
  const redriven = origins.rows
    .filter((o) => !left.has(o.id))
    .map((o) => ({
      id: o.id,
      queue: o.source_name ?? findQueue(queue)!.name,
      newId: created.rows.find((c) => c.root === o.root && c.name === o.source_name)?.id ?? null,
    }));
  return { count, redriven };
}

/** Removes the dead-letter copies of jobs just retried in their own queue, so the work runs once. */
async function dropDeadLetterCopies(
  trx: Kysely<Database>,
  boss: PgBoss,
  queue: string,
  ids: string[],
  onTrx: OnTrx,
): Promise<number> {
  const def = findQueue(queue);
  if (!def?.deadLetter) return 0;
  const dead = deadLetterName(def.name);
  const copies = await sql<{ id: string }>`
    select id from pgboss.job
    where name = ${dead} and source_id = any(${ids}::uuid[]) and state in ('created', 'retry', 'failed')`.execute(
    trx,
  );
  if (copies.rows.length === 0) return 0;
  await boss.deleteJob(
    dead,
    copies.rows.map((c) => c.id),
    onTrx,
  );
  return copies.rows.length;
}

// ---------------------------------------------------------------------------------------------
// queues

export interface QueueInfo {
  name: string;
  description: string;
  policy: QueueDefinition['policy'];
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  expireInSeconds: number;
  deadLetter: string | null;
  schedule: string | null;
  batchSize: number;
  concurrency: number;
  paused: { at: Date; by: string | null; reason: string } | null;
}

interface PauseRow {
  queue: string;
  paused_at: Date;
  paused_by: string | null;
  by_email: string | null;
  reason: string;
}

async function pauseRows(db: Kysely<Database>): Promise<Map<string, PauseRow>> {
  const rows = await sql<PauseRow>`
    select s.queue, s.paused_at, s.paused_by, a.email as by_email, s.reason
    from sumda.queue_state s left join admin.admins a on a.id = s.paused_by`.execute(db);
  return new Map(rows.rows.map((r) => [r.queue, r]));
}

/** The catalog, with each queue's pause. */
export async function listQueues(db: Kysely<Database>): Promise<QueueInfo[]> {
  const paused = await pauseRows(db);
  return ALL_QUEUES.map((def) => {
    const p = paused.get(def.name);
    return {
      name: def.name,
      description: def.description,
      policy: def.policy,
      retryLimit: def.retryLimit,
      retryDelaySeconds: def.retryDelaySeconds,
      retryBackoff: def.retryBackoff,
      expireInSeconds: def.expireInSeconds,
      deadLetter: def.deadLetter ? deadLetterName(def.name) : null,
      schedule: def.schedule ? `${def.schedule.cron} (${SCHEDULE_TZ})` : null,
      batchSize: def.worker.batchSize,
      concurrency: def.worker.concurrency,
      paused: p ? { at: p.paused_at, by: p.by_email, reason: p.reason } : null,
    };
  });
}

/** A queue workers fetch from: a catalog queue, not a dead-letter queue. */
export function requireWorkedQueue(name: string): QueueDefinition {
  const def = requireQueue(name);
  if (def.name !== name)
    throw new UsageError(
      `${name} is a dead-letter queue: no worker fetches from it, so it cannot be paused`,
      {
        hint: `pause ${def.name} instead, or move its jobs with \`sumda jobs retry --all-matching queue=${name}\``,
      },
    );
  return def;
}

export interface PauseResult {
  queue: string;
  changed: boolean;
  paused: { at: Date; by: string | null; reason: string } | null;
}

/**
 * Workers stop fetching from a paused queue within a few seconds (they re-read sumda.queue_state
 * every 3 s); jobs in flight finish. Pausing a paused queue changes nothing (and writes no audit row).
 */
export async function pauseQueue(
  db: Kysely<Database>,
  op: Operation,
  queue: string,
  reason: string,
): Promise<PauseResult> {
  requireWorkedQueue(queue);
  if (!reason.trim()) throw new UsageError('--reason must not be empty');
  await authorize(db, op, 'queues.pause', { type: 'queue', id: queue });
  return db.transaction().execute(async (trx) => {
    const inserted = await sql<{ paused_at: Date }>`
      insert into sumda.queue_state (queue, paused_by, reason) values (${queue}, ${op.actor?.id ?? null}, ${reason})
      on conflict (queue) do nothing
      returning paused_at`.execute(trx);
    const row = inserted.rows[0];
    if (!row) {
      const existing = (await pauseRows(trx)).get(queue)!;
      return {
        queue,
        changed: false,
        paused: { at: existing.paused_at, by: existing.by_email, reason: existing.reason },
      };
    }
    await writeAudit(trx, op, {
      action: 'queues.pause',
      targetType: 'queue',
      targetId: queue,
      before: { paused: false },
      after: { paused: true, paused_at: row.paused_at },
      reason,
    });
    return { queue, changed: true, paused: { at: row.paused_at, by: op.actor?.email ?? null, reason } };
  });
}

/** Lets workers fetch from the queue again. Resuming a queue that is not paused changes nothing. */
export async function resumeQueue(
  db: Kysely<Database>,
  op: Operation,
  queue: string,
  reason: string | null = null,
): Promise<PauseResult> {
  requireWorkedQueue(queue);
  await authorize(db, op, 'queues.resume', { type: 'queue', id: queue });
  return db.transaction().execute(async (trx) => {
    const deleted = await sql<{ paused_at: Date; paused_by: string | null; reason: string }>`
      delete from sumda.queue_state where queue = ${queue}
      returning paused_at, paused_by, reason`.execute(trx);
    const row = deleted.rows[0];
    if (!row) return { queue, changed: false, paused: null };
    await writeAudit(trx, op, {
      action: 'queues.resume',
      targetType: 'queue',
      targetId: queue,
      before: { paused: true, paused_at: row.paused_at, paused_by: row.paused_by, reason: row.reason },
      after: { paused: false },
      reason,
    });
    return { queue, changed: true, paused: null };
  });
}

// ---------------------------------------------------------------------------------------------
// schedules

export interface ScheduleInfo {
  queue: string;
  key: string;
  cron: string;
  timezone: string;
  description: string | null;
  nextRuns: Date[];
  /** How the installed schedule compares with the catalog. */
  status: 'ok' | 'differs from catalog' | 'not in catalog' | 'not installed';
  catalogCron: string | null;
  lastJobId: string | null;
}

/** pg-boss's installed schedules with their next runs (in their own time zone), beside the catalog's. */
export async function listSchedules(boss: PgBoss, options: { count?: number; from?: Date } = {}) {
  const from = options.from ?? new Date();
  const count = options.count ?? 3;
  const installed = await boss.getSchedules();
  const rows: ScheduleInfo[] = installed.map((s) => {
    const def = findQueue(s.name);
    const catalogCron = def?.name === s.name && def.schedule ? def.schedule.cron : null;
    const status: ScheduleInfo['status'] = !catalogCron
      ? 'not in catalog'
      : catalogCron === s.cron && s.timezone === SCHEDULE_TZ
        ? 'ok'
        : 'differs from catalog';
    return {
      queue: s.name,
      key: s.key,
      cron: s.cron,
      timezone: s.timezone,
      description: def?.description ?? null,
      nextRuns: boss.previewSchedule(s.cron, { tz: s.timezone, count, from }),
      status,
      catalogCron,
      lastJobId: s.lastJobId,
    };
  });
  for (const def of ALL_QUEUES) {
    if (!def.schedule || installed.some((s) => s.name === def.name)) continue;
    rows.push({
      queue: def.name,
      key: '',
      cron: def.schedule.cron,
      timezone: SCHEDULE_TZ,
      description: def.description,
      nextRuns: [],
      status: 'not installed',
      catalogCron: def.schedule.cron,
      lastJobId: null,
    });
  }
  return rows;
}
