/**
 * The single read path the workers use for policies: a snapshot of active pointers and live
 * overrides, cached for a short TTL. When a refresh fails (database blip, failover) the last
 * good snapshot keeps serving, with a warning, so workers keep running on known-good policy.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { IntegrityError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { JsonObject } from './merge.ts';
import { type PolicySnapshot, type Resolution, resolvePolicies, type Subject } from './resolve.ts';
import type { PolicyName } from './schemas.ts';
import { checkPolicyContent } from './versions.ts';

export async function loadSnapshot(db: Kysely<Database>): Promise<PolicySnapshot> {
  const [active, overrides, now] = await Promise.all([
    db
      .selectFrom('admin.ai_policy_active as a')
      .innerJoin('admin.ai_policy_versions as v', 'v.id', 'a.version_id')
      .select(['a.policy_name', 'a.scope', 'v.id', 'v.version', 'v.config', 'v.content_hash'])
      .execute(),
    db
      .selectFrom('admin.ai_overrides')
      .select(['id', 'target', 'key', 'value', 'rollout_percent', 'expires_at', 'created_at'])
      .where('expired_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .execute(),
    sql<{ now: Date }>`select now() as now`.execute(db),
  ]);
  // A version edited behind its immutability trigger is never served (IntegrityError, exit 4).
  for (const row of active) checkPolicyContent(row);
  return {
    loadedAt: now.rows[0]!.now,
    active: new Map(
      active.map((row) => [
        `${row.policy_name}|${row.scope}`,
        {
          policyName: row.policy_name as PolicyName,
          scope: row.scope,
          versionId: row.id,
          version: row.version,
          config: row.config as JsonObject,
        },
      ]),
    ),
    overrides: overrides.map((o) => ({
      id: o.id,
      target: o.target,
      key: o.key,
      value: o.value,
      rolloutPercent: o.rollout_percent,
      expiresAt: o.expires_at,
      createdAt: o.created_at,
    })),
  };
}

/** After a failed refresh, the next attempt waits this long (the last good snapshot serves meanwhile). */
const RETRY_AFTER_FAILURE_MS = 2000;

export interface ResolverOptions {
  ttlMs?: number;
  log?: Logger;
  now?: () => Date;
  load?: (db: Kysely<Database>) => Promise<PolicySnapshot>;
}

export class PolicyResolver {
  readonly #db: Kysely<Database>;
  readonly #ttlMs: number;
  readonly #log: Logger | undefined;
  readonly #now: () => Date;
  readonly #load: (db: Kysely<Database>) => Promise<PolicySnapshot>;
  #snapshot: PolicySnapshot | undefined;
  /** Per snapshot: who has anything personal (user pointers, user or A/B overrides), and the shared answer for everyone else. */
  #index:
    | { snapshot: PolicySnapshot; personal: Set<string>; rollout: boolean; shared: Map<string, Resolution> }
    | undefined;
  #fetchedAt = 0;
  #inflight: Promise<PolicySnapshot> | undefined;

  constructor(db: Kysely<Database>, options: ResolverOptions = {}) {
    this.#db = db;
    this.#ttlMs = options.ttlMs ?? 10_000;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    this.#load = options.load ?? loadSnapshot;
  }

  /** The cached snapshot, refreshed after the TTL; on a failed refresh, the last good one. */
  async snapshot(): Promise<PolicySnapshot> {
    if (this.#snapshot && Date.now() - this.#fetchedAt < this.#ttlMs) return this.#snapshot;
    this.#inflight ??= this.#load(this.#db).finally(() => {
      this.#inflight = undefined;
    });
    try {
      this.#snapshot = await this.#inflight;
      this.#fetchedAt = Date.now();
    } catch (error) {
      if (!this.#snapshot) throw error;
      // Serve the last good copy and try the database again in a couple of seconds, not on every call.
      this.#fetchedAt = Date.now() - this.#ttlMs + RETRY_AFTER_FAILURE_MS;
      if (error instanceof IntegrityError) {
        // Someone changed a published version in place: loud, and the tampered copy is not used.
        this.#log?.error(
          { err: error },
          'policy content_hash mismatch; refusing it and using last known good',
        );
      } else {
        this.#log?.warn(
          { err: error, ageMs: Date.now() - this.#fetchedAt },
          'policy refresh failed; using last known good',
        );
      }
    }
    return this.#snapshot;
  }

  async resolve(subject: Subject): Promise<Resolution> {
    const snapshot = await this.snapshot();
    const now = this.#now();
    if (this.#index?.snapshot !== snapshot) {
      const personal = new Set<string>();
      for (const key of snapshot.active.keys())
        if (key.includes('|user:')) personal.add(key.split('|user:')[1]!);
      for (const o of snapshot.overrides) if (o.target.startsWith('user:')) personal.add(o.target.slice(5));
      this.#index = {
        snapshot,
        personal,
        rollout: snapshot.overrides.some((o) => o.rolloutPercent !== null),
        shared: new Map(),
      };
    }
    const index = this.#index;
    const expiring = snapshot.overrides.some((o) => o.expiresAt && o.expiresAt.getTime() <= now.getTime());
    if (index.rollout || expiring || (subject.userId && index.personal.has(subject.userId))) {
      return resolvePolicies(snapshot, subject, now);
    }
    // Nothing personal applies: everyone in this tenant gets the same answer, computed once per snapshot.
    const key = subject.tenantId ?? '';
    let shared = index.shared.get(key);
    if (!shared) {
      shared = resolvePolicies(snapshot, { tenantId: subject.tenantId }, now);
      index.shared.set(key, shared);
    }
    return shared;
  }

  /** Drop the cache (after an operator change in the same process). */
  invalidate(): void {
    this.#fetchedAt = 0;
  }
}
