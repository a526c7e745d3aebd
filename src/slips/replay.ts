/**
 * Impact replay: what a candidate slip or ethics config would have done over the last N days,
 * against the active one. Both run through the same evaluator as the live check, entry by entry in
 * each user's own order, with the same state (open conditions, their expiry, earlier warnings), so
 * a replay can never disagree with what the live flow would do. Reads in bounded keyset batches.
 * Each user is replayed under their own effective configs (per-user and A/B overrides and pointers,
 * as they stand now, on both sides), and operators' actions in the period are replayed as they
 * happened: an override stands while it lasted, and a release or override starts a fresh window.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { UsageError } from '../errors.ts';
import type { JsonObject } from '../policy/merge.ts';
import { type PolicySnapshot, resolvePolicies } from '../policy/resolve.ts';
import type { PolicyResolver } from '../policy/resolver.ts';
import { configProblems, type EthicsConfig, type SlipConfig } from '../policy/schemas.ts';
import { parseDuration } from '../time/grammar.ts';
import {
  type AnalysisFacts,
  evaluateSlip,
  factsFromMetadata,
  SLIP_STATUS_RANK,
  type SlipStatus,
} from './evaluate.ts';

export interface ReplayConfigs {
  slip: SlipConfig;
  ethics: EthicsConfig;
}

export interface ReplayCounts {
  entries: Record<SlipStatus, number>;
  /** Users who reached each state at least once (a slipped user also counts as warned). */
  users: { warning: number; slipped: number };
  crisis: number;
  moderation: number;
}

export interface ReplayExample {
  user: string;
  analysisId: string;
  tierA: number;
  valence: number;
  baseline: SlipStatus;
  candidate: SlipStatus;
  rule: string;
}

export interface ReplayResult {
  days: number;
  entries: number;
  users: number;
  baseline: ReplayCounts;
  candidate: ReplayCounts;
  /** Entries whose decision changes, by the state they would now get. */
  newly: Record<SlipStatus, number>;
  /** Users whose worst state changes: newly warned, newly slipped, newly never-slipped. */
  newlyUsers: { warning: number; slipped: number; normal: number };
  examples: ReplayExample[];
}

/**
 * What an operator did to a user's slip state, replayed at the instant it happened: `release` ends
 * whatever is open; `override` sets a state by hand until `until`. Both start a fresh window.
 */
export type OperatorEvent =
  | { at: Date; kind: 'release' }
  | { at: Date; kind: 'override'; status: SlipStatus; until: Date };

interface SimState {
  open: { status: SlipStatus; source: 'auto' | 'operator'; until: number } | null;
  warnings: number[];
  worst: SlipStatus;
  fresh: number | null;
}

function emptyCounts(): ReplayCounts {
  return {
    entries: { normal: 0, warning: 0, slipped: 0 },
    users: { warning: 0, slipped: 0 },
    crisis: 0,
    moderation: 0,
  };
}

/**
 * Runs one user's entries (in time order) through the evaluator, with the operator's actions
 * (any order) applied at the instants they happened; returns each entry's decision.
 */
export function simulateUser(
  configs: ReplayConfigs,
  entries: readonly AnalysisFacts[],
  events: readonly OperatorEvent[] = [],
) {
  const state: SimState = { open: null, warnings: [], worst: 'normal', fresh: null };
  // A release before an override at the same instant: an override closes what was open first.
  const pending = [...events].sort(
    (a, b) => a.at.getTime() - b.at.getTime() || (a.kind === 'release' ? -1 : 1),
  );
  let next = 0;
  // Per entry: the evaluator's decision given the state so far (the live check would act on it
  // only when it escalates the open condition).
  const decisions: { decision: SlipStatus; rule: string; crisis: boolean; moderation: boolean }[] = [];
  const windowMs = configs.slip.window_days * 86_400_000;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const at = entry.at.getTime();
    for (; next < pending.length && pending[next]!.at.getTime() < at; next++) {
      const event = pending[next]!;
      if (state.open && state.open.until <= event.at.getTime()) state.open = null;
      state.open =
        event.kind === 'override'
          ? { status: event.status, source: 'operator', until: event.until.getTime() }
          : null;
      state.fresh = event.at.getTime();
      state.warnings = [];
    }
    if (state.open && state.open.until <= at) state.open = null;
    const recent = entries.slice(0, i).filter((e) => e.at.getTime() > at - windowMs);
    const decision = evaluateSlip({
      slip: configs.slip,
      ethics: configs.ethics,
      entry,
      recent,
      open: state.open
        ? { status: state.open.status, source: state.open.source, triggeredAt: new Date(at) }
        : null,
      warnedInWindow: state.warnings.some((w) => w > at - windowMs),
      freshSince: state.fresh === null ? null : new Date(state.fresh),
    });
    const escalates =
      decision.decision !== 'normal' &&
      (!state.open ||
        (state.open.source === 'auto' &&
          SLIP_STATUS_RANK[decision.decision] > SLIP_STATUS_RANK[state.open.status]));
    if (escalates) {
      state.open = {
        status: decision.decision,
        source: 'auto',
        until: at + parseDuration(decision.duration!),
      };
      // As in the live check: a warning counts until the next slip; after a slip a fresh one is needed.
      if (decision.decision === 'warning') state.warnings.push(at);
      else state.warnings = [];
      // What the policy did: a state an operator set by hand is not counted as the policy's.
      if (SLIP_STATUS_RANK[decision.decision] > SLIP_STATUS_RANK[state.worst])
        state.worst = decision.decision;
    }
    decisions.push({
      decision: decision.decision,
      rule: decision.rule,
      crisis: decision.crisis,
      moderation: decision.moderation.length > 0,
    });
  }
  return { decisions, worst: state.worst };
}

