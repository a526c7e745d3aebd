/**
 * The slip evaluator on hand-built facts (no database): every rule with a minimal case, every
 * threshold at and just below its boundary, the window edge to the millisecond, healthy versus
 * risky high intensity, a warning always before a slip, the crisis flow apart from the decision,
 * an operator's override standing, a policy change between two entries, and overrides resolved
 * through resolvePolicies feeding the evaluator.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ContextTag, EthicsTag } from '../../src/analysis/schema.ts';
import { type OverrideRecord, type PolicySnapshot, resolvePolicies } from '../../src/policy/resolve.ts';
import { DEFAULT_POLICIES, type SlipConfig, slipSchema } from '../../src/policy/schemas.ts';
import {
  type AnalysisFacts,
  type EvaluationInput,
  evaluateSlip,
  factsFromMetadata,
  type OpenCondition,
  type SlipRule,
} from '../../src/slips/evaluate.ts';

const SLIP = DEFAULT_POLICIES.slip;
const ETHICS = DEFAULT_POLICIES.ethics;
const DAY = 86_400_000;
const NOW = new Date('2026-11-25T12:00:00Z');

let seq = 0;
function facts(
  tierA: number,
  extra: {
    at?: Date;
    valence?: number;
    context?: ContextTag[];
    ethics?: EthicsTag[];
    id?: string;
  } = {},
): AnalysisFacts {
  seq += 1;
  return {
    analysisId: extra.id ?? `a${seq}`,
    at: extra.at ?? NOW,
    tierA,
    tierM: 1.5,
    valence: extra.valence ?? -0.5,
    contextTags: extra.context ?? ['anxiety'],
    ethicsTags: extra.ethics ?? [],
  };
}

/** Risky spikes written `n` hours apart before NOW. */
function riskyBefore(n: number, tierA = 3.4): AnalysisFacts[] {
  return Array.from({ length: n }, (_, i) =>
    facts(tierA, { at: new Date(NOW.getTime() - (i + 1) * 3_600_000) }),
  );
}

function evaluate(input: Partial<EvaluationInput> & { entry: AnalysisFacts }) {
  return evaluateSlip({
    slip: SLIP,
    ethics: ETHICS,
    recent: [],
    open: null,
    warnedInWindow: false,
    ...input,
  });
}

const openAuto = (status: OpenCondition['status']): OpenCondition => ({
  status,
  source: 'auto',
  triggeredAt: new Date(NOW.getTime() - 3_600_000),
});
const openOperator = (status: OpenCondition['status']): OpenCondition => ({
  status,
  source: 'operator',
  triggeredAt: new Date(NOW.getTime() - 3_600_000),
});

