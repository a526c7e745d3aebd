/**
 * Policy versions and the active pointer. Publishing inserts an immutable version (the database
 * refuses UPDATE/DELETE); activating moves admin.ai_policy_active (policy, scope) → version and
 * remembers where it pointed before; rollback moves it back, one step at a time, along the
 * recorded activation history. Nothing is ever deleted; every move is audited.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, type OperationWithActor, writeAudit } from '../audit/index.ts';
import { lockFor, lockNames } from '../db/locks.ts';
import type { Database } from '../db/types.ts';
import { IntegrityError, NotFoundError, PgCode, pgCode, UsageError } from '../errors.ts';
import { findPrompt } from '../prompts/index.ts';
import { canonicalJson, type JsonObject } from './merge.ts';
import { isPolicyName, POLICY_NAMES, type PolicyName } from './names.ts';
import { configProblems, DEFAULT_POLICIES } from './schemas.ts';

const VERSION = /^v\d+\.\d+\.\d+$/;

export function requirePolicyName(name: string): PolicyName {
  if (!isPolicyName(name))
    throw new UsageError(`unknown policy ${JSON.stringify(name)}; policies: ${POLICY_NAMES.join(', ')}`);
  return name;
}

export function contentHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

/**
 * Refuses a policy version whose config no longer hashes to the content_hash it was published
 * with: it was edited behind the immutability trigger (by the table owner, with the trigger off).
 * Every read path that serves a version calls this.
 */
export function checkPolicyContent(row: {
  policy_name: string;
  version: string;
  scope: string;
  config: unknown;
  content_hash: string;
}): void {
  if (contentHash(row.config) !== row.content_hash) {
    throw new IntegrityError(
      `policy ${row.policy_name} ${row.version} (${row.scope}) does not match its content_hash: it was changed after publishing; refused`,
    );
  }
}

export class InvalidConfigError extends UsageError {
  readonly problems: string[];
  constructor(name: string, problems: string[]) {
    // One problem a line: a partial config can have a dozen.
    super(
      `invalid ${name} config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

export interface PublishInput {
  name: PolicyName;
  version: string;
  scope: string;
  config: unknown;
  notes?: string | null;
}

export interface PublishResult {
  id: string;
  version: string;
  contentHash: string;
  /** Versions with identical content, if any (allowed, but worth knowing). */
  identicalTo: string[];
}

/** Validates without writing: every problem at once. */
export function validatePublish(input: PublishInput): void {
  if (!VERSION.test(input.version))
    throw new UsageError(`--version ${input.version}: use semantic versions like v1.2.3`);
  const problems = configProblems(input.name, input.config);
  if (problems.length > 0) throw new InvalidConfigError(input.name, problems);
}

export async function publishVersion(
  db: Kysely<Database>,
  op: Operation,
  input: PublishInput,
): Promise<PublishResult> {
  validatePublish(input);
  const hash = contentHash(input.config);
  return mutate(db, op, 'policy.publish', async (trx, op) => {
    const identical = await trx
      .selectFrom('admin.ai_policy_versions')
      .select('version')
      .where('policy_name', '=', input.name)
      .where('scope', '=', input.scope)
      .where('content_hash', '=', hash)
      .execute();
    let row: { id: string };
    try {
      row = await trx
        .insertInto('admin.ai_policy_versions')
        .values({
          policy_name: input.name,
          version: input.version,
          scope: input.scope,
          config: JSON.stringify(input.config),
          content_hash: hash,
          notes: input.notes ?? null,
          created_by: op.actor.id,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
    } catch (error) {
      if (pgCode(error) === PgCode.uniqueViolation) {
        throw new UsageError(
          `${input.name} ${input.version} (${input.scope}) is already published; versions are immutable`,
          {
            hint: 'publish the change under a new version',
          },
        );
      }
      throw error;
    }
    await writeAudit(trx, op, {
      action: 'policy.publish',
      targetType: 'policy_version',
      targetId: row.id,
      after: { policy: input.name, version: input.version, scope: input.scope, content_hash: hash },
      reason: input.notes ?? null,
    });
    return {
      id: row.id,
      version: input.version,
      contentHash: hash,
      identicalTo: identical.map((r) => r.version),
    };
  });
}

export async function findVersion(db: Kysely<Database>, name: PolicyName, version: string, scope: string) {
  const row = await db
    .selectFrom('admin.ai_policy_versions')
    .selectAll()
    .where('policy_name', '=', name)
    .where('version', '=', version)
    .where('scope', '=', scope)
    .executeTakeFirst();
  if (!row) {
    throw new NotFoundError(`${name} ${version} is not published for scope ${scope}`, {
      hint: `see \`sumda policy history ${name}${scope === 'global' ? '' : ` --scope ${scope}`}\``,
    });
  }
  checkPolicyContent(row);
  return row;
}

