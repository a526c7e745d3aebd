/**
 * Impact replay on a hand-built set of six users whose tier/valence sequences were worked out by
 * hand (below): the library and both CLI paths give those numbers and write nothing; the same
 * config on both sides changes nothing; keyset batches of any size give the same answer; and the
 * live check agrees with the replay's simulation entry by entry.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.ts';
import { createDb } from '../../src/db/connect.ts';
import { DEFAULT_POLICIES, type SlipConfig, slipSchema } from '../../src/policy/schemas.ts';
import { factsFromMetadata } from '../../src/slips/evaluate.ts';
import { checkSlips } from '../../src/slips/live.ts';
import { type ReplayConfigs, type ReplayResult, replay, simulateUser } from '../../src/slips/replay.ts';
import { cliEnv, seedTeam } from '../admins/support.ts';
import { captureLogs, createUser, type TestKeys, testKeys } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase } from '../support/db.ts';
import {
  calm,
  deps,
  type Entry,
  entry,
  HOUR,
  joyful,
  MINUTE,
  type Reading,
  risky,
  slipRows,
} from './support.ts';

const database = useTestDatabase();
const { log } = captureLogs('info');
let keys: TestKeys;

const ACTIVE: ReplayConfigs = { slip: DEFAULT_POLICIES.slip, ethics: DEFAULT_POLICIES.ethics };
/** Lower thresholds and a longer window. */
const LOWER: SlipConfig = slipSchema.parse({
  ...DEFAULT_POLICIES.slip,
  spike_tier_a: 3.0,
  immediate_tier_a: 3.6,
  window_days: 10,
});
/** Higher thresholds. */
const HIGHER: SlipConfig = slipSchema.parse({
  ...DEFAULT_POLICIES.slip,
  spike_tier_a: 3.5,
  immediate_tier_a: 3.95,
});

/**
 * Hours after T0 (ten days ago) and readings. Active config: spike 3.2, immediate 3.8, warn at 2,
 * slip at 3, 7-day window. Decisions per entry (N normal, W warning, S slipped):
 *            active        LOWER (3.0 / 3.6 / 10 d)    HIGHER (3.5 / 3.95)
 * u1 calm    N N N         N N N                       N N N
 * u2 3.1×4   N N N N       N W S S                     N N N N
 * u3 joy     N N N         N N N                       N N N
 * u4 3.85,3.9 W S          W S                         N W
 * u5 crisis, violence, 3.7  N N N   N N W               N N N
 * u6 3.5, 3.5 eight days apart  N N   N W               N N
 */
const SET: Record<string, { hours: number; r: Reading }[]> = {
  u1: [
    { hours: 0, r: calm(1) },
    { hours: 24, r: calm(1.5) },
    { hours: 48, r: calm(2) },
  ],
  u2: [0, 2, 4, 6].map((hours) => ({ hours, r: { tier_a: 3.1, valence: -0.5, context_tags: ['anxiety'] } })),
  u3: [
    { hours: 0, r: joyful(3.9) },
    { hours: 5, r: joyful(3.7) },
    { hours: 10, r: joyful(4) },
  ],
  u4: [
    { hours: 0, r: { tier_a: 3.85, valence: -0.7, context_tags: ['loss'] } },
    { hours: 1, r: { tier_a: 3.9, valence: -0.7, context_tags: ['loss'] } },
  ],
  u5: [
    { hours: 0, r: { tier_a: 0.5, valence: -0.9, context_tags: ['loneliness'], ethics_tags: ['self_harm'] } },
    { hours: 3, r: { tier_a: 1.2, valence: -0.4, context_tags: ['conflict'], ethics_tags: ['violence'] } },
    { hours: 6, r: risky(3.7) },
  ],
  u6: [
    { hours: 0, r: risky(3.5) },
    { hours: 8 * 24, r: risky(3.5) },
  ],
};

const EXPECTED_ACTIVE = {
  entries: { normal: 15, warning: 1, slipped: 1 },
  users: { warning: 1, slipped: 1 },
  crisis: 1,
  moderation: 1,
};

beforeAll(async () => {
  keys = testKeys();
  await seedTeam(database.db);
  await seed(database.db);
});

async function seed(db: Db) {
  const t0 = Date.now() - 10 * 24 * HOUR;
  const users: Record<string, string> = {};
  for (const [name, entries] of Object.entries(SET)) {
    const userId = await createUser(db, name);
    users[name] = userId;
    for (const e of entries) await entry(db, keys.keyring, userId, new Date(t0 + e.hours * HOUR), e.r);
  }
  return users;
}

async function counts(db: Db) {
  const r = await sql<{ versions: number; slips: number; notes: number; audit: number; active: number }>`
    select (select count(*) from admin.ai_policy_versions)::int as versions,
           (select count(*) from admin.ai_policy_active)::int as active,
           (select count(*) from admin.slip_conditions)::int as slips,
           (select count(*) from public.notifications)::int as notes,
           (select count(*) from admin.audit_log)::int as audit`.execute(db);
  return r.rows[0]!;
}