describe('every rule, with a minimal case', () => {
  const cases: {
    rule: SlipRule;
    input: () => Partial<EvaluationInput> & { entry: AnalysisFacts };
    decision: 'normal' | 'warning' | 'slipped';
    score: number;
  }[] = [
    {
      rule: 'disabled',
      input: () => ({
        slip: { ...SLIP, enabled: false },
        entry: facts(4),
        recent: riskyBefore(5),
        warnedInWindow: true,
      }),
      decision: 'normal',
      score: 6,
    },
    {
      rule: 'operator_override',
      input: () => ({
        entry: facts(4),
        recent: riskyBefore(5),
        open: openOperator('normal'),
        warnedInWindow: true,
      }),
      decision: 'normal',
      score: 6,
    },
    {
      rule: 'before_operator_action',
      input: () => ({
        entry: facts(4),
        recent: riskyBefore(5),
        freshSince: new Date(NOW.getTime() + 60_000),
        warnedInWindow: false,
      }),
      decision: 'normal',
      score: 1,
    },
    { rule: 'not_a_spike', input: () => ({ entry: facts(3.1) }), decision: 'normal', score: 0 },
    {
      rule: 'healthy_high',
      input: () => ({
        entry: facts(3.9, { valence: 0.8, context: ['achievement'] }),
        recent: riskyBefore(2),
      }),
      decision: 'normal',
      score: 2,
    },
    { rule: 'below_warning', input: () => ({ entry: facts(3.4) }), decision: 'normal', score: 1 },
    {
      rule: 'spike_warning',
      input: () => ({ entry: facts(3.4), recent: riskyBefore(1) }),
      decision: 'warning',
      score: 2,
    },
    { rule: 'immediate_warning', input: () => ({ entry: facts(3.9) }), decision: 'warning', score: 1 },
    {
      rule: 'spike_slip',
      input: () => ({ entry: facts(3.4), recent: riskyBefore(2), warnedInWindow: true }),
      decision: 'slipped',
      score: 3,
    },
    {
      rule: 'immediate_slip',
      input: () => ({ entry: facts(3.9), warnedInWindow: true }),
      decision: 'slipped',
      score: 1,
    },
  ];

  it.each(cases)('$rule → $decision', ({ rule, input, decision, score }) => {
    const result = evaluate(input());
    expect(result.rule).toBe(rule);
    expect(result.decision).toBe(decision);
    expect(result.score).toBe(score);
    expect(result.duration).toBe(
      decision === 'warning'
        ? SLIP.durations.warning
        : decision === 'slipped'
          ? SLIP.durations.slipped
          : null,
    );
  });

  it('covers every rule the evaluator can give', () => {
    const all: SlipRule[] = [
      'disabled',
      'operator_override',
      'before_operator_action',
      'not_a_spike',
      'healthy_high',
      'below_warning',
      'spike_warning',
      'immediate_warning',
      'spike_slip',
      'immediate_slip',
    ];
    expect(new Set(cases.map((c) => c.rule))).toEqual(new Set(all));
  });

  it('an operator override of slipped stands too, whatever this entry is', () => {
    const result = evaluate({
      entry: facts(0.5, { valence: 0.9, context: ['joy'] }),
      open: openOperator('slipped'),
    });
    expect(result).toMatchObject({ decision: 'slipped', rule: 'operator_override' });
  });

  it("an operator's release starts a fresh window: the spikes before it no longer count", () => {
    const released = new Date(NOW.getTime() - 30 * 60_000);
    // Two risky spikes before the release (1 h and 2 h before NOW), one after it would slip
    // a warned user; after the release only this entry counts: below the warning threshold.
    const result = evaluate({ entry: facts(3.4), recent: riskyBefore(2), freshSince: released });
    expect(result).toMatchObject({ decision: 'normal', rule: 'below_warning', score: 1 });
    expect(result.evidence).toMatchObject({
      window_entries: 1,
      risky_spikes: 1,
      fresh_since: released.toISOString(),
    });
    // The same entries without the release: a warning at once.
    expect(evaluate({ entry: facts(3.4), recent: riskyBefore(2) })).toMatchObject({
      decision: 'warning',
      score: 3,
    });
  });

  it('records the evidence: this entry, the window and the thresholds in effect', () => {
    const entry = facts(3.4, { ethics: ['harassment'] });
    const healthy = facts(3.5, { at: new Date(NOW.getTime() - DAY), valence: 0.7, context: ['joy'] });
    const calm = facts(1.2, { at: new Date(NOW.getTime() - 2 * DAY) });
    const result = evaluate({ entry, recent: [...riskyBefore(1), healthy, calm], warnedInWindow: false });
    expect(result.evidence).toEqual({
      tier_a: 3.4,
      tier_m: 1.5,
      valence: -0.5,
      context_tags: ['anxiety'],
      ethics_tags: ['harassment'],
      healthy_high: false,
      window_days: 7,
      window_entries: 4,
      risky_spikes: 2,
      healthy_spikes: 1,
      warned_in_window: false,
      fresh_since: null,
      thresholds: {
        spike_tier_a: 3.2,
        immediate_tier_a: 3.8,
        warning_spikes: 2,
        slip_spikes: 3,
        healthy_min_valence: 0.3,
      },
    });
  });
});

