/**
 * An operator's action starts a fresh window, in the live check and in the replay alike: a released
 * user is not slipped again by the spikes the operator just looked at (it takes a new warning and
 * a new slip's worth of spikes after the release); an entry written before the release but checked
 * after it is covered by the release; the replay, fed the operators' actions, gives the live
 * decisions entry by entry (without them it would not); and `replayCandidate` replays each user
 * under their own overrides.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/db/connect.ts';
import { setOverride } from '../../src/policy/overrides.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES, slipSchema } from '../../src/policy/schemas.ts';
import { factsFromMetadata } from '../../src/slips/evaluate.ts';
import { type CheckResult, checkSlips, lastOperatorAction } from '../../src/slips/live.ts';
import { overrideSlip, releaseSlip } from '../../src/slips/operators.ts';
import { operatorEvents, replayCandidate, simulateUser } from '../../src/slips/replay.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { captureLogs, createUser, type TestKeys, testKeys } from '../support/analysis.ts';
import { createTestDatabase, type TestDatabase, useTestDatabase } from '../support/db.ts';
import { deps, entry, MINUTE, openRows, type Reading, risky, slipRows } from './support.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
const ACTIVE = { slip: DEFAULT_POLICIES.slip, ethics: DEFAULT_POLICIES.ethics };
let keys: TestKeys;
let team: Team;

beforeAll(async () => {
  keys = testKeys();
  team = await seedTeam(database.db);
});

/** Writes an entry `minutesAgo` before now and checks it at once, as the worker would. */
async function writeAndCheck(userId: string, minutesAgo: number, r: Reading = risky(3.5)) {
  const e = await entry(database.db, keys.keyring, userId, new Date(Date.now() - minutesAgo * MINUTE), r);
  const [result] = await checkSlips(deps(database.db, log), [e.analysisId]);
  return result as Extract<CheckResult, { status: 'checked' }>;
}

/** Three risky spikes: a warning at the second, a slip at the third (the default policy). */
async function slippedUser() {
  const userId = await createUser(database.db);
  const results = [await writeAndCheck(userId, 60), await writeAndCheck(userId, 50)];
  results.push(await writeAndCheck(userId, 40));
  expect(results.map((r) => r.decision)).toEqual(['normal', 'warning', 'slipped']);
  const [open] = await openRows(database.db, userId);
  return { userId, slipId: open!.id, results };
}

/** The user's entries as the replay reads them, oldest first. */
async function factsOf(userId: string) {
  const rows = await sql<{ id: string; at: Date; metadata: unknown }>`
    select a.id, d.created_at as at, a.metadata from public.analysis_results a
    join public.diary_entries d on d.id = a.diary_id where a.user_id = ${userId}
    order by d.created_at`.execute(database.db);
  return rows.rows.map((r) => factsFromMetadata(r.id, r.at, r.metadata));
}

