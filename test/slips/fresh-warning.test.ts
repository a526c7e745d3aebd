import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import type { AnalysisFacts } from '../../src/slips/evaluate.ts';
import { simulateUser } from '../../src/slips/replay.ts';

const HOUR = 3_600_000;
const start = Date.parse('2026-11-20T00:00:00Z');
const risky = (hours: number, i: number): AnalysisFacts => ({
  analysisId: `a${i}`,
  at: new Date(start + hours * HOUR),
  tierA: 3.5,
  tierM: 2,
  valence: -0.7,
  contextTags: ['exhaustion'],
  ethicsTags: [],
});

describe('after a slip, a new pause needs a fresh warning', () => {
  it('warning, slip, (slip ends), warning again — never slip straight after a slip', () => {
    const configs = { slip: DEFAULT_POLICIES.slip, ethics: DEFAULT_POLICIES.ethics };
    // Default: 2 risky spikes warn, 3 slip, durations 24h, window 7 days.
    const entries = [risky(0, 1), risky(1, 2), risky(2, 3), risky(30, 4), risky(31, 5)];
    const { decisions } = simulateUser(configs, entries);
    expect(decisions.map((d) => d.decision)).toEqual(['normal', 'warning', 'slipped', 'warning', 'slipped']);
    expect(decisions[3]!.rule).toBe('spike_warning');
  });
});