describe('boundaries', () => {
  it.each([
    [3.2, 'below_warning'],
    [3.19, 'not_a_spike'],
    [3.8, 'immediate_warning'],
    [3.79, 'below_warning'],
    [4.0, 'immediate_warning'],
    [0.1, 'not_a_spike'],
  ] as const)('tier_a %d alone → %s', (tierA, rule) => {
    expect(evaluate({ entry: facts(tierA) }).rule).toBe(rule);
  });

  it('spike_tier_a and immediate_tier_a are read from the config, not hard-coded', () => {
    const slip: SlipConfig = { ...SLIP, spike_tier_a: 2.5, immediate_tier_a: 3 };
    expect(evaluate({ slip, entry: facts(2.5) }).rule).toBe('below_warning');
    expect(evaluate({ slip, entry: facts(2.49) }).rule).toBe('not_a_spike');
    expect(evaluate({ slip, entry: facts(3) }).rule).toBe('immediate_warning');
    expect(evaluate({ slip, entry: facts(2.99) }).rule).toBe('below_warning');
  });

  it('warning_spikes: reached → warning, one short → normal', () => {
    expect(evaluate({ entry: facts(3.3), recent: riskyBefore(1) })).toMatchObject({
      decision: 'warning',
      rule: 'spike_warning',
      score: 2,
    });
    expect(evaluate({ entry: facts(3.3), recent: [] })).toMatchObject({ decision: 'normal', score: 1 });
    const three = { ...SLIP, warning_spikes: 3, slip_spikes: 4 };
    expect(evaluate({ slip: three, entry: facts(3.3), recent: riskyBefore(1) }).decision).toBe('normal');
    expect(evaluate({ slip: three, entry: facts(3.3), recent: riskyBefore(2) }).decision).toBe('warning');
  });

  it('slip_spikes (after a warning): reached → slipped, one short → warning', () => {
    expect(evaluate({ entry: facts(3.3), recent: riskyBefore(2), warnedInWindow: true })).toMatchObject({
      decision: 'slipped',
      rule: 'spike_slip',
      score: 3,
    });
    expect(evaluate({ entry: facts(3.3), recent: riskyBefore(1), warnedInWindow: true })).toMatchObject({
      decision: 'warning',
      rule: 'spike_warning',
      score: 2,
    });
  });

  it('an immediate entry that also reaches slip_spikes is a spike_slip (the count is the reason)', () => {
    expect(evaluate({ entry: facts(3.9), recent: riskyBefore(2), warnedInWindow: true }).rule).toBe(
      'spike_slip',
    );
  });

  it('window_days: an entry exactly window_days old does not count, one a millisecond newer does', () => {
    const edge = new Date(NOW.getTime() - 7 * DAY);
    const inside = new Date(NOW.getTime() - 7 * DAY + 1);
    const old = evaluate({ entry: facts(3.4), recent: [facts(3.4, { at: edge })] });
    expect(old).toMatchObject({ decision: 'normal', rule: 'below_warning', score: 1 });
    expect(old.evidence.window_entries).toBe(1);
    const fresh = evaluate({ entry: facts(3.4), recent: [facts(3.4, { at: inside })] });
    expect(fresh).toMatchObject({ decision: 'warning', rule: 'spike_warning', score: 2 });
    expect(fresh.evidence.window_entries).toBe(2);
  });

  it('entries after this one, and this very analysis listed again, never count', () => {
    const entry = facts(3.4, { id: 'same' });
    const later = facts(3.4, { at: new Date(NOW.getTime() + 1) });
    const again = { ...entry };
    expect(evaluate({ entry, recent: [later, again] })).toMatchObject({ decision: 'normal', score: 1 });
    // The same instant counts (written together, e.g. imported).
    expect(evaluate({ entry, recent: [facts(3.4, { at: NOW })] })).toMatchObject({ score: 2 });
  });
});

describe('healthy high intensity versus risky high intensity', () => {
  it.each([
    [
      'valence at min_valence with a healthy context',
      { valence: 0.3, context: ['joy'] },
      'normal',
      'healthy_high',
    ],
    [
      'achievement, very positive',
      { valence: 0.95, context: ['achievement', 'work'] },
      'normal',
      'healthy_high',
    ],
    [
      'same tier, negative valence, healthy context',
      { valence: -0.6, context: ['joy'] },
      'warning',
      'immediate_warning',
    ],
    [
      'healthy context, valence just below min',
      { valence: 0.29, context: ['focus'] },
      'warning',
      'immediate_warning',
    ],
    [
      'positive valence, no healthy context',
      { valence: 0.9, context: ['work', 'study'] },
      'warning',
      'immediate_warning',
    ],
    [
      'healthy-looking with a moderation tag',
      { valence: 0.9, context: ['achievement'], ethics: ['violence'] },
      'warning',
      'immediate_warning',
    ],
    [
      'healthy-looking with a crisis tag',
      { valence: 0.9, context: ['gratitude'], ethics: ['self_harm'] },
      'warning',
      'immediate_warning',
    ],
  ] as const)('%s → %s', (_label, extra, decision, rule) => {
    const entry = facts(3.9, {
      valence: extra.valence,
      context: [...extra.context],
      ethics: 'ethics' in extra ? [...extra.ethics] : [],
    });
    const result = evaluate({ entry });
    expect(result).toMatchObject({ decision, rule });
    expect(result.evidence.healthy_high).toBe(decision === 'normal');
  });

  it('healthy spikes in the window never add up to a warning', () => {
    const healthy = Array.from({ length: 6 }, (_, i) =>
      facts(3.9, { at: new Date(NOW.getTime() - (i + 1) * DAY * 0.5), valence: 0.8, context: ['joy'] }),
    );
    const result = evaluate({ entry: facts(3.4), recent: healthy });
    expect(result).toMatchObject({ decision: 'normal', rule: 'below_warning', score: 1 });
    expect(result.evidence.healthy_spikes).toBe(6);
    // And a healthy entry after risky ones is still normal: intensity is not risk.
    expect(
      evaluate({
        entry: facts(4, { valence: 0.6, context: ['joy'] }),
        recent: riskyBefore(5),
        warnedInWindow: true,
      }),
    ).toMatchObject({ decision: 'normal', rule: 'healthy_high' });
  });

  it('a config without healthy context tags treats every spike as risky', () => {
    const slip = { ...SLIP, healthy_high: { min_valence: 0.3, context_tags: [] } };
    expect(evaluate({ slip, entry: facts(3.9, { valence: 1, context: ['joy'] }) }).rule).toBe(
      'immediate_warning',
    );
  });
});