export interface PointerMove {
  policy: PolicyName;
  scope: string;
  /** A version, or null for no pointer: the built-in default (global), the global pointer (tenant, user). */
  from: string | null;
  to: string | null;
  changed: boolean;
}

async function versionLabel(db: Kysely<Database>, id: string | null): Promise<string | null> {
  if (!id) return null;
  const row = await db
    .selectFrom('admin.ai_policy_versions')
    .select('version')
    .where('id', '=', id)
    .executeTakeFirst();
  return row?.version ?? null;
}

/** What a pointer at no version means: the built-in default (global), or the global pointer's version. */
export function defaultLabel(scope: string): string {
  return scope === 'global' ? 'default' : 'none';
}

type PointerAction = 'policy.activate' | 'policy.rollback';
/** A policy's pointer in one scope, and why it moves. */
interface PointerInput {
  name: PolicyName;
  scope: string;
  reason: string | null;
}
/** Where a pointer moves: a version (null: no pointer), and the version it remembers as previous. */
interface PointerTarget {
  versionId: string | null;
  previousId: string | null;
}
type CurrentPointer = Awaited<ReturnType<typeof lockPointer>>;

/** The audit target id of a pointer: `<policy>|<scope>`. */
const pointerId = (input: { name: PolicyName; scope: string }) => `${input.name}|${input.scope}`;

/**
 * Moves the pointer, holding its row lock so concurrent moves serialise and history stays linear.
 * `versionId` null takes the pointer away: the scope is back on the built-in default (global) or
 * falls through to the global pointer (tenant/user).
 */
async function movePointer(
  trx: Kysely<Database>,
  op: OperationWithActor,
  action: PointerAction,
  { name, scope, reason }: PointerInput,
  { versionId, previousId }: PointerTarget,
  current: CurrentPointer,
): Promise<PointerMove> {
  const before = current?.version_id ?? null;
  if (versionId === null) {
    if (current) await trx.deleteFrom('admin.ai_policy_active').where('id', '=', current.id).execute();
  } else if (current) {
    await trx
      .updateTable('admin.ai_policy_active')
      .set({
        version_id: versionId,
        previous_version_id: previousId,
        activated_by: op.actor.id,
        activated_at: sql<Date>`now()`,
        reason,
      })
      .where('id', '=', current.id)
      .execute();
  } else {
    await trx
      .insertInto('admin.ai_policy_active')
      .values({
        policy_name: name,
        scope,
        version_id: versionId,
        previous_version_id: previousId,
        activated_by: op.actor.id,
        reason,
      })
      .execute();
  }
  const from = await versionLabel(trx, before);
  const to = await versionLabel(trx, versionId);
  // No pointer on either side is SQL NULL in the audit row, as for the very first activation.
  await writeAudit(trx, op, {
    action,
    targetType: 'policy_pointer',
    targetId: pointerId({ name, scope }),
    before: before ? { version_id: before, version: from } : null,
    after: versionId ? { version_id: versionId, version: to } : null,
    reason,
  });
  return { policy: name, scope, from, to, changed: before !== versionId };
}

async function lockPointer(trx: Kysely<Database>, name: PolicyName, scope: string) {
  // The advisory lock covers the first activation too, when there is no row yet to lock.
  await lockFor(trx, lockNames.policyPointer(name, scope));
  return trx
    .selectFrom('admin.ai_policy_active')
    .select(['id', 'version_id', 'previous_version_id'])
    .where('policy_name', '=', name)
    .where('scope', '=', scope)
    .forUpdate()
    .executeTakeFirst();
}

/**
 * Every move of a pointer: the role check, then — under the pointer's lock, in one transaction with
 * its audit row — `plan` decides where it goes (or answers that nothing changes).
 */
function changePointer(
  db: Kysely<Database>,
  op: Operation,
  action: PointerAction,
  input: PointerInput,
  plan: (trx: Kysely<Database>, current: CurrentPointer) => Promise<PointerTarget | PointerMove>,
): Promise<PointerMove> {
  return mutate(
    db,
    op,
    action,
    async (trx, op) => {
      const current = await lockPointer(trx, input.name, input.scope);
      const next = await plan(trx, current);
      return 'changed' in next ? next : movePointer(trx, op, action, input, next, current);
    },
    { type: 'policy_pointer', id: pointerId(input) },
  );
}

export async function activateVersion(
  db: Kysely<Database>,
  op: Operation,
  input: { name: PolicyName; version: string; scope: string; reason: string | null },
): Promise<PointerMove> {
  await authorize(db, op, 'policy.activate', { type: 'policy_pointer', id: pointerId(input) });
  if (input.version === 'default') return activateDefault(db, op, input);
  const target = await findVersion(db, input.name, input.version, input.scope);
  const problems = configProblems(input.name, target.config);
  if (problems.length > 0) throw new InvalidConfigError(`${input.name} ${input.version}`, problems);
  if (input.name === 'analysis') {
    // A pointer at a prompt that does not exist would stop every analysis: refuse it up front.
    const { prompt_name, prompt_version } = target.config as { prompt_name: string; prompt_version: string };
    await findPrompt(db, prompt_name, prompt_version);
  }
  return changePointer(db, op, 'policy.activate', input, async (_trx, current) =>
    current?.version_id === target.id
      ? { policy: input.name, scope: input.scope, from: input.version, to: input.version, changed: false }
      : { versionId: target.id, previousId: current?.version_id ?? null },
  );
}

