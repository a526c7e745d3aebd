/**
 * Impact replay: what a candidate slip or ethics config would have done over the last N days,
 * against the active one. Both run through the same evaluator as the live check, entry by entry in
 * each user's own order, with the same state (open conditions, their expiry, earlier warnings), so
 * a replay can never disagree with what the live flow would do. Reads in bounded keyset batches.
 * Per-user overrides are not replayed: both sides use the global configs.
 */
import { createHash } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { UsageError } from '../errors.ts';
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

interface SimState {
  open: { status: SlipStatus; until: number } | null;
  warnings: number[];
  worst: SlipStatus;
}

function emptyCounts(): ReplayCounts {
  return {
    entries: { normal: 0, warning: 0, slipped: 0 },
    users: { warning: 0, slipped: 0 },
    crisis: 0,
    moderation: 0,
  };
}

/** Runs one user's entries (in time order) through the evaluator; returns each entry's decision. */
export function simulateUser(configs: ReplayConfigs, entries: readonly AnalysisFacts[]) {
  const state: SimState = { open: null, warnings: [], worst: 'normal' };
  // Per entry: the evaluator's decision given the state so far (the live check would act on it
  // only when it escalates the open condition).
  const decisions: { decision: SlipStatus; rule: string; crisis: boolean; moderation: boolean }[] = [];
  const windowMs = configs.slip.window_days * 86_400_000;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const at = entry.at.getTime();
    if (state.open && state.open.until <= at) state.open = null;
    const recent = entries.slice(0, i).filter((e) => e.at.getTime() > at - windowMs);
    const decision = evaluateSlip({
      slip: configs.slip,
      ethics: configs.ethics,
      entry,
      recent,
      open: state.open ? { status: state.open.status, source: 'auto', triggeredAt: new Date(at) } : null,
      warnedInWindow: state.warnings.some((w) => w > at - windowMs),
    });
    const escalates =
      decision.decision !== 'normal' &&
      (!state.open || SLIP_STATUS_RANK[decision.decision] > SLIP_STATUS_RANK[state.open.status]);
    if (escalates) {
      state.open = { status: decision.decision, until: at + parseDuration(decision.duration!) };
      // As in the live check: a warning counts until the next slip; after a slip a fresh one is needed.
      if (decision.decision === 'warning') state.warnings.push(at);
      else state.warnings = [];
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
  },
): Promise<ReplayResult> {
  const since = new Date((options.now ?? new Date()).getTime() - options.days * 86_400_000);
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
    const a = simulateUser(baseline, entries);
    const b = simulateUser(candidate, entries);
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
 * A candidate slip or ethics config replayed against the active (global) configs: `slip replay`
 * and `policy publish|activate --dry-run`. An invalid candidate is a usage error (exit 2).
 * `onTotal` gets the number of entries to replay before the first batch (for a progress bar).
 */
export async function replayCandidate(
  db: Kysely<Database>,
  resolver: PolicyResolver,
  policy: 'slip' | 'ethics',
  candidateConfig: unknown,
  options: { days: number; onTotal?: (entries: number) => void; onProgress?: (done: number) => void },
): Promise<ReplayResult> {
  const problems = configProblems(policy, candidateConfig);
  if (problems.length > 0) throw new UsageError(`invalid ${policy} config: ${problems.join('; ')}`);
  const active = (await resolver.resolve({})).configs;
  const baseline: ReplayConfigs = { slip: active.slip, ethics: active.ethics };
  const candidate = { ...baseline, [policy]: candidateConfig } as ReplayConfigs;
  options.onTotal?.(await countReplayable(db, options.days));
  return replay(db, baseline, candidate, { days: options.days, onProgress: options.onProgress });
}
