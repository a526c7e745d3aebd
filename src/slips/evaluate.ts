/**
 * The slip evaluator: one pure function from (effective slip + ethics policy, this entry's analysis,
 * the user's recent analyses, the user's open condition) to a decision. The live check and the
 * impact replay both call it, so they can never disagree.
 *
 * Glossary:
 * - spike: an entry whose intensity (tier_a) is at or above `spike_tier_a`.
 * - healthy high: a spike with positive valence and a positive context (achievement, joy, focus…):
 *   intensity is not risk, so it never counts.
 * - risky spike: a spike that is not healthy high.
 * - warning: a gentle note to the user; slipped: the AI reading pauses for a while (writing never does).
 * - fresh window: an operator's release or override starts the count again. Only entries written
 *   after an operator's last action on the user, and only warnings given after it, count; so a
 *   released user is not slipped again at once by the spikes the operator just looked at.
 * Rules, in order: slips disabled → normal; an operator's open override → it stands; an entry
 * written before the operator's last action → normal (that action already covered it); this entry is
 * not a risky spike → normal; risky spikes in the window reach `slip_spikes` (or this one reaches
 * `immediate_tier_a`) after a warning → slipped; reach `warning_spikes` (or `immediate_tier_a`)
 * → warning; otherwise normal. A warning always comes before a slip. Self-harm tags route to the
 * crisis flow whatever the decision, even far below every threshold.
 */
import type { ContextTag, EthicsTag } from '../analysis/schema.ts';
import type { EthicsConfig, SlipConfig } from '../policy/schemas.ts';

export type SlipStatus = 'normal' | 'warning' | 'slipped';

/** How far each status goes: a decision escalates an open condition only to a higher rank. */
export const SLIP_STATUS_RANK: Readonly<Record<SlipStatus, number>> = { normal: 0, warning: 1, slipped: 2 };

export interface AnalysisFacts {
  analysisId: string;
  /** When the entry was written. */
  at: Date;
  tierA: number;
  tierM: number;
  valence: number;
  contextTags: readonly ContextTag[];
  ethicsTags: readonly EthicsTag[];
}

export interface OpenCondition {
  status: SlipStatus;
  source: 'auto' | 'operator';
  triggeredAt: Date;
}

export interface EvaluationInput {
  slip: SlipConfig;
  ethics: EthicsConfig;
  entry: AnalysisFacts;
  /** The user's other analyses (any order; only those inside the window before `entry.at` count). */
  recent: readonly AnalysisFacts[];
  open: OpenCondition | null;
  /** Whether the user had a warning inside the window (open or already released) and after `freshSince`. */
  warnedInWindow: boolean;
  /** When an operator last released or overrode this user's condition: the window starts after it. */
  freshSince?: Date | null;
}

export type SlipRule =
  | 'disabled'
  | 'operator_override'
  | 'before_operator_action'
  | 'not_a_spike'
  | 'healthy_high'
  | 'below_warning'
  | 'spike_warning'
  | 'immediate_warning'
  | 'spike_slip'
  | 'immediate_slip';

export interface SlipDecision {
  decision: SlipStatus;
  rule: SlipRule;
  /** Risky spikes in the window, this entry included. */
  score: number;
  /** Self-harm signals: crisis resources are shown, separately from the slip decision. */
  crisis: boolean;
  /** Tags that put the entry in the moderation queue for an operator. */
  moderation: EthicsTag[];
  duration: string | null;
  evidence: {
    tier_a: number;
    tier_m: number;
    valence: number;
    context_tags: readonly ContextTag[];
    ethics_tags: readonly EthicsTag[];
    healthy_high: boolean;
    window_days: number;
    window_entries: number;
    risky_spikes: number;
    healthy_spikes: number;
    warned_in_window: boolean;
    /** The window starts after this operator action (ISO instant), or null. */
    fresh_since: string | null;
    thresholds: {
      spike_tier_a: number;
      immediate_tier_a: number;
      warning_spikes: number;
      slip_spikes: number;
      healthy_min_valence: number;
    };
  };
}

export function isSpike(facts: AnalysisFacts, slip: SlipConfig): boolean {
  return facts.tierA >= slip.spike_tier_a;
}

