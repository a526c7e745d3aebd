import { beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, seal } from '../../src/crypto/index.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { createLogger } from '../../src/log.ts';
import { listFlagged, moderate, moderationHistory } from '../../src/moderation/index.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { stableUuid } from '../../src/seed/index.ts';
import { checkSlips } from '../../src/slips/live.ts';
import { setUserState, showUser } from '../../src/users/index.ts';
import { auditRows, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const keyring = createKeyring([{ id: 'k1', key: Buffer.alloc(32, 3) }]);
const MARKER = 'MARKER-mod-91c2';
const userId = stableUuid('moderation-test:user');
const diaryId = stableUuid('moderation-test:diary');
let team: Team;

beforeAll(async () => {
  team = await seedTeam(database.db);
  const db = database.db;
  await db.insertInto('users').values({ id: userId, nickname: '테스트' }).execute();
  await db
    .insertInto('diary_entries')
    .values({
      id: diaryId,
      user_id: userId,
      content_enc: seal(keyring, `그 사람을 때려 주고 싶었다 ${MARKER}`, userId),
    })
    .execute();
  const analysis = await db
    .insertInto('analysis_results')
    .values({
      diary_id: diaryId,
      user_id: userId,
      summary: '화가 많이 난 하루',
      emotion_flow: JSON.stringify([{ phase: '처음', emotion: 'anger', intensity: 0.8, note: '화가 났다' }]),
      reflection_question: '무엇이 가장 화가 났나요?',
      interpretation: '많이 속상했던 것 같아요.',
      keywords: ['화', '사람', '하루'],
      prompt_name: 'analysis',
      prompt_version: 'builtin-1',
      metadata: JSON.stringify({
        tier_a: 2.1,
        tier_m: 1.5,
        valence: -0.7,
        context_tags: ['anger'],
        ethics_tags: ['violence'],
      }),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  // The ethics policy flags violence: the live check puts the entry in the queue.
  await checkSlips({ db, resolver: new PolicyResolver(db), log: createLogger({ level: 'silent' }) }, [
    analysis.id,
  ]);
});

describe('the moderation queue', () => {
  it('lists the entry the ethics policy flagged, with its analysis, never its text', async () => {
    const flagged = await listFlagged(database.db);
    expect(flagged.map((f) => [f.id, f.flag_reason, f.moderation_state])).toEqual([
      [diaryId, 'ethics: violence', 'visible'],
    ]);
    expect(await moderationHistory(database.db, diaryId)).toMatchObject([{ action: 'flag', by: null }]);
    const cli = await runSumda(['moderation', 'list', '--json'], { env: { DATABASE_URL: database.url } });
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout)[0]).toMatchObject({ id: diaryId, summary: '화가 많이 난 하루' });
    expect(cli.stdout + cli.stderr).not.toContain(MARKER);
  });

  it('block, restore and dismiss change the state with a moderation log row and an audit row in one go', async () => {
    const op = operation(team.operator, 'sumda moderation block');
    expect(await moderate(database.db, op, { diaryId, action: 'block', reason: 'threat' })).toMatchObject({
      before: 'visible',
      after: 'blocked',
    });
    const entry = await database.db
      .selectFrom('diary_entries')
      .select(['moderation_state', 'flagged_at'])
      .where('id', '=', diaryId)
      .executeTakeFirstOrThrow();
    expect(entry).toEqual({ moderation_state: 'blocked', flagged_at: null });
    expect(await listFlagged(database.db)).toEqual([]);
    await expect(
      moderate(database.db, op, { diaryId, action: 'block', reason: 'again' }),
    ).rejects.toBeInstanceOf(UsageError);
    await moderate(database.db, op, { diaryId, action: 'restore', reason: 'appeal accepted' });
    await expect(
      moderate(database.db, op, { diaryId, action: 'dismiss', reason: 'nothing flagged' }),
    ).rejects.toThrow(/not flagged/);
    expect((await moderationHistory(database.db, diaryId)).map((h) => [h.action, h.by])).toEqual([
      ['flag', null],
      ['block', team.operator.email],
      ['restore', team.operator.email],
    ]);
    const audit = await auditRows(database.db, { targetId: diaryId });
    expect(audit.map((a) => [a.action, a.reason, a.actor_email])).toEqual([
      ['diary.block', 'threat', team.operator.email],
      ['diary.restore', 'appeal accepted', team.operator.email],
    ]);
    expect(JSON.stringify(audit)).not.toContain(MARKER);
  });

  it('refuses an unknown entry with exit 2 and needs an operator identity', async () => {
    const env = { DATABASE_URL: database.url, SUMDA_ACTOR: team.operator.email };
    const missing = await runSumda(['moderation', 'block', stableUuid('nope'), '--reason', 'x'], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no diary entry');
    const anonymous = await runSumda(['moderation', 'block', diaryId, '--reason', 'x'], {
      env: { DATABASE_URL: database.url },
    });
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain('needs an operator identity');
  });
});

describe('account states', () => {
  it('a manager changes a state with a status log row and an audit row; an operator is refused', async () => {
    await expect(
      setUserState(database.db, operation(team.operator), { userId, state: 'banned', reason: 'x' }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);
    const result = await setUserState(database.db, operation(team.manager), {
      userId,
      state: 'banned',
      reason: 'abuse report #412',
    });
    expect(result).toEqual({ id: userId, before: 'active', after: 'banned' });
    const shown = await showUser(database.db, userId);
    expect(shown.user.state).toBe('banned');
    expect(shown.stateHistory).toMatchObject([
      { old_state: 'active', new_state: 'banned', by: team.manager.email, reason: 'abuse report #412' },
    ]);
    expect(shown.activity).toMatchObject({ diaries: 1, analyses: 1 });
    const denied = await auditRows(database.db, { action: 'user.set_state' });
    expect(denied.map((d) => d.outcome)).toEqual(['denied', 'success']);
    const cli = await runSumda(['user', 'set-state', userId, 'gone', '--reason', 'x'], {
      env: { DATABASE_URL: database.url, SUMDA_ACTOR: team.manager.email },
    });
    expect(cli.code).toBe(2);
    const show = await runSumda(['user', 'show', userId], { env: { DATABASE_URL: database.url } });
    expect(show.stdout).toContain('banned');
    expect(show.stdout).not.toContain(MARKER);
  });
});