function anonymise(userId: string): string {
  return `u_${createHash('sha256').update(userId).digest('hex').slice(0, 8)}`;
}

export async function countReplayable(
  db: Kysely<Database>,
  days: number,
  now: Date = new Date(),
): Promise<number> {
  const row = await sql<{ n: number }>`
    select count(distinct a.diary_id)::int as n from public.analysis_results a
    join public.diary_entries d on d.id = a.diary_id
    where d.created_at >= ${new Date(now.getTime() - days * 86_400_000)}`.execute(db);
  return row.rows[0]?.n ?? 0;
}

/** Operators' actions that matter from `since` on, per user: releases, and overrides still running at `since` or later. */
export async function operatorEvents(
  db: Kysely<Database>,
  since: Date,
): Promise<Map<string, OperatorEvent[]>> {
  const rows = await sql<{
    user_id: string;
    status: SlipStatus;
    source: 'auto' | 'operator';
    triggered_at: Date;
    until: Date | null;
    released_at: Date | null;
    released_by: string | null;
  }>`
    select user_id, status, source, triggered_at, triggered_at + duration as until, released_at, released_by
    from admin.slip_conditions
    where (source = 'operator' or released_by is not null)
      and coalesce(released_at, triggered_at + duration, 'infinity'::timestamptz) >= ${since}
    order by user_id, triggered_at`.execute(db);
  const byUser = new Map<string, OperatorEvent[]>();
  const NEVER = new Date(8.64e15);
  for (const r of rows.rows) {
    const list = byUser.get(r.user_id) ?? [];
    if (r.source === 'operator')
      list.push({ at: r.triggered_at, kind: 'override', status: r.status, until: r.until ?? NEVER });
    if (r.released_by !== null && r.released_at !== null) list.push({ at: r.released_at, kind: 'release' });
    byUser.set(r.user_id, list);
  }
  return byUser;
}

