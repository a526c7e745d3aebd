/** `sumda jobs retry|cancel|resume`: by id or by filter, through pg-boss's own commands on the caller's transaction (dead letters are redriven to their source queue), each with its audit row. Glossary: common.ts. */
import type { Kysely } from 'kysely';
import { type CommandResponse, fromKysely, type PgBoss } from 'pg-boss';
import { authorize, type Permission } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { allQueueNames, deadLetterName, findQueue } from '../queue/catalog.ts';
import { type JobRef, type JobState, QUERIES } from '../queue/plans.ts';
import { AUDIT_IDS, isDeadLetterQueue, requireQueue } from './common.ts';

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

export type PlannedJob = JobRef;

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
    const result = await QUERIES.jobsById(ids, names).execute(db);
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
  const result = await QUERIES.jobsMatching(queue, states, since ?? null).execute(db);
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
  const origins = await QUERIES.deadLetterOrigins(queue, ids).execute(trx);
  const count = await boss.redrive(queue, { ...onTrx, ids, limit: Math.max(ids.length, 1) });
  // The re-created jobs carry the chain's first job as source_root_id and were created in this transaction.
  const created = await QUERIES.redrivenJobs(
    [...new Set(origins.rows.map((o) => o.source_name ?? ''))],
    origins.rows.map((o) => o.root).filter((r) => r !== null),
  ).execute(trx);
  const gone = await QUERIES.jobIdsIn(queue, ids).execute(trx);
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
  const copies = await QUERIES.deadLetterCopies(dead, ids).execute(trx);
  if (copies.rows.length === 0) return 0;
  await boss.deleteJob(
    dead,
    copies.rows.map((c) => c.id),
    onTrx,
  );
  return copies.rows.length;
}
