/**
 * Policy resolution: the effective config of every policy for one user, and why.
 * Precedence per key path, highest first: user override > tenant override > global override >
 * active version (the most specific pointer: user, then tenant, then global) > built-in default.
 * Expired overrides stop applying at read time (`at`), to the instant; no job is needed for that.
 * A/B overrides (rollout_percent) are sticky: a user is in or out by a hash of (override id, user id).
 * This module is pure: the snapshot comes from the database (resolver.ts) or from a test.
 */
import { createHash } from 'node:crypto';
import { applyAt, type JsonObject, type Layered, type Provenance, startLayer } from './merge.ts';
import {
  configProblems,
  DEFAULT_POLICIES,
  POLICY_NAMES,
  type PolicyConfigs,
  type PolicyName,
} from './schemas.ts';

export interface ActiveVersion {
  policyName: PolicyName;
  scope: string;
  versionId: string;
  version: string;
  config: JsonObject;
}

export interface OverrideRecord {
  id: string;
  target: string;
  key: string;
  value: unknown;
  rolloutPercent: number | null;
  expiresAt: Date | null;
  createdAt: Date;
}

export interface PolicySnapshot {
  loadedAt: Date;
  /** Keyed by `${policy}|${scope}`. */
  active: Map<string, ActiveVersion>;
  overrides: OverrideRecord[];
}

export interface Subject {
  userId?: string | undefined;
  tenantId?: string | undefined;
}

export interface VersionInEffect {
  version: string;
  versionId: string | null;
  scope: string;
}

export interface Resolution {
  configs: PolicyConfigs;
  /** Policy → leaf path → provenance. */
  sources: Record<PolicyName, Map<string, Provenance>>;
  versions: Record<PolicyName, VersionInEffect>;
  /** Overrides that applied, for the record of every decision. */
  overrideIds: string[];
  /** Overrides that were skipped because they would make a config invalid. */
  skipped: { overrideId: string; problems: string[] }[];
}

export function parseOverrideKey(key: string): { policy: PolicyName; path: string[] } | undefined {
  const [policy, ...path] = key.split('.');
  return (POLICY_NAMES as readonly string[]).includes(policy!)
    ? { policy: policy as PolicyName, path }
    : undefined;
}

/** 0–99, stable for a (override, user) pair. */
export function rolloutBucket(overrideId: string, userId: string): number {
  return createHash('sha256').update(`${overrideId}:${userId}`).digest().readUInt32BE(0) % 100;
}

function levelOf(target: string): 0 | 1 | 2 {
  if (target === 'global') return 0;
  return target.startsWith('tenant:') ? 1 : 2;
}

export function appliesTo(override: OverrideRecord, subject: Subject, at: Date): boolean {
  if (override.expiresAt && override.expiresAt.getTime() <= at.getTime()) return false;
  // A subject without a user (tenant) id matches no user (tenant) target, not `user:undefined`.
  const user = subject.userId ? `user:${subject.userId}` : undefined;
  const tenant = subject.tenantId ? `tenant:${subject.tenantId}` : undefined;
  if (override.target.startsWith('user:') && override.target !== user) return false;
  if (override.target.startsWith('tenant:') && override.target !== tenant) return false;
  if (override.rolloutPercent !== null) {
    if (!subject.userId) return false;
    return rolloutBucket(override.id, subject.userId) < override.rolloutPercent;
  }
  return true;
}

export function activeVersionFor(
  snapshot: PolicySnapshot,
  policy: PolicyName,
  subject: Subject,
): ActiveVersion | undefined {
  const scopes = [
    subject.userId ? `user:${subject.userId}` : undefined,
    subject.tenantId ? `tenant:${subject.tenantId}` : undefined,
    'global',
  ];
  for (const scope of scopes) {
    const found = scope && snapshot.active.get(`${policy}|${scope}`);
    if (found) return found;
  }
  return undefined;
}

export function resolvePolicies(
  snapshot: PolicySnapshot,
  subject: Subject,
  at: Date = new Date(),
): Resolution {
  const configs = {} as Record<PolicyName, JsonObject>;
  const sources = {} as Record<PolicyName, Map<string, Provenance>>;
  const versions = {} as Record<PolicyName, VersionInEffect>;
  const overrideIds: string[] = [];
  const skipped: Resolution['skipped'] = [];
  const applicable = snapshot.overrides
    .filter((o) => appliesTo(o, subject, at))
    .sort((a, b) => levelOf(a.target) - levelOf(b.target) || a.createdAt.getTime() - b.createdAt.getTime());

  for (const policy of POLICY_NAMES) {
    let layered: Layered = startLayer(DEFAULT_POLICIES[policy], {
      layer: 'default',
      kind: 'default',
    });
    const active = activeVersionFor(snapshot, policy, subject);
    if (active) {
      // A version is a full snapshot: it replaces the default wholesale, keys and all.
      layered = startLayer(active.config, {
        layer: `version ${active.version} (${active.scope})`,
        kind: 'version',
        id: active.versionId,
      });
      versions[policy] = { version: active.version, versionId: active.versionId, scope: active.scope };
    } else {
      versions[policy] = { version: 'default', versionId: null, scope: 'built-in' };
    }
    for (const override of applicable) {
      const parsed = parseOverrideKey(override.key);
      if (!parsed || parsed.policy !== policy) continue;
      const provenance: Provenance = {
        layer: `override ${override.id.slice(0, 8)} (${override.target}${override.rolloutPercent !== null ? `, ${override.rolloutPercent}%` : ''})`,
        kind: 'override',
        id: override.id,
      };
      let candidate: Layered;
      try {
        candidate = applyAt(layered, parsed.path, override.value, provenance);
      } catch (error) {
        skipped.push({ overrideId: override.id, problems: [(error as Error).message] });
        continue;
      }
      const problems = configProblems(policy, candidate.value);
      if (problems.length > 0) {
        skipped.push({ overrideId: override.id, problems });
        continue;
      }
      layered = candidate;
      overrideIds.push(override.id);
    }
    configs[policy] = layered.value;
    sources[policy] = layered.sources;
  }
  // Each layer is a valid config of its policy: the default by its type, a version because publish and
  // activate refuse an invalid one, an override because it is skipped unless the result is valid.
  return { configs: configs as PolicyConfigs, sources, versions, overrideIds, skipped };
}

/** What a stored decision records about the policies behind it. */
export function policyStamp(resolution: Resolution, policies: readonly PolicyName[] = POLICY_NAMES) {
  return {
    policy_versions: Object.fromEntries(policies.map((p) => [p, resolution.versions[p].version])),
    override_ids: resolution.overrideIds,
  };
}
