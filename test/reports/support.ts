/**
 * Fixtures of the report tests: users, entries at exact Seoul instants, and analyses with a given
 * emotion flow, inserted directly (the builder never decrypts, so any sealed text will do).
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { createKeyring, seal } from '../../src/crypto/index.ts';
import type { Db } from '../../src/db/connect.ts';

const keyring = createKeyring([{ id: 't1', key: randomBytes(32) }]);

/** An instant on the Seoul wall clock: `kst('2026-11-23T09:00')`. */
export function kst(local: string): Date {
  return new Date(`${local}${local.length === 16 ? ':00' : ''}+09:00`);
}

export async function user(db: Db, nickname = '리포트'): Promise<string> {
  const row = await db.insertInto('users').values({ nickname }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function entry(
  db: Db,
  userId: string,
  at: Date,
  moderation: 'visible' | 'blocked' | 'deleted' = 'visible',
): Promise<string> {
  const row = await db
    .insertInto('diary_entries')
    .values({
      user_id: userId,
      title: null,
      content_enc: seal(keyring, '일기 본문 DIARY-TEXT-MARKER', userId),
      moderation_state: moderation,
      created_at: at,
      updated_at: at,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface AnalysisSpec {
  flow: [emotion: string, intensity: number][];
  keywords?: string[];
  summary?: string;
  createdAt?: Date;
  prompt?: string;
  /** The analysis's private ethics tags (none by default). */
  ethics?: string[];
}

let prompts = 0;

export async function analyse(db: Db, diaryId: string, spec: AnalysisSpec): Promise<string> {
  const diary = await db
    .selectFrom('diary_entries')
    .select('user_id')
    .where('id', '=', diaryId)
    .executeTakeFirstOrThrow();
  const row = await db
    .insertInto('analysis_results')
    .values({
      diary_id: diaryId,
      user_id: diary.user_id,
      summary: spec.summary ?? '오늘의 장면',
      emotion_flow: JSON.stringify(
        spec.flow.map(([emotion, intensity]) => ({ phase: '하루', emotion, intensity, note: '메모' })),
      ),
      reflection_question: '무엇이 마음에 남았나요? QUESTION-MARKER',
      interpretation: 'INTERPRETATION-MARKER',
      keywords: spec.keywords ?? [],
      metadata: JSON.stringify({
        tier_a: 3.9,
        tier_m: 2.5,
        valence: -0.8,
        ethics_tags: spec.ethics ?? [],
        slip_input: { tier_a: 3.9 },
        note: 'PRIVATE-METADATA-MARKER',
      }),
      prompt_name: 'analysis',
      prompt_version: spec.prompt ?? `v${++prompts}`,
      created_at: spec.createdAt ?? new Date(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface ReportRow {
  user_id: string;
  period_type: string;
  period_start: string;
  period_end: string;
  summary: Record<string, unknown>;
  updated_at: Date;
  xmin: string;
}

export async function reportsOf(db: Db, userId?: string): Promise<ReportRow[]> {
  const rows = await sql<ReportRow>`
    select user_id, period_type, period_start, period_end, summary, updated_at, xmin::text as xmin
    from public.reports ${userId ? sql`where user_id = ${userId}` : sql``}
    order by user_id, period_type, period_start`.execute(db);
  return rows.rows;
}

export async function staleMarks(db: Db, userId?: string) {
  const rows = await sql<{ user_id: string; period_type: string; period_start: string }>`
    select user_id, period_type, period_start from sumda.report_stale
    ${userId ? sql`where user_id = ${userId}` : sql``}
    order by period_type, period_start`.execute(db);
  return rows.rows;
}
