/**
 * Fixtures of the slip tests: users, sealed diary entries and analysis rows written directly (with
 * the metadata fields the evaluator reads), the slip conditions and notifications of a user as
 * plain values, and SlipDeps over any Kysely handle.
 */
import { type Kysely, sql } from 'kysely';
import type { ContextTag, EthicsTag } from '../../src/analysis/schema.ts';
import type { Keyring } from '../../src/crypto/index.ts';
import type { Database } from '../../src/db/types.ts';
import type { Logger } from '../../src/log.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import type { SlipDeps } from '../../src/slips/live.ts';
import { createUser, writeDiary } from '../support/analysis.ts';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
export const DAY = 86_400_000;

export interface Reading {
  tier_a: number;
  valence?: number;
  context_tags?: ContextTag[];
  ethics_tags?: EthicsTag[];
}

/** A risky high-intensity reading (negative, anxious). */
export const risky = (tier_a = 3.5): Reading => ({ tier_a, valence: -0.6, context_tags: ['anxiety'] });
/** Joy at high intensity: healthy. */
export const joyful = (tier_a = 3.9): Reading => ({
  tier_a,
  valence: 0.8,
  context_tags: ['joy', 'achievement'],
});
export const calm = (tier_a = 1.2): Reading => ({ tier_a, valence: 0.2, context_tags: ['rest'] });

/** The private metadata an analysis stores (the slip-relevant part, as analysis/run.ts writes it). */
export function metadataOf(r: Reading) {
  const slipInput = {
    tier_a: r.tier_a,
    tier_m: 1.5,
    valence: r.valence ?? 0,
    context_tags: r.context_tags ?? [],
    ethics_tags: r.ethics_tags ?? [],
  };
  return {
    schema_version: 'analysis.v1',
    model_name: 'stub',
    prompt_name: 'analysis',
    prompt_version: 'builtin-1',
    ...slipInput,
    slip_input: slipInput,
    policy_versions: { slip: 'default', ethics: 'default' },
    override_ids: [],
  };
}

/** An analysis row for an existing entry. */
export async function analyse(
  db: Kysely<Database>,
  userId: string,
  diaryId: string,
  r: Reading,
  promptVersion = 'builtin-1',
): Promise<string> {
  const row = await db
    .insertInto('analysis_results')
    .values({
      diary_id: diaryId,
      user_id: userId,
      summary: '하루의 요약',
      emotion_flow: JSON.stringify([]),
      reflection_question: '오늘 가장 오래 머문 감정은 무엇이었나요?',
      interpretation: '오늘의 마음을 차분히 돌아본 글이에요.',
      keywords: ['하루'],
      prompt_name: 'analysis',
      prompt_version: promptVersion,
      metadata: JSON.stringify(metadataOf(r)),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface Entry {
  diaryId: string;
  analysisId: string;
  at: Date;
}

/** A sealed diary entry written at `at` and its analysis. */
export async function entry(
  db: Kysely<Database>,
  keyring: Keyring,
  userId: string,
  at: Date,
  r: Reading,
  text = '오늘 하루를 적어 본다.',
): Promise<Entry> {
  const diaryId = await writeDiary(db, keyring, userId, text, at);
  return { diaryId, analysisId: await analyse(db, userId, diaryId, r), at };
}

/** A user with entries written `minutesAgo` before now, oldest first. */
export async function userWith(
  db: Kysely<Database>,
  keyring: Keyring,
  readings: { minutesAgo: number; r: Reading; text?: string }[],
): Promise<{ userId: string; entries: Entry[] }> {
  const userId = await createUser(db);
  const entries: Entry[] = [];
  const now = Date.now();
  for (const { minutesAgo, r, text } of readings) {
    entries.push(await entry(db, keyring, userId, new Date(now - minutesAgo * MINUTE), r, text));
  }
  return { userId, entries };
}

export function deps(db: Kysely<Database>, log: Logger, extra: Partial<SlipDeps> = {}): SlipDeps {
  return { db, resolver: new PolicyResolver(db, { ttlMs: 0 }), log, ...extra };
}

export async function slipRows(db: Kysely<Database>, userId: string) {
  return db
    .selectFrom('admin.slip_conditions')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('triggered_at')
    .orderBy('status')
    .execute();
}

export async function openRows(db: Kysely<Database>, userId: string) {
  return (await slipRows(db, userId)).filter((r) => r.released_at === null);
}

export async function notificationsOf(db: Kysely<Database>, userId: string, type?: 'slip' | 'crisis') {
  let query = db
    .selectFrom('notifications')
    .select(['id', 'type', 'title', 'message', 'dedupe_key', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('created_at')
    .orderBy('id');
  if (type) query = query.where('type', '=', type);
  return query.execute();
}

/** Moves a condition's start back in time (the release tests' clock). */
export async function backdate(db: Kysely<Database>, slipId: string, ms: number): Promise<void> {
  await sql`update admin.slip_conditions set triggered_at = triggered_at - ${`${Math.round(ms / 1000)} seconds`}::interval
    where id = ${slipId}`.execute(db);
}

export const HANGUL = /[\uac00-\ud7a3]/;