describe('a warning always comes before a slip', () => {
  it.each([3.8, 3.9, 4.0])(
    'tier_a %d with ten risky spikes but no warning → warning, never slipped',
    (tierA) => {
      const result = evaluate({
        entry: facts(tierA),
        recent: riskyBefore(10, 4),
        open: null,
        warnedInWindow: false,
      });
      expect(result.decision).toBe('warning');
      expect(result.rule).toBe('spike_warning');
    },
  );

  it('an open warning counts as warned even when warnedInWindow is false', () => {
    expect(evaluate({ entry: facts(4), open: openAuto('warning'), warnedInWindow: false })).toMatchObject({
      decision: 'slipped',
      rule: 'immediate_slip',
    });
  });

  it('over a grid of inputs, slipped only ever follows a warning', () => {
    for (const tierA of [0.1, 1, 3.19, 3.2, 3.5, 3.79, 3.8, 4]) {
      for (const n of [0, 1, 2, 3, 8]) {
        for (const valence of [-1, 0, 0.3, 1]) {
          const result = evaluate({
            entry: facts(tierA, { valence, context: ['joy'] }),
            recent: riskyBefore(n),
          });
          expect(result.decision).not.toBe('slipped');
        }
      }
    }
  });
});

describe('crisis and moderation, apart from the decision', () => {
  it.each(['self_harm', 'self_harm_intent'] as const)('%s at tier 0.5 → crisis, decision normal', (tag) => {
    const result = evaluate({ entry: facts(0.5, { valence: -0.9, ethics: [tag] }) });
    expect(result).toMatchObject({ decision: 'normal', rule: 'not_a_spike', crisis: true, moderation: [] });
  });

  it('lists the moderation tags of the entry (only those the ethics policy names), without crisis', () => {
    const result = evaluate({ entry: facts(1, { ethics: ['sexual', 'violence', 'illegal', 'hate'] }) });
    expect(result).toMatchObject({ decision: 'normal', crisis: false, moderation: ['violence', 'illegal'] });
  });

  it('disabled slips → normal, but crisis is still true', () => {
    const result = evaluate({
      slip: { ...SLIP, enabled: false },
      entry: facts(4, { ethics: ['self_harm_intent'] }),
      warnedInWindow: true,
    });
    expect(result).toMatchObject({ decision: 'normal', rule: 'disabled', crisis: true });
  });

  it('an open operator override stands, and crisis is still shown', () => {
    const result = evaluate({
      entry: facts(4, { ethics: ['self_harm'] }),
      recent: riskyBefore(5),
      open: openOperator('normal'),
      warnedInWindow: true,
    });
    expect(result).toMatchObject({ decision: 'normal', rule: 'operator_override', crisis: true });
  });

  it('crisis tags come from the ethics policy', () => {
    const ethics = { ...ETHICS, crisis_tags: ['self_harm_intent' as const] };
    expect(evaluate({ ethics, entry: facts(1, { ethics: ['self_harm'] }) }).crisis).toBe(false);
    expect(evaluate({ ethics, entry: facts(1, { ethics: ['self_harm_intent'] }) }).crisis).toBe(true);
  });
});