describe('a release starts a fresh window', () => {
  it('the next spike after a release does not slip again; a new warning and slip take new spikes', async () => {
    const { userId, slipId, results } = await slippedUser();
    await releaseSlip(
      database.db,
      new PolicyResolver(database.db),
      operation(team.manager),
      slipId,
      '상담 후 해제',
    );
    const released = (await slipRows(database.db, userId)).find((r) => r.id === slipId)!.released_at!;
    expect((await lastOperatorAction(database.db, userId))!.getTime()).toBeGreaterThanOrEqual(
      released.getTime(),
    );

    // Without the fresh window this entry would be the fourth risky spike after a warning.
    const first = await writeAndCheck(userId, 0);
    expect(first).toMatchObject({ decision: 'normal', rule: 'below_warning', action: 'none' });
    expect(await openRows(database.db, userId)).toEqual([]);
    const second = await writeAndCheck(userId, 0);
    expect(second).toMatchObject({ decision: 'warning', rule: 'spike_warning', action: 'opened warning' });
    const third = await writeAndCheck(userId, 0);
    expect(third).toMatchObject({ decision: 'slipped', rule: 'spike_slip' });
    const [open] = await openRows(database.db, userId);
    expect(open!.metrics).toMatchObject({ risky_spikes: 3, window_entries: 3 });
    expect((open!.metrics as { fresh_since: string }).fresh_since).toEqual(expect.any(String));

    // The replay, given the operator's release, decides every entry as the live check did; without
    // it, the first entry after the release would already be a warning.
    const facts = await factsOf(userId);
    const events = (await operatorEvents(database.db, new Date(Date.now() - 86_400_000))).get(userId);
    expect(events).toEqual([{ at: expect.any(Date), kind: 'release' }]);
    const live = [...results, first, second, third].map((r) => r.decision);
    expect(simulateUser(ACTIVE, facts, events).decisions.map((d) => d.decision)).toEqual(live);
    expect(simulateUser(ACTIVE, facts).decisions.map((d) => d.decision)[3]).not.toBe('normal');
  });

  it('an entry written before the release but checked after it is covered by the release', async () => {
    const userId = await createUser(database.db);
    await writeAndCheck(userId, 60, risky(3.9));
    await writeAndCheck(userId, 50, risky(3.9));
    const [open] = await openRows(database.db, userId);
    expect(open!.status).toBe('slipped');
    const late = await entry(
      database.db,
      keys.keyring,
      userId,
      new Date(Date.now() - 45 * MINUTE),
      risky(3.9),
    );
    await releaseSlip(database.db, new PolicyResolver(database.db), operation(team.manager), open!.id, 'ok');
    const [result] = await checkSlips(deps(database.db, log), [late.analysisId]);
    expect(result).toMatchObject({ decision: 'normal', rule: 'before_operator_action', action: 'none' });
    expect(await openRows(database.db, userId)).toEqual([]);
  });

  it('an override to normal stands while it lasts, and starts a fresh window; the replay agrees', async () => {
    const { userId, results } = await slippedUser();
    await overrideSlip(database.db, new PolicyResolver(database.db), operation(team.manager), {
      userId,
      status: 'normal',
      reason: '보호자와 통화함',
      for: '1h',
    });
    const during = [await writeAndCheck(userId, 0, risky(3.9)), await writeAndCheck(userId, 0, risky(3.9))];
    expect(during.map((r) => r.rule)).toEqual(['operator_override', 'operator_override']);
    expect((await openRows(database.db, userId)).map((r) => r.source)).toEqual(['operator']);

    const facts = await factsOf(userId);
    const events = (await operatorEvents(database.db, new Date(Date.now() - 86_400_000))).get(userId)!;
    // The override closed the slip (a release by the operator) and set a state by hand.
    expect(events.map((e) => e.kind).sort()).toEqual(['override', 'release']);
    const simulated = simulateUser(ACTIVE, facts, events).decisions;
    expect(simulated.map((d) => d.decision)).toEqual([...results, ...during].map((r) => r.decision));
    expect(simulated.slice(3).map((d) => d.rule)).toEqual(['operator_override', 'operator_override']);
    // What the policy did is counted, not what the operator set by hand.
    expect(simulateUser(ACTIVE, facts, events).worst).toBe('slipped');
  });
});

describe('replayCandidate: each user under their own overrides', () => {
  let fresh: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    fresh = await createTestDatabase();
    db = createDb(fresh.url, { max: 3 });
  });
  afterAll(async () => {
    await db.destroy();
    await fresh.drop();
  });

  it('a user whose own override keeps them out of the candidate is not counted as newly slipped', async () => {
    const admins = await seedTeam(db);
    const anxious: Reading = { tier_a: 3.1, valence: -0.5, context_tags: ['anxiety'] };
    const users: Record<'covered' | 'plain', string> = {
      covered: await createUser(db, 'covered'),
      plain: await createUser(db, 'plain'),
    };
    for (const userId of Object.values(users)) {
      for (const minutesAgo of [30, 20, 10]) {
        await entry(db, keys.keyring, userId, new Date(Date.now() - minutesAgo * MINUTE), anxious);
      }
    }
    await setOverride(db, operation(admins.manager), {
      target: `user:${users.covered}`,
      key: 'slip.spike_tier_a',
      value: 3.5,
      reason: 'support case: exam week',
      expiresAt: new Date(Date.now() + 86_400_000),
      permanent: false,
      rolloutPercent: null,
    });
    const candidate = slipSchema.parse({
      ...DEFAULT_POLICIES.slip,
      spike_tier_a: 3.0,
      immediate_tier_a: 3.6,
    });
    const result = await replayCandidate(db, new PolicyResolver(db, { ttlMs: 0 }), 'slip', candidate, {
      days: 7,
    });
    // Active (3.2): nobody. Candidate (3.0): the plain user warns at the second and slips at the
    // third; the covered user's own 3.5 stays on top of the candidate, so nothing changes for them.
    expect(result).toMatchObject({
      users: 2,
      entries: 6,
      newly: { normal: 0, warning: 1, slipped: 1 },
      newlyUsers: { warning: 0, slipped: 1, normal: 0 },
    });
    const anon = (id: string) => `u_${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
    expect(new Set(result.examples.map((e) => e.user))).toEqual(new Set([anon(users.plain)]));
  });

  it('a problem a line when the candidate is invalid', async () => {
    const bad = { ...DEFAULT_POLICIES.slip, spike_tier_a: 9, window_days: -1 };
    const error = await replayCandidate(db, new PolicyResolver(db), 'slip', bad, { days: 7 }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    const lines = (error as Error).message.split('\n');
    expect(lines[0]).toMatch(/^invalid slip config \(\d+ problems\):$/);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}- /);
  });
});