describe('replay() against a hand computation', () => {
  it('a lower-threshold candidate: entries per decision, users warned and slipped, what newly changes', async () => {
    const result = await replay(database.db, ACTIVE, { ...ACTIVE, slip: LOWER }, { days: 30 });
    expect(result).toMatchObject({
      days: 30,
      entries: 17,
      users: 6,
      baseline: EXPECTED_ACTIVE,
      candidate: {
        entries: { normal: 10, warning: 4, slipped: 3 },
        users: { warning: 4, slipped: 2 },
        crisis: 1,
        moderation: 1,
      },
      newly: { normal: 0, warning: 3, slipped: 2 },
      newlyUsers: { warning: 2, slipped: 1, normal: 0 },
    });
    expect(result.examples).toHaveLength(5);
    for (const e of result.examples) {
      expect(e.user).toMatch(/^u_[0-9a-f]{8}$/);
      expect(e.baseline).toBe('normal');
    }
    expect(result.examples.map((e) => e.candidate).sort()).toEqual([
      'slipped',
      'slipped',
      'warning',
      'warning',
      'warning',
    ]);
  });

  it('a higher-threshold candidate: fewer warnings, one entry newly normal', async () => {
    const result = await replay(database.db, ACTIVE, { ...ACTIVE, slip: HIGHER }, { days: 30 });
    expect(result).toMatchObject({
      baseline: EXPECTED_ACTIVE,
      candidate: {
        entries: { normal: 16, warning: 1, slipped: 0 },
        users: { warning: 1, slipped: 0 },
        crisis: 1,
        moderation: 1,
      },
      newly: { normal: 1, warning: 1, slipped: 0 },
      newlyUsers: { warning: 1, slipped: 0, normal: 0 },
    });
  });

  it('candidate == active → zero changes', async () => {
    const result = await replay(database.db, ACTIVE, structuredClone(ACTIVE), { days: 30 });
    expect(result.baseline).toEqual(EXPECTED_ACTIVE);
    expect(result.candidate).toEqual(result.baseline);
    expect(result.newly).toEqual({ normal: 0, warning: 0, slipped: 0 });
    expect(result.newlyUsers).toEqual({ warning: 0, slipped: 0, normal: 0 });
    expect(result.examples).toEqual([]);
  });

  it('an ethics candidate changes the crisis and moderation counts, not the decisions', async () => {
    const ethics = { ...ACTIVE.ethics, moderation_tags: [], crisis_tags: ['self_harm_intent' as const] };
    const result = await replay(database.db, ACTIVE, { ...ACTIVE, ethics }, { days: 30 });
    expect(result.candidate).toEqual({ ...EXPECTED_ACTIVE, crisis: 0, moderation: 0 });
    expect(result.newly).toEqual({ normal: 0, warning: 0, slipped: 0 });
  });

  it('only the last `days` are replayed', async () => {
    const result = await replay(database.db, ACTIVE, { ...ACTIVE, slip: LOWER }, { days: 5 });
    // Within five days: u6's second entry only (u6 alone, normal on both sides: its pair is out of reach).
    expect(result).toMatchObject({ entries: 1, users: 1, newly: { normal: 0, warning: 0, slipped: 0 } });
  });

  it('keyset batches of any size give the same answer, with microsecond timestamps too', async () => {
    const whole = await replay(database.db, ACTIVE, { ...ACTIVE, slip: LOWER }, { days: 30 });
    // Rows written by the app carry microseconds; JavaScript dates do not.
    await sql`update public.diary_entries set created_at = created_at + interval '123 microseconds'`.execute(
      database.db,
    );
    try {
      for (const batchSize of [1, 2, 3, 5, 16, 17, 18]) {
        const progress: number[] = [];
        const paged = await replay(
          database.db,
          ACTIVE,
          { ...ACTIVE, slip: LOWER },
          { days: 30, batchSize, onProgress: (n) => progress.push(n) },
        );
        expect({ batchSize, ...paged }).toEqual({ batchSize, ...whole });
        expect(progress.at(-1)).toBe(17);
      }
    } finally {
      await sql`update public.diary_entries set created_at = date_trunc('milliseconds', created_at)`.execute(
        database.db,
      );
    }
  });
});