describe('policies over time', () => {
  it('a policy change between two entries: each decision shows its own thresholds', () => {
    const configA = SLIP;
    const configB: SlipConfig = slipSchema.parse({ ...SLIP, spike_tier_a: 2.8, immediate_tier_a: 3.5 });
    const first = facts(3, { at: new Date(NOW.getTime() - DAY) });
    const second = facts(3);
    const a = evaluate({ slip: configA, entry: first });
    const b = evaluate({ slip: configB, entry: second, recent: [first] });
    expect(a).toMatchObject({ decision: 'normal', rule: 'not_a_spike', score: 0 });
    expect(a.evidence.thresholds).toMatchObject({ spike_tier_a: 3.2, immediate_tier_a: 3.8 });
    // Under B the first entry is a spike too: the window is read with the thresholds in effect now.
    expect(b).toMatchObject({ decision: 'warning', rule: 'spike_warning', score: 2 });
    expect(b.evidence.thresholds).toMatchObject({ spike_tier_a: 2.8, immediate_tier_a: 3.5 });
    // Under A, the same second entry would have been normal.
    expect(evaluate({ slip: configA, entry: second, recent: [first] }).decision).toBe('normal');
  });

  function snapshot(overrides: OverrideRecord[]): PolicySnapshot {
    return { loadedAt: NOW, active: new Map(), overrides };
  }
  function override(target: string, key: string, value: unknown): OverrideRecord {
    return { id: randomUUID(), target, key, value, rolloutPercent: null, expiresAt: null, createdAt: NOW };
  }

  it('overrides applied: a resolved config with slip.spike_tier_a overridden decides with it', () => {
    const snap = snapshot([
      override('user:alice', 'slip.spike_tier_a', 2.5),
      override('global', 'slip.window_days', 3),
    ]);
    const alice = resolvePolicies(snap, { userId: 'alice' }, NOW);
    const bob = resolvePolicies(snap, { userId: 'bob' }, NOW);
    expect(alice.skipped).toEqual([]);
    expect(alice.configs.slip.spike_tier_a).toBe(2.5);
    expect(bob.configs.slip.spike_tier_a).toBe(3.2);
    const entry = facts(2.6);
    const earlier = facts(2.7, { at: new Date(NOW.getTime() - 2 * DAY) });
    const forAlice = evaluateSlip({
      ...alice.configs,
      entry,
      recent: [earlier],
      open: null,
      warnedInWindow: false,
    });
    const forBob = evaluateSlip({
      ...bob.configs,
      entry,
      recent: [earlier],
      open: null,
      warnedInWindow: false,
    });
    expect(forAlice).toMatchObject({ decision: 'warning', rule: 'spike_warning', score: 2 });
    expect(forAlice.evidence.thresholds.spike_tier_a).toBe(2.5);
    expect(forAlice.evidence.window_days).toBe(3);
    expect(forBob).toMatchObject({ decision: 'normal', rule: 'not_a_spike' });
    // The global window override applies to both: an entry 4 days back is outside.
    const fourDays = facts(2.7, { at: new Date(NOW.getTime() - 4 * DAY) });
    expect(
      evaluateSlip({ ...alice.configs, entry, recent: [fourDays], open: null, warnedInWindow: false }).score,
    ).toBe(1);
  });

  it('an override that would put spike_tier_a above immediate_tier_a is skipped, not applied', () => {
    const bad = override('global', 'slip.spike_tier_a', 3.9);
    const resolved = resolvePolicies(snapshot([bad]), { userId: 'alice' }, NOW);
    expect(resolved.configs.slip.spike_tier_a).toBe(3.2);
    expect(resolved.skipped.map((s) => s.overrideId)).toEqual([bad.id]);
  });
});

describe('factsFromMetadata', () => {
  it('reads the fields an analysis stores', () => {
    const at = new Date(NOW);
    expect(
      factsFromMetadata('x', at, {
        tier_a: 3.3,
        tier_m: 2.1,
        valence: -0.4,
        context_tags: ['loss'],
        ethics_tags: ['self_harm'],
        model_name: 'm',
      }),
    ).toEqual({
      analysisId: 'x',
      at,
      tierA: 3.3,
      tierM: 2.1,
      valence: -0.4,
      contextTags: ['loss'],
      ethicsTags: ['self_harm'],
    });
  });

  it('missing or malformed fields read as a calm entry without tags', () => {
    expect(factsFromMetadata('y', NOW, { tier_a: 'high', context_tags: 'joy' })).toMatchObject({
      tierA: 0.1,
      tierM: 0.1,
      valence: 0,
      contextTags: [],
      ethicsTags: [],
    });
    expect(factsFromMetadata('z', NOW, null).tierA).toBe(0.1);
  });
});
