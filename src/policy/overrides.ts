/**
 * Overrides: a value for one key path of one policy, for a target (global, tenant:<id>,
 * user:<id>), with a reason and normally an expiry. Permanent overrides must be asked for
 * explicitly and show up in `policy lint`. Expired overrides stop applying at read time;
 * `expire` ends one early (and housekeeping marks the naturally expired ones).
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import type { Operation } from '../audit/index.ts';
import { writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { applyAt, hasPath, type JsonObject, startLayer } from './merge.ts';
import { parseOverrideKey } from './resolve.ts';
import { configProblems, DEFAULT_POLICIES, POLICY_NAMES } from './schemas.ts';
import { contentHash } from './versions.ts';

export interface OverrideInput {
  target: string;
  key: string;
  value: unknown;
  reason: string;
  expiresAt: Date | null;
  permanent: boolean;
  rolloutPercent: number | null;
}

/** Checks an override against the schema: known key, and a value that keeps the config valid. */
export function overrideProblems(key: string, value: unknown, base?: JsonObject): string[] {
  const parsed = parseOverrideKey(key);
  if (!parsed) return [`key ${key}: must start with a policy name (${POLICY_NAMES.join(', ')})`];
  const config = base ?? DEFAULT_POLICIES[parsed.policy];
  if (parsed.path.length > 0 && !hasPath(config, parsed.path)) {
    return [`key ${key}: the ${parsed.policy} policy has no such setting`];
  }
  try {
    const applied = applyAt(startLayer(config, { layer: 'base', kind: 'default' }), parsed.path, value, {
      layer: 'override',
      kind: 'override',
    });
    return configProblems(parsed.policy, applied.value);
  } catch (error) {
    return [`key ${key}: ${(error as Error).message}`];
  }
}

export async function setOverride(db: Kysely<Database>, op: Operation, input: OverrideInput) {
  await authorize(db, op, 'override.set', { type: 'override', id: input.target });
  if (!input.reason.trim())
    throw new UsageError('--reason is required: say why (A/B test, hotfix, support case)');
  if (!input.expiresAt && !input.permanent) {
    throw new UsageError('an override needs an expiry', {
      hint: 'pass --expires-in 7d, --expires-at <time>, or --permanent',
    });
  }
  if (input.expiresAt && input.permanent)
    throw new UsageError('--permanent and an expiry contradict each other');
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    throw new UsageError('the expiry is in the past');
  const parsed = parseOverrideKey(input.key);
  // Validate against the config it will actually land on: the global active version, or the default.
  const active = parsed
    ? await db
        .selectFrom('admin.ai_policy_active as a')
        .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
        .select('v.config')
        .where('a.policy_name', '=', parsed.policy)
        .where('a.scope', '=', 'global')
        .executeTakeFirst()
    : undefined;
  const problems = overrideProblems(input.key, input.value, active?.config as JsonObject | undefined);
  if (problems.length > 0) throw new UsageError(`invalid override: ${problems.join('; ')}`);
  return mutate(
    db,
    op,
    'override.set',
    async (trx, op) => {
      const row = await trx
        .insertInto('admin.ai_overrides')
        .values({
          target: input.target,
          key: input.key,
          value: JSON.stringify(input.value),
          reason: input.reason,
          rollout_percent: input.rolloutPercent,
          expires_at: input.expiresAt,
          created_by: op.actor.id,
        })
        .returning(['id', 'created_at', 'expires_at'])
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: 'override.set',
        targetType: 'override',
        targetId: row.id,
        after: {
          target: input.target,
          key: input.key,
          value: input.value,
          rollout_percent: input.rolloutPercent,
          expires_at: row.expires_at,
        },
        reason: input.reason,
      });
      return row;
    },
    { type: 'override', id: input.target },
  );
}

export async function listOverrides(
  db: Kysely<Database>,
  filter: { target?: string; includeExpired?: boolean },
) {
  let query = db
    .selectFrom('admin.ai_overrides as o')
    .innerJoin('admin.admins as a', 'a.id', 'o.created_by')
    .select([
      'o.id',
      'o.target',
      'o.key',
      'o.value',
      'o.reason',
      'o.rollout_percent',
      'o.expires_at',
      'o.expired_at',
      'o.created_at',
      'a.email as created_by',
      sql<boolean>`o.expired_at is null and (o.expires_at is null or o.expires_at > now())`.as('live'),
    ])
    .orderBy('o.created_at', 'desc');
  if (filter.target) query = query.where('o.target', '=', filter.target);
  if (!filter.includeExpired) {
    query = query
      .where('o.expired_at', 'is', null)
      .where((eb) => eb.or([eb('o.expires_at', 'is', null), eb('o.expires_at', '>', sql<Date>`now()`)]));
  }
  return query.execute();
}