export function isHealthyHigh(facts: AnalysisFacts, slip: SlipConfig, ethics: EthicsConfig): boolean {
  if (facts.ethicsTags.some((t) => ethics.crisis_tags.includes(t) || ethics.moderation_tags.includes(t)))
    return false;
  return (
    facts.valence >= slip.healthy_high.min_valence &&
    facts.contextTags.some((t) => slip.healthy_high.context_tags.includes(t))
  );
}

export function isRiskySpike(facts: AnalysisFacts, slip: SlipConfig, ethics: EthicsConfig): boolean {
  return isSpike(facts, slip) && !isHealthyHigh(facts, slip, ethics);
}

const DAY_MS = 86_400_000;

export function evaluateSlip(input: EvaluationInput): SlipDecision {
  const { slip, ethics, entry } = input;
  const fresh = input.freshSince?.getTime() ?? Number.NEGATIVE_INFINITY;
  const since = Math.max(entry.at.getTime() - slip.window_days * DAY_MS, fresh);
  const window = input.recent.filter(
    (r) =>
      r.analysisId !== entry.analysisId && r.at.getTime() > since && r.at.getTime() <= entry.at.getTime(),
  );
  const all = [...window, entry];
  const risky = all.filter((f) => isRiskySpike(f, slip, ethics)).length;
  const healthy = all.filter((f) => isSpike(f, slip) && isHealthyHigh(f, slip, ethics)).length;
  const healthyNow = isSpike(entry, slip) && isHealthyHigh(entry, slip, ethics);
  const crisis = entry.ethicsTags.some((t) => ethics.crisis_tags.includes(t));
  const moderation = entry.ethicsTags.filter((t) => ethics.moderation_tags.includes(t));

  const decide = (decision: SlipStatus, rule: SlipRule): SlipDecision => ({
    decision,
    rule,
    score: risky,
    crisis,
    moderation,
    duration:
      decision === 'warning'
        ? slip.durations.warning
        : decision === 'slipped'
          ? slip.durations.slipped
          : null,
    evidence: {
      tier_a: entry.tierA,
      tier_m: entry.tierM,
      valence: entry.valence,
      context_tags: entry.contextTags,
      ethics_tags: entry.ethicsTags,
      healthy_high: healthyNow,
      window_days: slip.window_days,
      window_entries: all.length,
      risky_spikes: risky,
      healthy_spikes: healthy,
      warned_in_window: input.warnedInWindow,
      fresh_since: input.freshSince ? input.freshSince.toISOString() : null,
      thresholds: {
        spike_tier_a: slip.spike_tier_a,
        immediate_tier_a: slip.immediate_tier_a,
        warning_spikes: slip.warning_spikes,
        slip_spikes: slip.slip_spikes,
        healthy_min_valence: slip.healthy_high.min_valence,
      },
    },
  });

  if (!slip.enabled) return decide('normal', 'disabled');
  // An operator's decision stands until it ends; automation doesn't second-guess a human.
  if (input.open?.source === 'operator') return decide(input.open.status, 'operator_override');
  // Written before the operator's last look at this user (a check that ran late): already covered.
  if (entry.at.getTime() <= fresh) return decide('normal', 'before_operator_action');
  if (!isSpike(entry, slip)) return decide('normal', 'not_a_spike');
  if (healthyNow) return decide('normal', 'healthy_high');
  const immediate = entry.tierA >= slip.immediate_tier_a;
  const warned = input.warnedInWindow || input.open?.status === 'warning' || input.open?.status === 'slipped';
  if (warned && (risky >= slip.slip_spikes || immediate))
    return decide('slipped', immediate && risky < slip.slip_spikes ? 'immediate_slip' : 'spike_slip');
  if (risky >= slip.warning_spikes) return decide('warning', 'spike_warning');
  if (immediate) return decide('warning', 'immediate_warning');
  return decide('normal', 'below_warning');
}

/** The facts the evaluator needs, from an analysis row's private metadata. */
export function factsFromMetadata(analysisId: string, at: Date, metadata: unknown): AnalysisFacts {
  const m = (metadata ?? {}) as Record<string, unknown>;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  return {
    analysisId,
    at,
    tierA: num(m.tier_a, 0.1),
    tierM: num(m.tier_m, 0.1),
    valence: num(m.valence, 0),
    contextTags: (Array.isArray(m.context_tags) ? m.context_tags : []) as ContextTag[],
    ethicsTags: (Array.isArray(m.ethics_tags) ? m.ethics_tags : []) as EthicsTag[],
  };
}
