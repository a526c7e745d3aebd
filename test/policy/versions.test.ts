/**
 * Policy versions and the active pointer: publishing validates (every problem listed) and stores an
 * immutable row the database refuses to change; activation moves the pointer, rollback walks back
 * along the activation history one step per call, and every move is in `policy history`.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { PgCode, pgCode } from '../../src/errors.ts';
import { listPolicies } from '../../src/policy/list.ts';
import { resolvePolicies } from '../../src/policy/resolve.ts';
import { loadSnapshot } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES, type PolicyName } from '../../src/policy/schemas.ts';
import {
  activateVersion,
  InvalidConfigError,
  policyHistory,
  publishVersion,
  rollbackPointer,
  showConfig,
} from '../../src/policy/versions.ts';
import { registerPrompt } from '../../src/prompts/index.ts';
import { auditRows, cliEnv, errorLines, lastSeq, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;

beforeAll(async () => {
  team = await seedTeam(database.db);
});

const tone = (voice: 'gentle' | 'warm' | 'calm' | 'bright') => ({ ...DEFAULT_POLICIES.tone, voice });

function publish(name: PolicyName, version: string, config: unknown, scope = 'global') {
  return publishVersion(database.db, operation(team.admin), { name, version, scope, config });
}
function activate(name: PolicyName, version: string, scope = 'global', reason = `activate ${version}`) {
  return activateVersion(database.db, operation(team.admin), { name, version, scope, reason });
}
function rollback(name: PolicyName, scope = 'global', reason = 'roll back') {
  return rollbackPointer(database.db, operation(team.admin), { name, scope, reason });
}
async function pointerVersion(name: PolicyName, scope = 'global') {
  return (await showConfig(database.db, name, 'active', scope)).version;
}

const INVALID_SLIP = {
  ...DEFAULT_POLICIES.slip,
  spike_tier_a: 9,
  window_days: 0,
  colour: 'blue',
  messages: { ...DEFAULT_POLICIES.slip.messages, warning: { title: '', body: '본문' } },
};

describe('publish', () => {
  it('an invalid config is refused with every problem listed', async () => {
    const error = await publish('slip', 'v1.0.0', INVALID_SLIP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidConfigError);
    const problems = (error as InvalidConfigError).problems;
    expect(problems).toEqual([
      'slip.spike_tier_a: Too big: expected number to be <=4',
      'slip.window_days: Too small: expected number to be >=1',
      'slip.messages.warning.title: Too small: expected string to have >=1 characters',
      'slip: Unrecognized key: "colour"',
      'slip.immediate_tier_a: must be at least spike_tier_a',
    ]);
    await expect(publish('slip', '1.0', DEFAULT_POLICIES.slip)).rejects.toThrow(/semantic versions/);
    expect(await database.db.selectFrom('admin.ai_policy_versions').select('id').execute()).toEqual([]);
  });

  it('through the CLI: exit 2, one problem a line', async () => {
    const r = await runSumda(['policy', 'publish', 'slip', '--version', 'v1.0.0', '--file', '-'], {
      env: cliEnv(database.url, team.admin.email),
      input: JSON.stringify(INVALID_SLIP),
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: invalid slip config (5 problems):']);
    const lines = r.stderr.split('\n');
    const first = lines.indexOf('error: invalid slip config (5 problems):');
    const problems = lines.slice(first + 1, first + 6);
    for (const [i, problem] of [
      'slip.spike_tier_a: ',
      'slip.window_days: ',
      'slip.messages.warning.title: ',
      'Unrecognized key: "colour"',
      'slip.immediate_tier_a: must be at least spike_tier_a',
    ].entries())
      expect(problems[i]).toContain(problem);
    for (const line of problems) expect(line).toMatch(/^ {2}- slip/);
  });

  it('--set key=value on top of the active config: publish a one-key change, replay it, refuse unknown keys', async () => {
    const env = cliEnv(database.url, team.admin.email);
    const dry = await sumda(
      [
        'policy',
        'publish',
        'slip',
        '--version',
        'v9.0.0',
        '--set',
        'spike_tier_a=3.4',
        '--dry-run',
        '--json',
      ],
      { env },
    );
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ days: 30 });
    const replay = await sumda(
      ['slip', 'replay', '--set', 'slip.healthy_high.min_valence=0.5', '--set', 'window_days=3', '--json'],
      { env },
    );
    expect(replay.code, replay.stderr).toBe(0);
    const unknown = await runSumda(['slip', 'replay', '--set', 'spike_tier=3.4'], { env });
    expect(unknown.code).toBe(2);
    expect(errorLines(unknown.stderr)).toEqual([
      'error: --set "spike_tier": the slip policy has no such setting',
    ]);
    const bad = await sumda(['slip', 'replay', '--set', 'spike_tier_a=9'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('  - slip.spike_tier_a: ');
    const published = await sumda(
      ['policy', 'publish', 'tone', '--version', 'v9.0.0', '--set', 'voice=warm', '--json'],
      { env },
    );
    expect(published.code, published.stderr).toBe(0);
    const shown = await sumda(['policy', 'show', 'tone', 'v9.0.0', '--json'], { env });
    expect(JSON.parse(shown.stdout).voice).toBe('warm');
  });

  it('a version is published once; identical content under a new version is allowed and reported', async () => {
    const first = await publish('tone', 'v1.0.0', tone('gentle'));
    expect(first.identicalTo).toEqual([]);
    await expect(publish('tone', 'v1.0.0', tone('warm'))).rejects.toThrow(
      'tone v1.0.0 (global) is already published; versions are immutable',
    );
    // The same version name in another scope is another version.
    await publish('tone', 'v1.0.0', tone('bright'), 'user:alice');

    const r = await runSumda(['policy', 'publish', 'tone', '--version', 'v1.0.1', '--file', '-'], {
      env: cliEnv(database.url, team.admin.email),
      // Key order does not matter to the content hash.
      input: JSON.stringify(Object.fromEntries(Object.entries(tone('gentle')).reverse())),
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('published tone v1.0.1 (global)');
    expect(r.stderr).toContain('warning: identical content to v1.0.0');
    const [row] = await auditRows(database.db, {
      action: 'policy.publish',
      afterSeq: (await lastSeq(database.db)) - 1,
    });
    expect(row).toMatchObject({
      actor_email: team.admin.email,
      after: { version: 'v1.0.1', content_hash: first.contentHash },
    });
  });

  it('the database refuses UPDATE, DELETE and TRUNCATE of versions and prompts (P0001)', async () => {
    await registerPrompt(database.db, operation(team.admin), {
      name: 'analysis',
      version: 'v2',
      model: 'gpt-4o-mini',
      template: '일기: {{diary_text}}',
      params: {},
    });
    const refusals = [
      () => database.db.updateTable('admin.ai_policy_versions').set({ notes: 'edited' }).execute(),
      () =>
        database.db
          .updateTable('admin.ai_policy_versions')
          .set({ config: '{}' })
          .where('version', '=', 'v1.0.0')
          .execute(),
      () => database.db.deleteFrom('admin.ai_policy_versions').execute(),
      () => sql`truncate admin.ai_policy_versions cascade`.execute(database.db),
      () => database.db.updateTable('admin.prompt_registry').set({ template: 'x {{diary_text}}' }).execute(),
      () => database.db.deleteFrom('admin.prompt_registry').execute(),
      () => sql`truncate admin.prompt_registry`.execute(database.db),
    ];
    for (const attempt of refusals) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(pgCode(error)).toBe(PgCode.raiseException);
      expect((error as Error).message).toMatch(/is immutable: (UPDATE|DELETE|TRUNCATE) refused/);
    }
    const stored = await showConfig(database.db, 'tone', 'v1.0.0', 'global');
    expect(stored.config).toEqual(tone('gentle'));
    expect(await database.db.selectFrom('admin.prompt_registry').select('id').execute()).toHaveLength(1);
  });
});

describe('the pointer', () => {
  beforeAll(async () => {
    await publish('mode', 'v1.0.0', { mode: 'mirror', ask_reflection_question: true });
    await publish('mode', 'v2.0.0', { mode: 'coach', ask_reflection_question: true });
    await publish('mode', 'v3.0.0', { mode: 'listener', ask_reflection_question: false });
    await publish('mode', 'v4.0.0', { mode: 'listener', ask_reflection_question: true });
  });

  it('activate v1 → v2 → v3, rollback → v2 → v1 → refused; activate again after rollbacks', async () => {
    expect(await pointerVersion('mode')).toBe('default');
    expect(await activate('mode', 'v1.0.0')).toEqual({
      policy: 'mode',
      scope: 'global',
      from: null,
      to: 'v1.0.0',
      changed: true,
    });
    // The first move has no "before": SQL NULL, not the JSON value null.
    const first = await sql<{ n: number }>`
      select count(*)::int as n from admin.audit_log
      where action = 'policy.activate' and target_id = 'mode|global' and before is null`.execute(database.db);
    expect(first.rows[0]!.n).toBe(1);
    expect(await activate('mode', 'v2.0.0')).toMatchObject({ from: 'v1.0.0', to: 'v2.0.0' });
    expect(await activate('mode', 'v3.0.0')).toMatchObject({ from: 'v2.0.0', to: 'v3.0.0' });

    const seq = await lastSeq(database.db);
    expect(await activate('mode', 'v3.0.0')).toMatchObject({ to: 'v3.0.0', changed: false });
    expect(await lastSeq(database.db)).toBe(seq);

    expect(await rollback('mode')).toMatchObject({ from: 'v3.0.0', to: 'v2.0.0', changed: true });
    expect(await rollback('mode')).toMatchObject({ from: 'v2.0.0', to: 'v1.0.0' });
    expect(await pointerVersion('mode')).toBe('v1.0.0');

    expect(await activate('mode', 'v3.0.0')).toMatchObject({ from: 'v1.0.0', to: 'v3.0.0' });
    expect(await rollback('mode')).toMatchObject({ from: 'v3.0.0', to: 'v1.0.0' });
    await expect(rollback('ethics')).rejects.toThrow(
      'ethics (global) is on the built-in default; nothing to roll back to',
    );
  });

  it('the way back to the built-in default: rollback from the first version, and activate default', async () => {
    await publish('tone', 'v5.0.0', tone('warm'));
    await publish('tone', 'v6.0.0', tone('calm'));
    expect(await activate('tone', 'v5.0.0')).toMatchObject({ from: null, to: 'v5.0.0' });
    // From the first activated version, one step back is the built-in default: no pointer at all.
    expect(await rollback('tone')).toEqual({
      policy: 'tone',
      scope: 'global',
      from: 'v5.0.0',
      to: null,
      changed: true,
    });
    expect(await pointerVersion('tone')).toBe('default');
    const snapshot = await loadSnapshot(database.db);
    expect(snapshot.active.has('tone|global')).toBe(false);
    expect(resolvePolicies(snapshot, {}).configs.tone).toEqual(DEFAULT_POLICIES.tone);
    await expect(rollback('tone')).rejects.toThrow('is on the built-in default; nothing to roll back to');

    // `activate … default` goes there directly and is itself one step a rollback retraces.
    await activate('tone', 'v5.0.0');
    await activate('tone', 'v6.0.0');
    expect(await activate('tone', 'default')).toMatchObject({ from: 'v6.0.0', to: null, changed: true });
    expect(await pointerVersion('tone')).toBe('default');
    expect(await activate('tone', 'default')).toMatchObject({ to: null, changed: false });
    expect(await rollback('tone')).toMatchObject({ from: null, to: 'v6.0.0' });
    expect(await rollback('tone')).toMatchObject({ from: 'v6.0.0', to: 'v5.0.0' });
    expect(await rollback('tone')).toMatchObject({ from: 'v5.0.0', to: null });

    // A tenant scope's "default" is no pointer of its own: it falls through to the global one.
    await publish('tone', 'v9.0.0', tone('bright'), 'tenant:t1');
    await activate('tone', 'v9.0.0', 'tenant:t1');
    expect(await rollback('tone', 'tenant:t1')).toMatchObject({ from: 'v9.0.0', to: null });
    await expect(rollback('tone', 'tenant:t1')).rejects.toThrow('is on the global pointer');

    // Every move is audited; no pointer is SQL NULL on that side.
    const toDefault = await sql<{ n: number }>`
      select count(*)::int as n from admin.audit_log
      where target_id = 'tone|global' and outcome = 'success' and after is null`.execute(database.db);
    expect(toDefault.rows[0]!.n).toBe(3);

    const r = await sumda(['policy', 'rollback', 'tone', '--reason', 'cli'], {
      env: cliEnv(database.url, team.admin.email),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('nothing to roll back to');
  });

  it('rollback walks back the activation history, not between the last two versions', async () => {
    // mode is at v1 (after the test above). History: v1 → v2 → v4 → v2; rolling back retraces it.
    await activate('mode', 'v2.0.0');
    await activate('mode', 'v4.0.0');
    await activate('mode', 'v2.0.0');
    expect(await rollback('mode')).toMatchObject({ from: 'v2.0.0', to: 'v4.0.0' });
    expect(await rollback('mode')).toMatchObject({ from: 'v4.0.0', to: 'v2.0.0' });
    expect(await rollback('mode')).toMatchObject({ from: 'v2.0.0', to: 'v1.0.0' });
    expect(await rollback('mode')).toMatchObject({ from: 'v1.0.0', to: null });
    await expect(rollback('mode')).rejects.toThrow('nothing to roll back to');
    await activate('mode', 'v1.0.0');
  });

  it('policy history lists every version and every move, in the domain and through the CLI', async () => {
    const history = await policyHistory(database.db, 'mode', 'global');
    expect(history.versions.map((v) => v.version)).toEqual(['v1.0.0', 'v2.0.0', 'v3.0.0', 'v4.0.0']);
    const moves = history.moves.map((m) => `${m.action} ${m.from ?? '-'}→${m.to ?? '-'}`);
    expect(moves).toEqual([
      'activate -→v1.0.0',
      'activate v1.0.0→v2.0.0',
      'activate v2.0.0→v3.0.0',
      'rollback v3.0.0→v2.0.0',
      'rollback v2.0.0→v1.0.0',
      'activate v1.0.0→v3.0.0',
      'rollback v3.0.0→v1.0.0',
      'activate v1.0.0→v2.0.0',
      'activate v2.0.0→v4.0.0',
      'activate v4.0.0→v2.0.0',
      'rollback v2.0.0→v4.0.0',
      'rollback v4.0.0→v2.0.0',
      'rollback v2.0.0→v1.0.0',
      'rollback v1.0.0→-',
      'activate -→v1.0.0',
    ]);
    expect(history.moves.every((m) => m.by === team.admin.email && m.reason)).toBe(true);

    const r = await sumda(['policy', 'history', 'mode', '--json'], { env: cliEnv(database.url) });
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout) as {
      moves: { action: string; from: string | null; to: string | null }[];
    };
    expect(json.moves.map((m) => `${m.action} ${m.from ?? '-'}→${m.to ?? '-'}`)).toEqual(moves);

    const listed = await listPolicies(database.db);
    expect(listed.find((p) => p.policy === 'mode')).toMatchObject({
      scope: 'global',
      active: 'v1.0.0',
      versions: 4,
    });
    expect(listed.find((p) => p.policy === 'ethics')).toMatchObject({
      active: 'default (built-in)',
      versions: 0,
    });
  });

  it('a user-scoped pointer wins over the global one for that user only', async () => {
    await activate('tone', 'v1.0.0');
    await activate('tone', 'v1.0.0', 'user:alice');
    await expect(activate('tone', 'v1.0.1', 'user:alice')).rejects.toThrow(
      'tone v1.0.1 is not published for scope user:alice',
    );
    const snapshot = await loadSnapshot(database.db);
    const alice = resolvePolicies(snapshot, { userId: 'alice' });
    const bob = resolvePolicies(snapshot, { userId: 'bob' });
    expect(alice.configs.tone.voice).toBe('bright');
    expect(alice.versions.tone).toMatchObject({ version: 'v1.0.0', scope: 'user:alice' });
    expect(alice.sources.tone.get('voice')?.layer).toBe('version v1.0.0 (user:alice)');
    expect(bob.configs.tone.voice).toBe('gentle');
    expect(bob.versions.tone).toMatchObject({ version: 'v1.0.0', scope: 'global' });
    // Rolling back the global pointer leaves alice's alone.
    await activate('tone', 'v1.0.1');
    await rollback('tone');
    expect(await pointerVersion('tone', 'user:alice')).toBe('v1.0.0');
    expect(await rollback('tone', 'user:alice')).toMatchObject({ from: 'v1.0.0', to: null });
    await expect(rollback('tone', 'user:alice')).rejects.toThrow('nothing to roll back to');
  });

  it('an analysis version naming an unregistered prompt cannot be activated', async () => {
    const analysis = (prompt_version: string) => ({ ...DEFAULT_POLICIES.analysis, prompt_version });
    await publish('analysis', 'v1.0.0', analysis('v9'));
    await publish('analysis', 'v1.1.0', analysis('v2'));
    await publish('analysis', 'v1.2.0', analysis('builtin-1'));
    const before = await lastSeq(database.db);
    await expect(activate('analysis', 'v1.0.0')).rejects.toThrow('prompt analysis v9 is not registered');
    expect(await lastSeq(database.db)).toBe(before);
    expect(await pointerVersion('analysis')).toBe('default');
    await activate('analysis', 'v1.1.0');
    await activate('analysis', 'v1.2.0');
    expect(await pointerVersion('analysis')).toBe('v1.2.0');

    const r = await sumda(['policy', 'activate', 'analysis', 'v1.0.0', '--reason', 'try'], {
      env: cliEnv(database.url, team.admin.email),
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: prompt analysis v9 is not registered']);
  });
});
