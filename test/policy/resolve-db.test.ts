/**
 * Resolution from the database: `policy resolve --explain` names the layer behind every key
 * (default < active version < global < tenant < user override), overrides on different keys
 * combine, an override that became invalid is skipped and reported, `override expire` takes
 * effect at once, and expiry holds to the millisecond on a snapshot read from PostgreSQL.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expireOverride, type OverrideInput, setOverride } from '../../src/policy/overrides.ts';
import { resolvePolicies } from '../../src/policy/resolve.ts';
import { loadSnapshot } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { cliEnv, operation, seedTeam, type Team } from '../admins/support.ts';
import { createUser } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
// Real users: `policy resolve --user` and `user:` targets name users that exist.
let alice: string;
let bob: string;
let carol: string;
const ids: Record<string, string> = {};
const DAY = 86_400_000;

function set(name: string, patch: Partial<OverrideInput> & Pick<OverrideInput, 'target' | 'key' | 'value'>) {
  return setOverride(database.db, operation(team.manager), {
    reason: name,
    expiresAt: new Date(Date.now() + DAY),
    permanent: false,
    rolloutPercent: null,
    ...patch,
  }).then((row) => {
    ids[name] = row.id;
    return row;
  });
}

async function publishAndActivate(name: 'tone' | 'slip', version: string, config: object) {
  await publishVersion(database.db, operation(team.admin), { name, version, scope: 'global', config });
  await activateVersion(database.db, operation(team.admin), { name, version, scope: 'global', reason: 'r' });
}

interface Explained {
  policies: Record<
    string,
    {
      version: { version: string; scope: string };
      config: Record<string, unknown>;
      sources: Record<string, { kind: string; layer: string; id?: string }>;
    }
  >;
  override_ids: string[];
  skipped_overrides: { overrideId: string; problems: string[] }[];
}

async function explain(args: string[]): Promise<Explained> {
  const r = await runSumda(['policy', 'resolve', ...args, '--explain', '--json'], {
    env: cliEnv(database.url),
  });
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Explained;
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  alice = await createUser(database.db, 'alice');
  bob = await createUser(database.db, 'bob');
  carol = await createUser(database.db, 'carol');
  await publishAndActivate('tone', 'v1.0.0', { ...DEFAULT_POLICIES.tone, voice: 'warm', emoji: true });
  await publishAndActivate('slip', 'v1.0.0', { ...DEFAULT_POLICIES.slip, slip_spikes: 8 });
  // Same key at every level, and different keys at different levels.
  await set('global voice', { target: 'global', key: 'tone.voice', value: 'calm' });
  await set('tenant voice', { target: 'tenant:school-3', key: 'tone.voice', value: 'bright' });
  await set('user voice', { target: `user:${alice}`, key: 'tone.voice', value: 'gentle' });
  await set('tenant level', { target: 'tenant:school-3', key: 'tone.speech_level', value: 'hapsyo' });
  await set('user chars', { target: `user:${alice}`, key: 'tone.max_interpretation_chars', value: 250 });
  await set('user durations', { target: `user:${alice}`, key: 'slip.durations', value: { warning: '48h' } });
  // Valid against slip v1.0.0 (slip_spikes 8), invalid once v1.1.0 (slip_spikes 3) is active.
  await set('warning spikes', { target: 'global', key: 'slip.warning_spikes', value: 5 });
  await publishAndActivate('slip', 'v1.1.0', { ...DEFAULT_POLICIES.slip, slip_spikes: 3 });
});

describe('policy resolve --explain', () => {
  it('each key reports the highest layer that set it', async () => {
    const out = await explain(['--user', alice, '--tenant', 'school-3', '--policy', 'tone']);
    expect(Object.keys(out.policies)).toEqual(['tone']);
    const tone = out.policies.tone!;
    expect(tone.version).toMatchObject({ version: 'v1.0.0', scope: 'global' });
    expect(tone.config).toEqual({
      voice: 'gentle',
      speech_level: 'hapsyo',
      emoji: true,
      max_interpretation_chars: 250,
    });
    const layer = (name: string, target: string) => `override ${ids[name]!.slice(0, 8)} (${target})`;
    expect(tone.sources).toEqual({
      voice: { kind: 'override', layer: layer('user voice', `user:${alice}`), id: ids['user voice'] },
      speech_level: {
        kind: 'override',
        layer: layer('tenant level', 'tenant:school-3'),
        id: ids['tenant level'],
      },
      emoji: { kind: 'version', layer: 'version v1.0.0 (global)', id: expect.any(String) },
      max_interpretation_chars: {
        kind: 'override',
        layer: layer('user chars', `user:${alice}`),
        id: ids['user chars'],
      },
    });

    const tenantOnly = (await explain(['--user', bob, '--tenant', 'school-3', '--policy', 'tone'])).policies
      .tone!;
    expect(tenantOnly.config.voice).toBe('bright');
    expect(tenantOnly.sources.voice!.id).toBe(ids['tenant voice']);
    expect(tenantOnly.config.max_interpretation_chars).toBe(400);
    expect(tenantOnly.sources.max_interpretation_chars!.kind).toBe('version');

    const globalOnly = (await explain(['--user', bob])).policies;
    expect(globalOnly.tone!.config.voice).toBe('calm');
    expect(globalOnly.tone!.sources.voice!.id).toBe(ids['global voice']);
    expect(globalOnly.mode!.sources.mode).toEqual({ kind: 'default', layer: 'default' });
    expect(globalOnly.mode!.version).toMatchObject({ version: 'default', scope: 'built-in' });
  });

  it('an object override deep-merges; an override that became invalid is skipped and reported', async () => {
    const out = await explain(['--user', alice, '--policy', 'slip']);
    const slip = out.policies.slip!;
    expect(slip.config.durations).toEqual({ warning: '48h', slipped: '24h' });
    expect(slip.sources['durations.warning']!.id).toBe(ids['user durations']);
    expect(slip.sources['durations.slipped']!.layer).toBe('version v1.1.0 (global)');
    expect(slip.config.warning_spikes).toBe(2);
    expect(out.skipped_overrides).toEqual([
      {
        overrideId: ids['warning spikes'],
        problems: ['slip.slip_spikes: must be at least warning_spikes (warning comes first)'],
      },
    ]);
    expect(out.override_ids).not.toContain(ids['warning spikes']);

    const text = await runSumda(['policy', 'resolve', '--user', alice, '--policy', 'slip', '--explain'], {
      env: cliEnv(database.url),
    });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('slip — v1.1.0 (global)');
    expect(text.stdout).toMatch(
      new RegExp(
        `durations\\.warning\\s*│\\s*"48h"\\s*│\\s*override ${ids['user durations']!.slice(0, 8)} \\(user:${alice}\\)`,
      ),
    );
    expect(text.stderr).toContain(
      `warning: override ${ids['warning spikes']} skipped: slip.slip_spikes: must be at least warning_spikes`,
    );
  });
});

describe('expiry through the database', () => {
  it('override expire takes effect immediately', async () => {
    const before = resolvePolicies(await loadSnapshot(database.db), {
      userId: alice,
      tenantId: 'school-3',
    });
    expect(before.configs.tone.voice).toBe('gentle');
    await expireOverride(database.db, operation(team.manager), ids['user voice']!, 'test over');
    const after = resolvePolicies(await loadSnapshot(database.db), { userId: alice, tenantId: 'school-3' });
    expect(after.configs.tone.voice).toBe('bright');
    expect(after.overrideIds).not.toContain(ids['user voice']);
    const out = await explain(['--user', alice, '--tenant', 'school-3', '--policy', 'tone']);
    expect(out.policies.tone!.sources.voice!.id).toBe(ids['tenant voice']);
  });

  it('an expires_at read back from PostgreSQL applies until 1 ms before and not at the instant', async () => {
    const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + DAY + 123);
    const row = await set('expiring', {
      target: `user:${carol}`,
      key: 'tone.emoji',
      value: false,
      expiresAt,
    });
    expect(row.expires_at?.getTime()).toBe(expiresAt.getTime());
    const snapshot = await loadSnapshot(database.db);
    const carolSubject = { userId: carol };
    const justBefore = resolvePolicies(snapshot, carolSubject, new Date(expiresAt.getTime() - 1));
    expect(justBefore.configs.tone.emoji).toBe(false);
    expect(justBefore.overrideIds).toContain(row.id);
    const atInstant = resolvePolicies(snapshot, carolSubject, expiresAt);
    expect(atInstant.configs.tone.emoji).toBe(true);
    expect(atInstant.overrideIds).not.toContain(row.id);
  });
});
