/**
 * The safety scenario (`sumda demo`, and `sumda seed` when its history ends today): four synthetic
 * users whose last hours show what the slip flow does once a worker has read them — one with intense
 * joy and achievement (healthy high: never slips), one with repeated risky spikes (a gentle warning
 * first, then a pause of the AI reading), one whose entry speaks of not wanting to exist (crisis
 * resources, whatever the slip decision), and one whose entry speaks of violence in anger (flagged
 * into the moderation queue for an operator, never deleted). Deterministic and idempotent.
 */
import { type Kysely, sql } from 'kysely';
import { type Keyring, seal } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { createRng, generateDiary, type MoodKind } from './corpus.ts';
import { stableUuid } from './index.ts';

export const SCENARIO_USERS = [
  { key: 'joy', nickname: '데모: 기쁜 하루', moods: ['high_positive', 'high_positive', 'high_positive'] },
  {
    key: 'spikes',
    nickname: '데모: 힘든 한 주',
    moods: ['high_negative', 'high_negative', 'high_negative', 'high_negative'],
  },
  { key: 'crisis', nickname: '데모: 무거운 마음', moods: ['negative', 'self_harm'] },
  { key: 'anger', nickname: '데모: 화가 난 날', moods: ['high_negative'] },
] as const satisfies readonly { key: string; nickname: string; moods: readonly MoodKind[] }[];

/** Words of violence said in anger: the analysis tags it, the slip check flags it for an operator. */
const ANGER = {
  title: '억울한 하루',
  body: '회의에서 내 잘못도 아닌 일로 또 혼이 났다. 너무 억울하고 화가 나서 그 사람을 때려죽이고 싶다는 생각까지 들었다. 물론 그러지 않을 거다. 퇴근길에 한참 걸으면서 숨을 골랐다.',
};

export async function seedSafetyScenario(
  db: Kysely<Database>,
  keyring: Keyring,
  now: Date = new Date(),
): Promise<number> {
  const rng = createRng(20261125);
  let entries = 0;
  for (const user of SCENARIO_USERS) {
    const userId = stableUuid(`sumda-demo-scenario:user:${user.key}`);
    await db
      .insertInto('users')
      .values({
        id: userId,
        nickname: user.nickname,
        email: null,
        created_at: new Date(now.getTime() - 30 * 86_400_000),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    for (const [i, mood] of user.moods.entries()) {
      const diary = user.key === 'anger' ? ANGER : generateDiary(rng, { dayIndex: i, mood, lang: 'ko' });
      // Spread over the last few hours, oldest first, so the evaluator sees them in order.
      const at = new Date(now.getTime() - (user.moods.length - i) * 40 * 60_000);
      const inserted = await db
        .insertInto('diary_entries')
        .values({
          id: stableUuid(`sumda-demo-scenario:diary:${user.key}:${i}`),
          user_id: userId,
          title: diary.title,
          content_enc: seal(keyring, diary.body, userId),
          created_at: at,
          updated_at: at,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      entries += Number(inserted.numInsertedOrUpdatedRows ?? 0);
    }
  }
  await sql`analyze public.diary_entries`.execute(db);
  return entries;
}