/** `policy activate <name> default`: take the scope's pointer away (the built-in default, or the global pointer). */
function activateDefault(db: Kysely<Database>, op: Operation, input: PointerInput): Promise<PointerMove> {
  return changePointer(db, op, 'policy.activate', input, async (_trx, current) =>
    current
      ? { versionId: null, previousId: null }
      : { policy: input.name, scope: input.scope, from: null, to: null, changed: false },
  );
}

/**
 * Moves the pointer back to where it pointed before the current version was activated. The
 * pointer's audited moves are replayed as a stack (an activation pushes, a rollback pops), so
 * repeated rollbacks retrace the activation history — v1 → v2 → v4 → v2 rolls back to v4, v2, v1 —
 * instead of toggling between the last two versions.
 */
export function rollbackPointer(
  db: Kysely<Database>,
  op: Operation,
  input: PointerInput,
): Promise<PointerMove> {
  return changePointer(db, op, 'policy.rollback', input, async (trx, current) => {
    const currentId = current?.version_id ?? null;
    const moves = await trx
      .selectFrom('admin.audit_log')
      .select(['action', sql<string | null>`after->>'version_id'`.as('to_id')])
      .where('action', 'in', ['policy.activate', 'policy.rollback'])
      .where('outcome', '=', 'success')
      .where('target_type', '=', 'policy_pointer')
      .where('target_id', '=', pointerId(input))
      .orderBy('chain_seq')
      .execute();
    // The history starts at no pointer (null: the built-in default), which is never popped.
    const stack: (string | null)[] = [null];
    for (const move of moves) {
      if (move.action === 'policy.activate') stack.push(move.to_id);
      else if (stack.length > 1) stack.pop();
    }
    if (stack.length >= 2 && stack.at(-1) === currentId) {
      return { versionId: stack.at(-2)!, previousId: stack.at(-3) ?? null };
    }
    if (current) {
      // A history that does not end at the pointer (rows written outside sumda): one step back
      // only, to the remembered previous version, or to the default when none is remembered.
      return { versionId: current.previous_version_id, previousId: null };
    }
    throw new UsageError(
      `${input.name} (${input.scope}) is on the ${input.scope === 'global' ? 'built-in default' : 'global pointer'}; nothing to roll back to`,
    );
  });
}

/** `show`: a version's config; `active` (default) and `default` are accepted as version names. */
export async function showConfig(db: Kysely<Database>, name: PolicyName, version: string, scope: string) {
  if (version === 'default')
    return { version: 'default', scope: 'built-in', config: DEFAULT_POLICIES[name] as unknown };
  if (version === 'active') {
    const active = await db
      .selectFrom('admin.ai_policy_active as a')
      .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
      .select(['v.version', 'v.config', 'v.content_hash', 'v.created_at', 'v.notes'])
      .where('a.policy_name', '=', name)
      .where('a.scope', '=', scope)
      .executeTakeFirst();
    if (!active) return { version: 'default', scope: 'built-in', config: DEFAULT_POLICIES[name] as unknown };
    checkPolicyContent({ ...active, policy_name: name, scope });
    return { ...active, scope };
  }
  const row = await findVersion(db, name, version, scope);
  return {
    version: row.version,
    scope,
    config: row.config as JsonObject,
    content_hash: row.content_hash,
    created_at: row.created_at,
    notes: row.notes,
  };
}

export async function policyHistory(db: Kysely<Database>, name: PolicyName, scope: string) {
  const versions = await db
    .selectFrom('admin.ai_policy_versions as v')
    .innerJoin('admin.admins as ad', 'ad.id', 'v.created_by')
    .select(['v.version', 'v.content_hash', 'v.created_at', 'v.notes', 'ad.email as created_by'])
    .where('v.policy_name', '=', name)
    .where('v.scope', '=', scope)
    .orderBy('v.created_at')
    .execute();
  const moves = await db
    .selectFrom('admin.audit_log')
    .select(['at', 'action', 'actor_email', 'reason', 'before', 'after'])
    .where('target_type', '=', 'policy_pointer')
    .where('target_id', '=', `${name}|${scope}`)
    .where('outcome', '=', 'success')
    .orderBy('chain_seq')
    .execute();
  return {
    versions,
    moves: moves.map((m) => ({
      at: m.at,
      action: m.action.replace('policy.', ''),
      from: (m.before as { version?: string } | null)?.version ?? null,
      to: (m.after as { version?: string } | null)?.version ?? null,
      by: m.actor_email,
      reason: m.reason,
    })),
  };
}
