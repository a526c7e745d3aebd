/**
 * Issue 14: an override or a resolution for a user that is not one (not a UUID, or nobody) is bad
 * input, exit 2, and writes nothing; a bare word is a string value for `override set`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { auditRows, cliEnv, seedTeam, type Team } from '../admins/support.ts';
import { createUser } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
let userId: string;

beforeAll(async () => {
  team = await seedTeam(database.db);
  userId = await createUser(database.db);
});

async function overrideCount(): Promise<number> {
  const r = await database.db
    .selectFrom('admin.ai_overrides')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

const set = (target: string, value: string) =>
  runSumda(['override', 'set', target, 'tone.voice', value, '--reason', 'support #1', '--expires-in', '1d'], {
    env: cliEnv(database.url, team.manager.email),
  });

describe('override targets', () => {
  it.each([
    ['user:not-a-uuid', 'a user id is a UUID'],
    ['user:0d9b4c8e-5f7a-4e3b-9c1d-2a6f8e0b7c54', 'no user 0d9b4c8e-5f7a-4e3b-9c1d-2a6f8e0b7c54'],
    ['person:x', 'use global, tenant:<id> or user:<user id>'],
  ])('%s is refused with exit 2 and writes nothing', async (target, message) => {
    const before = await overrideCount();
    const audits = (await auditRows(database.db, { action: 'override.set' })).length;
    const r = await set(target, '"warm"');
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(message);
    expect(await overrideCount()).toBe(before);
    expect(await auditRows(database.db, { action: 'override.set' })).toHaveLength(audits);
  });

  it('a user that exists is accepted; a bare word is a string', async () => {
    const r = await set(`user:${userId.toUpperCase()}`, 'warm');
    expect(r.code, r.stderr).toBe(0);
    const row = await database.db
      .selectFrom('admin.ai_overrides')
      .select(['target', 'value'])
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
    expect(row).toEqual({ target: `user:${userId}`, value: 'warm' });
  });

  it('a value that is neither JSON nor a bare word says how to write one', async () => {
    const r = await set('global', '{warm');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('JSON, or a bare word for a string');
    // A bare word of the wrong type is refused by the policy schema, not stored.
    const wrong = await runSumda(
      [
        'override',
        'set',
        'global',
        'tone.max_interpretation_chars',
        'many',
        '--reason',
        'x',
        '--expires-in',
        '1d',
      ],
      { env: cliEnv(database.url, team.manager.email) },
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('invalid override');
  });
});

describe('policy resolve --user', () => {
  it.each([
    ['nope', 'is not a user id'],
    ['0d9b4c8e-5f7a-4e3b-9c1d-2a6f8e0b7c54', 'no user'],
  ])('%s: exit 2', async (user, message) => {
    const r = await runSumda(['policy', 'resolve', '--user', user, '--explain'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('an existing user resolves', async () => {
    const r = await runSumda(['policy', 'resolve', '--user', userId, '--json'], {
      env: cliEnv(database.url),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).user).toBe(userId);
  });
});
