/**
 * The workers' read path: PolicyResolver caches the snapshot for its TTL, refreshes after it, and
 * keeps serving the last known good snapshot when a refresh fails (throwing only if it never had
 * one). Loads are counted through a wrapped `load`; the clock is vitest's fake Date, nothing waits.
 */
import type { Kysely } from 'kysely';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Database } from '../../src/db/types.ts';
import type { Logger } from '../../src/log.ts';
import type { PolicySnapshot } from '../../src/policy/resolve.ts';
import { loadSnapshot, PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const TTL = 5_000;
const START = new Date('2026-11-25T09:00:00Z');

beforeAll(async () => {
  team = await seedTeam(database.db);
  for (const [version, voice] of [
    ['v1.0.0', 'warm'],
    ['v2.0.0', 'calm'],
  ] as const) {
    await publishVersion(database.db, operation(team.admin), {
      name: 'tone',
      version,
      scope: 'global',
      config: { ...DEFAULT_POLICIES.tone, voice },
    });
  }
});

afterEach(() => {
  vi.useRealTimers();
});

/** A load that counts calls and can be told to fail. */
function countingLoad(inner: (db: Kysely<Database>) => Promise<PolicySnapshot> = loadSnapshot) {
  const state = { calls: 0, fail: false };
  const load = async (db: Kysely<Database>) => {
    state.calls += 1;
    if (state.fail) throw new Error('connection terminated unexpectedly');
    return inner(db);
  };
  return { state, load };
}

function fakeClock() {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(START);
  return (ms: number) => vi.setSystemTime(new Date(Date.now() + ms));
}

const activate = (version: string) =>
  activateVersion(database.db, operation(team.admin), {
    name: 'tone',
    version,
    scope: 'global',
    reason: 'r',
  });

describe('PolicyResolver', () => {
  it('serves from the cache inside the TTL and reloads after it', async () => {
    await activate('v1.0.0');
    const advance = fakeClock();
    const { state, load } = countingLoad();
    const resolver = new PolicyResolver(database.db, { ttlMs: TTL, load });
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.voice).toBe('warm');
    expect(state.calls).toBe(1);

    await activate('v2.0.0');
    advance(TTL - 1);
    expect((await resolver.resolve({ userId: 'u2' })).configs.tone.voice).toBe('warm');
    expect((await resolver.resolve({ userId: 'u1' })).versions.tone.version).toBe('v1.0.0');
    expect(state.calls).toBe(1);

    advance(1);
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.voice).toBe('calm');
    expect(state.calls).toBe(2);

    resolver.invalidate();
    await resolver.snapshot();
    expect(state.calls).toBe(3);
  });

  it('concurrent callers share one load', async () => {
    fakeClock();
    const { state, load } = countingLoad();
    const resolver = new PolicyResolver(database.db, { ttlMs: TTL, load });
    const snapshots = await Promise.all(Array.from({ length: 5 }, () => resolver.snapshot()));
    expect(state.calls).toBe(1);
    expect(new Set(snapshots).size).toBe(1);
  });

  it('a failed refresh keeps the last known good snapshot, with a warning, until a load succeeds', async () => {
    await activate('v1.0.0');
    const advance = fakeClock();
    const { state, load } = countingLoad();
    const warn = vi.fn();
    const resolver = new PolicyResolver(database.db, {
      ttlMs: TTL,
      load,
      log: { warn } as unknown as Logger,
    });
    const good = await resolver.snapshot();

    await activate('v2.0.0');
    state.fail = true;
    advance(TTL);
    expect(await resolver.snapshot()).toBe(good);
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.voice).toBe('warm');
    expect(state.calls).toBeGreaterThanOrEqual(2);
    expect(warn).toHaveBeenCalledWith(
      expect.objectContaining({ err: expect.any(Error) }),
      'policy refresh failed; using last known good',
    );

    // The database is not asked again on every call while it is failing: a short back-off first.
    const calls = state.calls;
    state.fail = false;
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.voice).toBe('warm');
    expect(state.calls).toBe(calls);
    advance(2_000);
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.voice).toBe('calm');
  });

  it('throws when the very first load fails: there is nothing known good yet', async () => {
    const { state, load } = countingLoad();
    state.fail = true;
    const resolver = new PolicyResolver(database.db, { ttlMs: TTL, load });
    await expect(resolver.resolve({ userId: 'u1' })).rejects.toThrow('connection terminated unexpectedly');
    state.fail = false;
    await expect(resolver.resolve({ userId: 'u1' })).resolves.toBeDefined();
  });

  it('expiry is judged at resolve time, even on a cached snapshot', async () => {
    const expiresAt = new Date(START.getTime() + 1_000);
    const snapshot: PolicySnapshot = {
      loadedAt: START,
      active: new Map(),
      overrides: [
        {
          id: '00000000-0000-4000-8000-000000000001',
          target: 'global',
          key: 'tone.emoji',
          value: true,
          rolloutPercent: null,
          expiresAt,
          createdAt: START,
        },
      ],
    };
    let now = new Date(expiresAt.getTime() - 1);
    const { state, load } = countingLoad(async () => snapshot);
    const resolver = new PolicyResolver(database.db, { ttlMs: 60_000, load, now: () => now });
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.emoji).toBe(true);
    now = expiresAt;
    expect((await resolver.resolve({ userId: 'u1' })).configs.tone.emoji).toBe(false);
    expect(state.calls).toBe(1);
  });
});
