/**
 * Roles: operator < manager < admin, one permission table. A refused attempt is recorded in the
 * audit trail (outcome `denied`, with the actor) in its own transaction, the refused change is not
 * written, and the CLI exits 6 with one error line.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ROLES } from '../../src/admins/actor.ts';
import { createAdmin, setRole } from '../../src/admins/index.ts';
import { allows, authorize, PERMISSIONS, type Permission, ROLE_RANK } from '../../src/admins/permissions.ts';
import { PermissionDeniedError } from '../../src/errors.ts';
import { expireOverride, setOverride } from '../../src/policy/overrides.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { registerPrompt } from '../../src/prompts/index.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { auditRows, cliEnv, errorLines, lastSeq, operation, seedTeam, type Team } from './support.ts';

const database = useTestDatabase();
let team: Team;
const DAY = 24 * 60 * 60 * 1000;

beforeAll(async () => {
  team = await seedTeam(database.db);
});

describe('the permission table', () => {
  it('a role is allowed exactly the permissions whose lowest role it reaches', () => {
    for (const role of ROLES) {
      for (const [permission, lowest] of Object.entries(PERMISSIONS)) {
        expect(allows(role, permission as Permission)).toBe(ROLE_RANK[role] >= ROLE_RANK[lowest]);
      }
    }
  });

  it.each([
    ['operator', 'diary.moderate', true],
    ['operator', 'override.set', false],
    ['operator', 'slip.release', false],
    ['operator', 'policy.activate', false],
    ['manager', 'override.set', true],
    ['manager', 'override.expire', true],
    ['manager', 'jobs.retry', true],
    ['manager', 'policy.publish', false],
    ['manager', 'prompt.register', false],
    ['manager', 'admin.create', false],
    ['admin', 'policy.publish', true],
    ['admin', 'policy.rollback', true],
    ['admin', 'admin.disable', true],
    ['admin', 'diary.moderate', true],
  ] as const)('%s %s → %s', (role, permission, expected) => {
    expect(allows(role, permission)).toBe(expected);
  });
});

describe('denials in the domain', () => {
  it('an operator setting an override: denied, one denied audit row, no override', async () => {
    const before = await lastSeq(database.db);
    const op = operation(team.operator, 'sumda override set global tone.voice "warm"');
    await expect(
      setOverride(database.db, op, {
        target: 'global',
        key: 'tone.voice',
        value: 'warm',
        reason: 'A/B',
        expiresAt: new Date(Date.now() + DAY),
        permanent: false,
        rolloutPercent: null,
      }),
    ).rejects.toThrow(PermissionDeniedError);
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: team.operator.id,
      actor_email: team.operator.email,
      actor_role: 'operator',
      action: 'override.set',
      target_type: 'override',
      target_id: 'global',
      outcome: 'denied',
      reason: 'role operator is below manager',
      request_id: op.requestId,
      command: op.command,
    });
    const overrides = await database.db.selectFrom('admin.ai_overrides').select('id').execute();
    expect(overrides).toHaveLength(0);
  });

  it('a manager may set and expire overrides but not publish, activate, register or manage operators', async () => {
    const set = await setOverride(database.db, operation(team.manager), {
      target: 'user:u1',
      key: 'mode.mode',
      value: 'coach',
      reason: 'support case',
      expiresAt: new Date(Date.now() + DAY),
      permanent: false,
      rolloutPercent: null,
    });
    await expireOverride(database.db, operation(team.manager), set.id, 'done');

    const before = await lastSeq(database.db);
    const attempts: [string, () => Promise<unknown>][] = [
      [
        'policy.publish',
        () =>
          publishVersion(database.db, operation(team.manager), {
            name: 'tone',
            version: 'v1.0.0',
            scope: 'global',
            config: DEFAULT_POLICIES.tone,
          }),
      ],
      [
        'prompt.register',
        () =>
          registerPrompt(database.db, operation(team.manager), {
            name: 'analysis',
            version: 'v2',
            model: 'gpt-4o-mini',
            template: '{{diary_text}}',
            params: {},
          }),
      ],
      [
        'admin.create',
        () => createAdmin(database.db, operation(team.manager), { email: 'x@sumda.test', role: 'admin' }),
      ],
      [
        'admin.set_role',
        () => setRole(database.db, operation(team.manager), team.manager.email, 'admin', 'self-promotion'),
      ],
    ];
    for (const [, attempt] of attempts) await expect(attempt()).rejects.toThrow(PermissionDeniedError);
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows.map((r) => [r.action, r.outcome, r.actor_email, r.reason])).toEqual(
      attempts.map(([action]) => [action, 'denied', team.manager.email, 'role manager is below admin']),
    );
    expect(await database.db.selectFrom('admin.ai_policy_versions').select('id').execute()).toHaveLength(0);
    expect(await database.db.selectFrom('admin.prompt_registry').select('id').execute()).toHaveLength(0);
    const manager = await database.db
      .selectFrom('admin.admins')
      .select('role')
      .where('id', '=', team.manager.id)
      .executeTakeFirstOrThrow();
    expect(manager.role).toBe('manager');
  });

  it('an admin may publish and activate', async () => {
    await publishVersion(database.db, operation(team.admin), {
      name: 'tone',
      version: 'v1.0.0',
      scope: 'global',
      config: DEFAULT_POLICIES.tone,
    });
    const move = await activateVersion(database.db, operation(team.admin), {
      name: 'tone',
      version: 'v1.0.0',
      scope: 'global',
      reason: 'first',
    });
    expect(move).toMatchObject({ from: null, to: 'v1.0.0', changed: true });
  });

  it('no identity at all is denied and recorded without an actor', async () => {
    const before = await lastSeq(database.db);
    await expect(
      authorize(database.db, operation(null), 'diary.moderate', { type: 'diary', id: 'd1' }),
    ).rejects.toThrow('diary.moderate needs an operator identity with role operator');
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: null,
      action: 'diary.moderate',
      target_type: 'diary',
      target_id: 'd1',
      outcome: 'denied',
      reason: 'no operator identity',
    });
  });
});

describe('denials through the CLI', () => {
  it('exit 6, one error line, exactly one denied audit row with the actor, nothing changed', async () => {
    const before = await lastSeq(database.db);
    const r = await runSumda(
      ['policy', 'activate', 'tone', 'v1.0.0', '--reason', 'try', '--scope', 'global'],
      { env: cliEnv(database.url, team.manager.email) },
    );
    expect(r.code).toBe(6);
    expect(r.stdout).toBe('');
    expect(errorLines(r.stderr)).toEqual([
      `error: policy.activate needs role admin; ${team.manager.email} is manager`,
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const rows = await auditRows(database.db, { afterSeq: before });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: team.manager.id,
      actor_email: team.manager.email,
      actor_role: 'manager',
      action: 'policy.activate',
      target_type: 'policy_pointer',
      target_id: 'tone|global',
      outcome: 'denied',
    });
    expect(rows[0]!.command).toBe('sumda policy activate tone v1.0.0 --reason try --scope global');
    expect(rows[0]!.request_id).toMatch(/^[0-9a-f-]{36}$/);

    const r2 = await runSumda(
      ['override', 'set', 'global', 'tone.voice', '"warm"', '--reason', 'A/B', '--expires-in', '1d'],
      { env: cliEnv(database.url, team.operator.email) },
    );
    expect(r2.code).toBe(6);
    expect(errorLines(r2.stderr)).toEqual([
      `error: override.set needs role manager; ${team.operator.email} is operator`,
    ]);
    const denied = await auditRows(database.db, { afterSeq: before + 1 });
    expect(denied.map((d) => [d.action, d.outcome, d.actor_email])).toEqual([
      ['override.set', 'denied', team.operator.email],
    ]);
    const live = await database.db
      .selectFrom('admin.ai_overrides')
      .select('id')
      .where('expired_at', 'is', null)
      .execute();
    expect(live).toHaveLength(0);
  });
});