export async function replay(
  db: Kysely<Database>,
  baseline: ReplayConfigs,
  candidate: ReplayConfigs,
  options: {
    days: number;
    now?: Date;
    batchSize?: number;
    onProgress?: (done: number) => void;
    examples?: number;
    /** A user's own configs on each side (their overrides), when they differ from the shared ones. */
    configsFor?: (userId: string) => { baseline: ReplayConfigs; candidate: ReplayConfigs } | undefined;
  },
): Promise<ReplayResult> {
  const since = new Date((options.now ?? new Date()).getTime() - options.days * 86_400_000);
  const events = await operatorEvents(db, since);
  const batchSize = options.batchSize ?? 20_000;
  const result: ReplayResult = {
    days: options.days,
    entries: 0,
    users: 0,
    baseline: emptyCounts(),
    candidate: emptyCounts(),
    newly: { normal: 0, warning: 0, slipped: 0 },
    newlyUsers: { warning: 0, slipped: 0, normal: 0 },
    examples: [],
  };
  const flush = (userId: string, entries: AnalysisFacts[]) => {
    if (entries.length === 0) return;
    const own = options.configsFor?.(userId);
    const actions = events.get(userId) ?? [];
    const a = simulateUser(own?.baseline ?? baseline, entries, actions);
    const b = simulateUser(own?.candidate ?? candidate, entries, actions);
    result.users += 1;
    result.entries += entries.length;
    for (const [counts, sim] of [
      [result.baseline, a],
      [result.candidate, b],
    ] as const) {
      for (const d of sim.decisions) {
        counts.entries[d.decision] += 1;
        if (d.crisis) counts.crisis += 1;
        if (d.moderation) counts.moderation += 1;
      }
      if (sim.worst !== 'normal') counts.users.warning += 1;
      if (sim.worst === 'slipped') counts.users.slipped += 1;
    }
    for (let i = 0; i < entries.length; i++) {
      const before = a.decisions[i]!;
      const after = b.decisions[i]!;
      if (before.decision === after.decision) continue;
      result.newly[after.decision] += 1;
      if (result.examples.length < (options.examples ?? 5)) {
        const e = entries[i]!;
        result.examples.push({
          user: anonymise(userId),
          analysisId: e.analysisId,
          tierA: e.tierA,
          valence: e.valence,
          baseline: before.decision,
          candidate: after.decision,
          rule: after.rule,
        });
      }
    }
    if (a.worst !== b.worst) {
      if (b.worst === 'slipped') result.newlyUsers.slipped += 1;
      else if (b.worst === 'warning') result.newlyUsers.warning += 1;
      else result.newlyUsers.normal += 1;
    }
  };

  // The cursor keeps created_at as Postgres text: a JavaScript Date drops the microseconds, and a
  // cursor below the last row would read it again (forever, with a batch of one).
  let cursor: { user_id: string; at_key: string; diary_id: string } | undefined;
  let currentUser: string | undefined;
  let pending: AnalysisFacts[] = [];
  let done = 0;
  for (;;) {
    const rows = await sql<{
      user_id: string;
      diary_id: string;
      analysis_id: string;
      at: Date;
      at_key: string;
      metadata: unknown;
    }>`
      select distinct on (d.user_id, d.created_at, d.id) d.user_id, d.id as diary_id, a.id as analysis_id,
             d.created_at as at, d.created_at::text as at_key, a.metadata
      from public.analysis_results a
      join public.diary_entries d on d.id = a.diary_id
      where d.created_at >= ${since}
        ${cursor ? sql`and (d.user_id, d.created_at, d.id) > (${cursor.user_id}, ${cursor.at_key}::timestamptz, ${cursor.diary_id})` : sql``}
      order by d.user_id, d.created_at, d.id, a.created_at desc
      limit ${batchSize}`.execute(db);
    for (const row of rows.rows) {
      if (row.user_id !== currentUser) {
        if (currentUser) flush(currentUser, pending);
        currentUser = row.user_id;
        pending = [];
      }
      pending.push(factsFromMetadata(row.analysis_id, row.at, row.metadata));
    }
    done += rows.rows.length;
    options.onProgress?.(done);
    if (rows.rows.length < batchSize) break;
    const last = rows.rows.at(-1)!;
    cursor = { user_id: last.user_id, at_key: last.at_key, diary_id: last.diary_id };
  }
  if (currentUser) flush(currentUser, pending);
  return result;
}

/**
 * A candidate slip or ethics config replayed against the active configs: `slip replay` and
 * `policy publish|activate --dry-run`. The candidate takes the place of the version at `scope`
 * (global unless said), and every user gets what resolution would give them on each side: global
 * overrides on top for everyone, per-user and A/B overrides and user pointers for those they apply to.
 * An invalid candidate is a usage error (exit 2), one problem a line.
 * `onTotal` gets the number of entries to replay before the first batch (for a progress bar).
 */
export async function replayCandidate(
  db: Kysely<Database>,
  resolver: PolicyResolver,
  policy: 'slip' | 'ethics',
  candidateConfig: unknown,
  options: {
    days: number;
    scope?: string;
    onTotal?: (entries: number) => void;
    onProgress?: (done: number) => void;
  },
): Promise<ReplayResult> {
  const problems = configProblems(policy, candidateConfig);
  if (problems.length > 0)
    throw new UsageError(
      `invalid ${policy} config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  const snapshot = await resolver.snapshot();
  const scope = options.scope ?? 'global';
  const proposed: PolicySnapshot = { ...snapshot, active: new Map(snapshot.active) };
  proposed.active.set(`${policy}|${scope}`, {
    policyName: policy,
    scope,
    versionId: 'candidate',
    version: 'candidate',
    config: candidateConfig as JsonObject,
  });
  const now = new Date();
  const pick = (s: PolicySnapshot, userId?: string): ReplayConfigs => {
    const { configs } = resolvePolicies(s, { userId }, now);
    return { slip: configs.slip, ethics: configs.ethics };
  };
  // Who resolves differently from everyone else: user pointers and user overrides; A/B overrides
  // put everyone in or out by their own bucket.
  const personal = new Set<string>();
  for (const key of proposed.active.keys()) if (key.includes('|user:')) personal.add(key.split('|user:')[1]!);
  for (const o of snapshot.overrides) if (o.target.startsWith('user:')) personal.add(o.target.slice(5));
  const rollout = snapshot.overrides.some((o) => o.rolloutPercent !== null);
  options.onTotal?.(await countReplayable(db, options.days));
  return replay(db, pick(snapshot), pick(proposed), {
    days: options.days,
    onProgress: options.onProgress,
    configsFor: (userId) =>
      rollout || personal.has(userId)
        ? { baseline: pick(snapshot, userId), candidate: pick(proposed, userId) }
        : undefined,
  });
}
