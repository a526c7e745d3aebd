/**
 * Overrides are validated before they are written (an expiry or an explicit --permanent, a known
 * key, a value that keeps the config valid), and `policy lint` reports what needs tidying:
 * permanent overrides, unknown keys, invalid overrides and stale versions (exit 4).
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.ts';
import {
  lintPolicies,
  listOverrides,
  markExpiredOverrides,
  type OverrideInput,
  overrideProblems,
  setOverride,
} from '../../src/policy/overrides.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, contentHash, publishVersion } from '../../src/policy/versions.ts';
import { auditRows, cliEnv, errorLines, lastSeq, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
const DAY = 86_400_000;

beforeAll(async () => {
  team = await seedTeam(database.db);
});

const input = (patch: Partial<OverrideInput>): OverrideInput => ({
  target: 'global',
  key: 'tone.voice',
  value: 'warm',
  reason: 'A/B warm voice',
  expiresAt: new Date(Date.now() + DAY),
  permanent: false,
  rolloutPercent: null,
  ...patch,
});
const set = (patch: Partial<OverrideInput>) =>
  setOverride(database.db, operation(team.manager), input(patch));

describe('override set', () => {
  it('refuses a missing expiry, a contradiction, a past expiry and an empty reason, writing nothing', async () => {
    const before = await lastSeq(database.db);
    await expect(set({ expiresAt: null })).rejects.toThrow('an override needs an expiry');
    await expect(set({ permanent: true })).rejects.toThrow('--permanent and an expiry contradict each other');
    await expect(set({ expiresAt: new Date(Date.now() - 1) })).rejects.toThrow('the expiry is in the past');
    await expect(set({ reason: '  ' })).rejects.toThrow(/--reason is required/);
    expect(await lastSeq(database.db)).toBe(before);

    const r = await sumda(['override', 'set', 'global', 'tone.voice', '"warm"', '--reason', 'A/B'], {
      env: cliEnv(database.url, team.manager.email),
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: an override needs an expiry']);
    expect(r.stderr).toContain('hint: pass --expires-in 7d, --expires-at <time>, or --permanent');
    expect(await listOverrides(database.db, { includeExpired: true })).toEqual([]);
  });

  it('refuses unknown keys and invalid values, listing the problem', async () => {
    await expect(set({ key: 'tone.colour', value: 'blue' })).rejects.toThrow(
      'invalid override: key tone.colour: the tone policy has no such setting',
    );
    await expect(set({ key: 'colour.tone', value: 'blue' })).rejects.toThrow(
      /key colour\.tone: must start with a policy name/,
    );
    await expect(set({ key: 'slip.slip_spikes', value: 1 })).rejects.toThrow(
      'invalid override: slip.slip_spikes: must be at least warning_spikes (warning comes first)',
    );
    await expect(set({ key: 'slip.durations', value: { warning: 'soon' } })).rejects.toThrow(
      'invalid override: slip.durations.warning: a duration like 24h, 3d or 1h30m',
    );
    expect(overrideProblems('mode', { mode: 'listener' })).toEqual([]);
    expect(overrideProblems('mode', 'listener')).toEqual([
      'key mode: only an object can be applied at the root',
    ]);

    const r = await sumda(
      ['override', 'set', 'global', 'tone.voice', '"shouting"', '--reason', 'x', '--expires-in', '1d'],
      { env: cliEnv(database.url, team.manager.email) },
    );
    expect(r.code).toBe(2);
    const [line, ...rest] = errorLines(r.stderr);
    expect(rest).toEqual([]);
    expect(line).toMatch(/^error: invalid override: tone\.voice: .*"gentle"\|"warm"\|"calm"\|"bright"/);
    expect(await listOverrides(database.db, { includeExpired: true })).toEqual([]);
  });

  it('writes the override with its audit row; values are checked against the active global version', async () => {
    const op = operation(team.manager, 'sumda override set user:alice tone.voice "calm"');
    const row = await setOverride(
      database.db,
      op,
      input({ target: 'user:alice', value: 'calm', rolloutPercent: 50 }),
    );
    const [audit] = await auditRows(database.db, { action: 'override.set', targetId: row.id });
    expect(audit).toMatchObject({
      actor_email: team.manager.email,
      reason: 'A/B warm voice',
      request_id: op.requestId,
      after: { target: 'user:alice', key: 'tone.voice', value: 'calm', rollout_percent: 50 },
    });

    // Against the default (slip_spikes 3) warning_spikes 4 is invalid; against an active version
    // with slip_spikes 8 it is fine.
    await expect(set({ key: 'slip.warning_spikes', value: 4 })).rejects.toThrow(UsageError);
    await publishVersion(database.db, operation(team.admin), {
      name: 'slip',
      version: 'v1.0.0',
      scope: 'global',
      config: { ...DEFAULT_POLICIES.slip, slip_spikes: 8 },
    });
    await activateVersion(database.db, operation(team.admin), {
      name: 'slip',
      version: 'v1.0.0',
      scope: 'global',
      reason: 'r',
    });
    await set({ key: 'slip.warning_spikes', value: 4 });
  });
});

describe('policy lint', () => {
  it('a tidy installation lints clean', async () => {
    expect(await lintPolicies(database.db)).toEqual([]);
    const r = await sumda(['policy', 'lint'], { env: cliEnv(database.url) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no policy problems');
  });

  it('reports permanent overrides, unknown keys, invalid overrides and stale versions (exit 4)', async () => {
    const permanent = await set({
      key: 'tone.emoji',
      value: true,
      expiresAt: null,
      permanent: true,
      reason: 'forever',
    });
    // Rows the schema no longer accepts (e.g. written before a schema change), inserted directly.
    const [unknown, invalid] = await database.db
      .insertInto('admin.ai_overrides')
      .values([
        {
          target: 'global',
          key: 'tone.colour',
          value: '"blue"',
          reason: 'old',
          expires_at: new Date(Date.now() + DAY),
          created_by: team.admin.id,
        },
        {
          target: 'global',
          key: 'tone.voice',
          value: '"shouting"',
          reason: 'old',
          expires_at: new Date(Date.now() + DAY),
          created_by: team.admin.id,
        },
      ])
      .returning('id')
      .execute();
    // An old version nothing points at. The immutability trigger guards UPDATE/DELETE only, so a
    // backdated INSERT is allowed.
    const config = { ...DEFAULT_POLICIES.mode, mode: 'coach' };
    await database.db
      .insertInto('admin.ai_policy_versions')
      .values({
        policy_name: 'mode',
        version: 'v0.9.0',
        scope: 'global',
        config: JSON.stringify(config),
        content_hash: contentHash(config),
        created_by: team.admin.id,
        created_at: sql<Date>`now() - interval '40 days'`,
      })
      .execute();
    // A recent unused version is not stale; the active one is not stale however old.
    await publishVersion(database.db, operation(team.admin), {
      name: 'mode',
      version: 'v1.0.0',
      scope: 'global',
      config,
    });

    const problems = await lintPolicies(database.db, { staleDays: 30 });
    expect(problems.map((p) => `${p.kind} ${p.subject}`).sort()).toEqual(
      [
        `invalid-override override ${invalid!.id}`,
        `unknown-key override ${unknown!.id}`,
        `permanent-override override ${permanent.id}`,
        'stale-version mode v0.9.0 (global)',
      ].sort(),
    );
    expect(problems.find((p) => p.kind === 'permanent-override')?.detail).toBe(
      'global tone.emoji has no expiry (forever)',
    );
    expect(await lintPolicies(database.db, { staleDays: 41 })).toHaveLength(3);

    const r = await sumda(['policy', 'lint', '--stale-days', '30', '--json'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(4);
    expect((JSON.parse(r.stdout) as { kind: string }[]).map((p) => p.kind).sort()).toEqual([
      'invalid-override',
      'permanent-override',
      'stale-version',
      'unknown-key',
    ]);
    const text = await runSumda(['policy', 'lint'], { env: cliEnv(database.url) });
    expect(text.code).toBe(4);
    expect(text.stdout).toContain('permanent-override');
    expect(text.stdout).toContain('mode v0.9.0 (global)');
  });

  it('markExpiredOverrides stamps only naturally expired rows', async () => {
    await database.db
      .insertInto('admin.ai_overrides')
      .values({
        target: 'user:bob',
        key: 'tone.emoji',
        value: 'true',
        reason: 'past',
        expires_at: sql<Date>`now() - interval '1 minute'`,
        created_by: team.admin.id,
        created_at: sql<Date>`now() - interval '2 days'`,
      })
      .execute();
    expect(await markExpiredOverrides(database.db)).toBe(1);
    expect(await markExpiredOverrides(database.db)).toBe(0);
    const rows = await listOverrides(database.db, { target: 'user:bob', includeExpired: true });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.live).toBe(false);
    expect(await listOverrides(database.db, { target: 'user:bob' })).toEqual([]);
  });
});