export async function expireOverride(db: Kysely<Database>, op: Operation, id: string, reason: string | null) {
  return mutate(
    db,
    op,
    'override.expire',
    async (trx) => {
      const row = await trx
        .selectFrom('admin.ai_overrides')
        .select(['id', 'target', 'key', 'expires_at', 'expired_at'])
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row)
        throw new NotFoundError(`no override ${id}`, { hint: 'see `sumda override list --include-expired`' });
      if (row.expired_at || (row.expires_at && row.expires_at.getTime() <= Date.now())) {
        throw new UsageError(`override ${id} has already expired`);
      }
      const updated = await trx
        .updateTable('admin.ai_overrides')
        .set({ expired_at: sql<Date>`now()` })
        .where('id', '=', id)
        .returning('expired_at')
        .executeTakeFirstOrThrow();
      await writeAudit(trx, op, {
        action: 'override.expire',
        targetType: 'override',
        targetId: id,
        before: { target: row.target, key: row.key, expires_at: row.expires_at, expired_at: null },
        after: { expired_at: updated.expired_at },
        reason,
      });
      return updated;
    },
    { type: 'override', id },
  );
}

/** Housekeeping: stamp naturally expired overrides so listings are tidy. Correctness never depends on it. */
export async function markExpiredOverrides(db: Kysely<Database>): Promise<number> {
  const result = await db
    .updateTable('admin.ai_overrides')
    .set({ expired_at: sql<Date>`expires_at` })
    .where('expired_at', 'is', null)
    .where('expires_at', '<=', sql<Date>`now()`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

export interface LintProblem {
  kind:
    | 'permanent-override'
    | 'unknown-key'
    | 'invalid-override'
    | 'tampered-version'
    | 'stale-version'
    | 'invalid-active-version';
  subject: string;
  detail: string;
}

/** Policy hygiene: permanent overrides, overrides the schema no longer knows, stale and invalid versions. */
export async function lintPolicies(
  db: Kysely<Database>,
  options: { staleDays?: number } = {},
): Promise<LintProblem[]> {
  const problems: LintProblem[] = [];
  // Judge each override against what it lands on, as `setOverride` does: the global active version.
  const bases = new Map<string, JsonObject>(
    (
      await db
        .selectFrom('admin.ai_policy_active as a')
        .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
        .select(['a.policy_name', 'v.config'])
        .where('a.scope', '=', 'global')
        .execute()
    ).map((row) => [row.policy_name, row.config as JsonObject]),
  );
  for (const o of await listOverrides(db, {})) {
    if (!o.expires_at) {
      problems.push({
        kind: 'permanent-override',
        subject: `override ${o.id}`,
        detail: `${o.target} ${o.key} has no expiry (${o.reason})`,
      });
    }
    const issues = overrideProblems(o.key, o.value, bases.get(o.key.split('.')[0]!));
    if (issues.some((i) => i.includes('no such setting') || i.includes('must start with a policy'))) {
      problems.push({ kind: 'unknown-key', subject: `override ${o.id}`, detail: issues.join('; ') });
    } else if (issues.length > 0) {
      problems.push({ kind: 'invalid-override', subject: `override ${o.id}`, detail: issues.join('; ') });
    }
  }
  const staleDays = options.staleDays ?? 30;
  const stale = await db
    .selectFrom('admin.ai_policy_versions as v')
    .select(['v.policy_name', 'v.version', 'v.scope', 'v.created_at'])
    .where('v.created_at', '<', sql<Date>`now() - make_interval(days => ${staleDays})`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('admin.ai_policy_active as a')
            .select('a.id')
            .where((eb) =>
              eb.or([
                eb('a.version_id', '=', eb.ref('v.id')),
                eb('a.previous_version_id', '=', eb.ref('v.id')),
              ]),
            ),
        ),
      ),
    )
    .execute();
  for (const v of stale) {
    problems.push({
      kind: 'stale-version',
      subject: `${v.policy_name} ${v.version} (${v.scope})`,
      detail: `published ${v.created_at.toISOString().slice(0, 10)}, neither active nor the rollback target`,
    });
  }
  // Every published version must still hash to what it was published as (edited behind its trigger otherwise).
  const versions = await db
    .selectFrom('admin.ai_policy_versions')
    .select(['policy_name', 'version', 'scope', 'config', 'content_hash'])
    .execute();
  for (const v of versions) {
    if (contentHash(v.config) !== v.content_hash) {
      problems.push({
        kind: 'tampered-version',
        subject: `${v.policy_name} ${v.version} (${v.scope})`,
        detail: 'its config does not match its content_hash: changed after publishing; it is never served',
      });
    }
  }
  const active = await db
    .selectFrom('admin.ai_policy_active as a')
    .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
    .select(['v.policy_name', 'v.version', 'v.scope', 'v.config'])
    .execute();
  for (const a of active) {
    const issues = configProblems(a.policy_name as (typeof POLICY_NAMES)[number], a.config);
    if (issues.length > 0) {
      problems.push({
        kind: 'invalid-active-version',
        subject: `${a.policy_name} ${a.version} (${a.scope})`,
        detail: issues.join('; '),
      });
    }
  }
  return problems;
}
