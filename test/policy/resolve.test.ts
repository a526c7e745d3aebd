/**
 * Resolution on hand-built snapshots (no database): precedence per key path, provenance of every
 * leaf, deep merge of objects and replacement of arrays, invalid overrides skipped and reported,
 * expiry to the instant, and sticky percentage rollouts.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type ActiveVersion,
  appliesTo,
  type OverrideRecord,
  type PolicySnapshot,
  policyStamp,
  resolvePolicies,
  rolloutBucket,
} from '../../src/policy/resolve.ts';
import { DEFAULT_POLICIES, type PolicyName } from '../../src/policy/schemas.ts';

const T0 = new Date('2026-11-25T00:00:00Z');
let clock = 0;

function override(
  target: string,
  key: string,
  value: unknown,
  extra: Partial<OverrideRecord> = {},
): OverrideRecord {
  clock += 1;
  return {
    id: randomUUID(),
    target,
    key,
    value,
    rolloutPercent: null,
    expiresAt: null,
    createdAt: new Date(T0.getTime() + clock),
    ...extra,
  };
}

function version(policy: PolicyName, scope: string, name: string, config: object): ActiveVersion {
  return {
    policyName: policy,
    scope,
    version: name,
    versionId: randomUUID(),
    config: config as ActiveVersion['config'],
  };
}

function snapshot(active: ActiveVersion[] = [], overrides: OverrideRecord[] = []): PolicySnapshot {
  return {
    loadedAt: T0,
    active: new Map(active.map((a) => [`${a.policyName}|${a.scope}`, a])),
    overrides,
  };
}

const AT = new Date(T0.getTime() + 60_000);
const alice = { userId: 'alice', tenantId: 'school-3' };

describe('precedence: default < active version < global < tenant < user override', () => {
  const v = version('tone', 'global', 'v1.0.0', { ...DEFAULT_POLICIES.tone, voice: 'warm' });
  const global = override('global', 'tone.voice', 'calm');
  const tenant = override('tenant:school-3', 'tone.voice', 'bright');
  const user = override('user:alice', 'tone.voice', 'gentle');
  // Listed highest first on purpose: the order in the snapshot must not matter.
  const layers: [string, PolicySnapshot, string, { kind: string; layer: string; id?: string }][] = [
    ['default', snapshot(), 'gentle', { kind: 'default', layer: 'default' }],
    [
      'version',
      snapshot([v]),
      'warm',
      { kind: 'version', layer: 'version v1.0.0 (global)', id: v.versionId },
    ],
    [
      'global override',
      snapshot([v], [global]),
      'calm',
      { kind: 'override', layer: `override ${global.id.slice(0, 8)} (global)`, id: global.id },
    ],
    [
      'tenant override',
      snapshot([v], [tenant, global]),
      'bright',
      { kind: 'override', layer: `override ${tenant.id.slice(0, 8)} (tenant:school-3)`, id: tenant.id },
    ],
    [
      'user override',
      snapshot([v], [user, tenant, global]),
      'gentle',
      { kind: 'override', layer: `override ${user.id.slice(0, 8)} (user:alice)`, id: user.id },
    ],
  ];

  it.each(layers)('%s sets tone.voice', (_name, snap, value, provenance) => {
    const r = resolvePolicies(snap, alice, AT);
    expect(r.configs.tone.voice).toBe(value);
    expect(r.sources.tone.get('voice')).toEqual(provenance);
    // Keys no override touches keep the layer below.
    expect(r.sources.tone.get('speech_level')?.kind).toBe(snap.active.size > 0 ? 'version' : 'default');
  });

  it('a user or tenant override applies to its own target only', () => {
    const snap = snapshot([v], [user, tenant, global]);
    expect(resolvePolicies(snap, { userId: 'bob', tenantId: 'school-3' }, AT).configs.tone.voice).toBe(
      'bright',
    );
    expect(resolvePolicies(snap, { userId: 'bob', tenantId: 'school-4' }, AT).configs.tone.voice).toBe(
      'calm',
    );
    expect(resolvePolicies(snap, { userId: 'bob' }, AT).configs.tone.voice).toBe('calm');
    const r = resolvePolicies(snap, alice, AT);
    expect(r.overrideIds).toEqual([global.id, tenant.id, user.id]);
    expect(policyStamp(r, ['tone', 'slip'])).toEqual({
      policy_versions: { tone: 'v1.0.0', slip: 'default' },
      override_ids: [global.id, tenant.id, user.id],
    });
  });

  it('a subject without a user or tenant id matches no user or tenant target', () => {
    const snap = snapshot(
      [],
      [override('user:undefined', 'tone.emoji', true), override('tenant:undefined', 'mode.mode', 'coach')],
    );
    const r = resolvePolicies(snap, {}, AT);
    expect(r.configs.tone.emoji).toBe(false);
    expect(r.configs.mode.mode).toBe('mirror');
    expect(r.overrideIds).toEqual([]);
  });

  it('the most specific pointer supplies the version: user, then tenant, then global', () => {
    const snap = snapshot([
      version('mode', 'global', 'v1.0.0', { mode: 'mirror', ask_reflection_question: true }),
      version('mode', 'tenant:school-3', 'v2.0.0', { mode: 'coach', ask_reflection_question: true }),
      version('mode', 'user:alice', 'v3.0.0', { mode: 'listener', ask_reflection_question: false }),
    ]);
    expect(resolvePolicies(snap, alice, AT).versions.mode).toMatchObject({
      version: 'v3.0.0',
      scope: 'user:alice',
    });
    expect(resolvePolicies(snap, { userId: 'bob', tenantId: 'school-3' }, AT).configs.mode.mode).toBe(
      'coach',
    );
    expect(resolvePolicies(snap, { userId: 'bob' }, AT).versions.mode).toMatchObject({
      version: 'v1.0.0',
      scope: 'global',
    });
    expect(resolvePolicies(snap, { userId: 'bob' }, AT).versions.tone).toEqual({
      version: 'default',
      versionId: null,
      scope: 'built-in',
    });
  });
});

describe('combining and merging', () => {
  it('overrides on different keys combine, each with its own provenance', () => {
    const a = override('global', 'tone.voice', 'calm');
    const b = override('tenant:school-3', 'tone.emoji', true);
    const c = override('user:alice', 'tone.max_interpretation_chars', 300);
    const r = resolvePolicies(snapshot([], [c, b, a]), alice, AT);
    expect(r.configs.tone).toEqual({
      voice: 'calm',
      speech_level: 'haeyo',
      emoji: true,
      max_interpretation_chars: 300,
    });
    expect(Object.fromEntries([...r.sources.tone].map(([k, p]) => [k, p.id ?? p.kind]))).toEqual({
      voice: a.id,
      emoji: b.id,
      max_interpretation_chars: c.id,
      speech_level: 'default',
    });
  });

  it('an object override deep-merges; an array override replaces', () => {
    const durations = override('global', 'slip.durations', { warning: '48h' });
    const root = override('global', 'slip', { window_days: 14, healthy_high: { min_valence: 0.5 } });
    const tags = override('user:alice', 'slip.healthy_high.context_tags', ['joy']);
    const r = resolvePolicies(snapshot([], [durations, root, tags]), alice, AT);
    expect(r.skipped).toEqual([]);
    expect(r.configs.slip.durations).toEqual({ warning: '48h', slipped: '24h' });
    expect(r.configs.slip.window_days).toBe(14);
    expect(r.configs.slip.healthy_high).toEqual({ min_valence: 0.5, context_tags: ['joy'] });
    expect(r.configs.slip.messages).toEqual(DEFAULT_POLICIES.slip.messages);
    expect(r.sources.slip.get('durations.warning')?.id).toBe(durations.id);
    expect(r.sources.slip.get('durations.slipped')?.kind).toBe('default');
    expect(r.sources.slip.get('healthy_high.min_valence')?.id).toBe(root.id);
    expect(r.sources.slip.get('healthy_high.context_tags')?.id).toBe(tags.id);

    const resources = override('global', 'ethics.crisis_resources', [
      DEFAULT_POLICIES.ethics.crisis_resources[0],
    ]);
    const e = resolvePolicies(snapshot([], [resources]), alice, AT);
    expect(e.configs.ethics.crisis_resources).toEqual([DEFAULT_POLICIES.ethics.crisis_resources[0]]);
    // The default is untouched by any of it.
    expect(DEFAULT_POLICIES.ethics.crisis_resources).toHaveLength(5);
    expect(DEFAULT_POLICIES.slip.durations.warning).toBe('24h');
  });

  it('an override that would make the config invalid is skipped and reported, the rest still apply', () => {
    const bad = override('user:alice', 'tone.voice', 'shouting');
    const inconsistent = override('global', 'slip.slip_spikes', 1);
    const emptied = override('global', 'ethics.crisis_resources', []);
    const atRoot = override('global', 'mode', 'listener');
    const good = override('global', 'tone.emoji', true);
    const r = resolvePolicies(snapshot([], [bad, inconsistent, emptied, atRoot, good]), alice, AT);
    expect(r.configs.tone.voice).toBe('gentle');
    expect(r.configs.tone.emoji).toBe(true);
    expect(r.configs.slip.slip_spikes).toBe(3);
    expect(r.configs.ethics.crisis_resources).toHaveLength(5);
    expect(r.configs.mode).toEqual(DEFAULT_POLICIES.mode);
    expect(r.overrideIds).toEqual([good.id]);
    const skipped = Object.fromEntries(r.skipped.map((s) => [s.overrideId, s.problems]));
    expect(skipped[bad.id]).toEqual([expect.stringMatching(/^tone\.voice: /)]);
    expect(skipped[inconsistent.id]).toEqual([
      'slip.slip_spikes: must be at least warning_spikes (warning comes first)',
    ]);
    expect(skipped[emptied.id]).toEqual(['ethics.crisis_resources: crisis resources must never be empty']);
    expect(skipped[atRoot.id]).toEqual(['only an object can be applied at the root']);
    expect(r.sources.tone.get('voice')?.kind).toBe('default');
  });
});

describe('expiry', () => {
  const expiresAt = new Date('2026-12-01T00:00:00.000Z');
  const o = override('user:alice', 'tone.voice', 'calm', { expiresAt });

  it('applies until 1 ms before expires_at, and not at the instant itself', () => {
    const snap = snapshot([], [o]);
    const before = resolvePolicies(snap, alice, new Date(expiresAt.getTime() - 1));
    expect(before.configs.tone.voice).toBe('calm');
    expect(before.overrideIds).toEqual([o.id]);
    const at = resolvePolicies(snap, alice, expiresAt);
    expect(at.configs.tone.voice).toBe('gentle');
    expect(at.overrideIds).toEqual([]);
    expect(appliesTo(o, alice, new Date(expiresAt.getTime() + 1))).toBe(false);
  });
});

describe('sticky A/B rollouts', () => {
  const ab = override('global', 'tone.voice', 'warm', { rolloutPercent: 30 });
  const snap = snapshot([], [ab]);

  it('the same user always gets the same answer', () => {
    for (const userId of ['alice', 'bob', randomUUID()]) {
      const first = resolvePolicies(snap, { userId }, AT).configs.tone.voice;
      for (let i = 0; i < 5; i++)
        expect(resolvePolicies(snap, { userId }, AT).configs.tone.voice).toBe(first);
      expect(rolloutBucket(ab.id, userId)).toBe(rolloutBucket(ab.id, userId));
    }
  });

  it('a 30% rollout reaches 27–33% of 10,000 random users; 0% nobody, 100% everybody', () => {
    const users = Array.from({ length: 10_000 }, () => randomUUID());
    const inside = users.filter((userId) => appliesTo(ab, { userId }, AT)).length;
    expect(inside).toBeGreaterThanOrEqual(2_700);
    expect(inside).toBeLessThanOrEqual(3_300);
    const none = { ...ab, rolloutPercent: 0 };
    const all = { ...ab, rolloutPercent: 100 };
    expect(users.slice(0, 500).some((userId) => appliesTo(none, { userId }, AT))).toBe(false);
    expect(users.slice(0, 500).every((userId) => appliesTo(all, { userId }, AT))).toBe(true);
  });

  it('a rollout needs a user id; buckets differ between overrides', () => {
    expect(appliesTo({ ...ab, rolloutPercent: 100 }, {}, AT)).toBe(false);
    const other = override('global', 'tone.emoji', true, { rolloutPercent: 30 });
    const users = Array.from({ length: 200 }, () => randomUUID());
    const differs = users.filter((u) => rolloutBucket(ab.id, u) !== rolloutBucket(other.id, u)).length;
    expect(differs).toBeGreaterThan(150);
  });
});