describe('the CLI prints the same numbers and writes nothing', () => {
  const file = join(tmpdir(), `sumda-slip-candidate-${process.pid}.json`);
  const bad = join(tmpdir(), `sumda-slip-bad-${process.pid}.json`);
  let expected: ReplayResult;
  afterAll(() => {
    rmSync(file, { force: true });
    rmSync(bad, { force: true });
  });
  beforeAll(async () => {
    writeFileSync(file, JSON.stringify(LOWER));
    expected = JSON.parse(
      JSON.stringify(await replay(database.db, ACTIVE, { ...ACTIVE, slip: LOWER }, { days: 30 })),
    ) as ReplayResult;
  });

  it('sumda slip replay --config file --json', async () => {
    const before = await counts(database.db);
    const r = await runSumda(['slip', 'replay', '--config', file, '--days', '30', '--json'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
    expect(await counts(database.db)).toEqual(before);
  });

  it('a table without --json, with the same numbers', async () => {
    const r = await runSumda(['slip', 'replay', '--config', file, '--days', '30'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('17 entries of 6 users over 30 days');
    expect(r.stdout).toMatch(/entries slipped\s*│\s*1\s*│\s*3\s*│\s*\+2 newly/);
  });

  it('an invalid candidate is refused with every problem listed', async () => {
    writeFileSync(bad, JSON.stringify({ ...LOWER, spike_tier_a: 5, slip_spikes: 1 }));
    const r = await runSumda(['slip', 'replay', '--config', bad, '--json'], { env: cliEnv(database.url) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('slip.spike_tier_a');
    expect(r.stderr).toContain('slip.slip_spikes');
  });

  // `policy publish slip|ethics --dry-run` replays the candidate as `slip replay` does: the same
  // numbers, before anything is written — and nothing is.
  it('sumda policy publish slip --dry-run --json prints the replay numbers and writes nothing', async () => {
    const before = await counts(database.db);
    const r = await runSumda(
      [
        'policy',
        'publish',
        'slip',
        '--version',
        'v1.1.0',
        '--file',
        file,
        '--dry-run',
        '--days',
        '30',
        '--json',
      ],
      { env: cliEnv(database.url, 'lead@sumda.test') },
    );
    expect(r.code).toBe(0);
    expect(await counts(database.db)).toEqual(before);
    expect(JSON.parse(r.stdout)).toMatchObject({
      baseline: expected.baseline,
      candidate: expected.candidate,
      newly: expected.newly,
      newlyUsers: expected.newlyUsers,
    });
  });
});

describe('the live check and the replay agree', () => {
  it('one user, entry by entry: the same decisions, and the conditions opened where the simulation escalates', async () => {
    const fresh = await createTestDatabase();
    const db = createDb(fresh.url, { max: 3 });
    try {
      const userId = await createUser(db);
      const sequence: Reading[] = [
        risky(3.3),
        calm(),
        risky(3.4),
        joyful(3.9),
        risky(3.5),
        risky(3.6),
        { tier_a: 0.5, valence: -0.9, context_tags: ['loneliness'], ethics_tags: ['self_harm'] },
        { tier_a: 1.3, valence: -0.2, context_tags: ['conflict'], ethics_tags: ['violence'] },
      ];
      const start = Date.now() - 90 * MINUTE;
      const written: Entry[] = [];
      for (let i = 0; i < sequence.length; i++) {
        written.push(await entry(db, keys.keyring, userId, new Date(start + i * 10 * MINUTE), sequence[i]!));
      }
      // Live: each analysis checked as it arrives.
      const live = [];
      for (const w of written) live.push((await checkSlips(deps(db, log), [w.analysisId]))[0]!);

      const stored = await db
        .selectFrom('analysis_results as a')
        .innerJoin('diary_entries as d', 'd.id', 'a.diary_id')
        .select(['a.id', 'a.metadata', 'd.created_at'])
        .where('a.user_id', '=', userId)
        .orderBy('d.created_at')
        .execute();
      const sim = simulateUser(
        ACTIVE,
        stored.map((s) => factsFromMetadata(s.id, s.created_at, s.metadata)),
      );
      expect(live.map((l) => (l.status === 'checked' ? [l.decision, l.rule, l.crisis] : l.status))).toEqual(
        sim.decisions.map((d) => [d.decision, d.rule, d.crisis]),
      );
      expect(sim.decisions.map((d) => d.decision)).toEqual([
        'normal',
        'normal',
        'warning',
        'normal',
        'slipped',
        'slipped',
        'normal',
        'normal',
      ]);
      expect(sim.worst).toBe('slipped');

      // Where the simulation escalates (a decision above the state so far), the live flow opened a condition.
      const rank = { normal: 0, warning: 1, slipped: 2 } as const;
      let state = 0;
      const escalations: [string, string][] = [];
      sim.decisions.forEach((d, i) => {
        if (rank[d.decision] > state) {
          state = rank[d.decision];
          escalations.push([written[i]!.analysisId, d.decision]);
        }
      });
      const opened = (await slipRows(db, userId)).map((r) => [r.analysis_id, r.status]);
      expect(opened).toEqual(escalations);
      expect(escalations.map(([, s]) => s)).toEqual(['warning', 'slipped']);

      // And a replay over this database counts the same decisions.
      const replayed = await replay(db, ACTIVE, ACTIVE, { days: 1 });
      expect(replayed.baseline).toEqual({
        entries: { normal: 5, warning: 1, slipped: 2 },
        users: { warning: 1, slipped: 1 },
        crisis: 1,
        moderation: 1,
      });
    } finally {
      await db.destroy();
      await fresh.drop();
    }
  });
});
