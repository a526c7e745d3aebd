/**
 * Issue 14: every destructive command follows one rule — a terminal asks, a script passes --yes,
 * and without either it exits 2 having changed nothing. Also: a missing SUMDA_ENCRYPTION_KEYS with
 * DATABASE_URL is a configuration problem (exit 2), and `sumda config` says so too.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, seedTeam, type Team } from '../admins/support.ts';
import { createUser, testKeys, writeDiary } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;
let userId: string;
let diaryId: string;

beforeAll(async () => {
  team = await seedTeam(database.db);
  userId = await createUser(database.db);
  diaryId = await writeDiary(database.db, testKeys().keyring, userId, '오늘은 조용한 하루였다.');
});

const state = async () => ({
  user: (
    await database.db.selectFrom('users').select('state').where('id', '=', userId).executeTakeFirstOrThrow()
  ).state,
  entry: (
    await database.db
      .selectFrom('diary_entries')
      .select('moderation_state')
      .where('id', '=', diaryId)
      .executeTakeFirstOrThrow()
  ).moderation_state,
  jun: (
    await database.db
      .selectFrom('admin.admins')
      .select('disabled_at')
      .where('email', '=', team.operator.email)
      .executeTakeFirstOrThrow()
  ).disabled_at,
});

describe('destructive commands without a terminal', () => {
  const cases: [string, () => string[]][] = [
    ['moderation delete', () => ['moderation', 'delete', diaryId, '--reason', 'policy']],
    ['user set-state banned', () => ['user', 'set-state', userId, 'banned', '--reason', 'abuse #1']],
    ['admin disable', () => ['admin', 'disable', team.operator.email, '--reason', 'left']],
  ];

  it.each(cases)('%s: exit 2 without --yes, nothing changed; done with --yes', async (_name, args) => {
    const env = cliEnv(database.url, team.admin.email);
    const before = await state();
    const refused = await runSumda(args(), { env });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toContain('without confirmation: no terminal to ask');
    expect(refused.stderr).toContain('--yes');
    expect(await state()).toEqual(before);
    const done = await runSumda([...args(), '--yes'], { env });
    expect(done.code, done.stderr).toBe(0);
    expect(await state()).not.toEqual(before);
  });

  it('a reversible change needs no confirmation', async () => {
    const r = await runSumda(['moderation', 'restore', diaryId, '--reason', 'appeal'], {
      env: cliEnv(database.url, team.admin.email),
    });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('SUMDA_ENCRYPTION_KEYS missing with DATABASE_URL', () => {
  it('is a configuration problem (exit 2) for seed, and config says so', async () => {
    const env = cliEnv(database.url, team.admin.email);
    const seed = await runSumda(['seed', '--users', '2', '--days', '1'], { env });
    expect(seed.code).toBe(2);
    expect(seed.stderr).toContain('invalid configuration: SUMDA_ENCRYPTION_KEYS is not set');
    const config = await runSumda(['config', '--json'], { env });
    expect(JSON.parse(config.stdout).SUMDA_ENCRYPTION_KEYS).toContain('refuse, exit 2');
  });
});
