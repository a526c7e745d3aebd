/**
 * The moderation queue: entries flagged by the ethics policy (or an operator) wait here for a human.
 * Nothing is ever deleted automatically. Every change of an entry's moderation state is also a row in
 * admin.content_moderation_logs and an audit row, in the same transaction. Operators see the
 * analysis and the flag, never the diary text.
 */
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';

export const MODERATION_ACTIONS = ['block', 'delete', 'restore', 'dismiss'] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];

export async function listFlagged(
  db: Kysely<Database>,
  options: { includeHandled?: boolean; limit?: number } = {},
) {
  let query = db
    .selectFrom('diary_entries as d')
    .leftJoin(
      (eb) =>
        eb
          .selectFrom('analysis_results')
          .distinctOn('diary_id')
          .select([
            'diary_id',
            'summary',
            'keywords',
            sql<string[]>`array(select jsonb_array_elements_text(metadata->'ethics_tags'))`.as('ethics_tags'),
          ])
          .orderBy('diary_id')
          .orderBy('created_at', 'desc')
          .as('a'),
      (join) => join.onRef('a.diary_id', '=', 'd.id'),
    )
    .select([
      'd.id',
      'd.user_id',
      'd.created_at',
      'd.moderation_state',
      'd.flagged_at',
      'd.flag_reason',
      'a.summary',
      'a.keywords',
      'a.ethics_tags',
    ])
    .orderBy('d.flagged_at')
    .limit(options.limit ?? 100);
  query = options.includeHandled
    ? query.where((eb) =>
        eb.or([eb('d.flagged_at', 'is not', null), eb('d.moderation_state', '<>', 'visible')]),
      )
    : query.where('d.flagged_at', 'is not', null);
  return query.execute();
}

const NEXT_STATE: Record<ModerationAction, 'visible' | 'blocked' | 'deleted' | null> = {
  block: 'blocked',
  delete: 'deleted',
  restore: 'visible',
  dismiss: null,
};
const LOG_ACTION: Record<ModerationAction, 'block' | 'delete' | 'restore' | 'unflag'> = {
  block: 'block',
  delete: 'delete',
  restore: 'restore',
  dismiss: 'unflag',
};

export async function moderate(
  db: Kysely<Database>,
  op: Operation,
  input: { diaryId: string; action: ModerationAction; reason: string },
) {
  if (!input.reason.trim()) throw new UsageError('--reason is required');
  return mutate(
    db,
    op,
    'diary.moderate',
    async (trx, op) => {
      const entry = await trx
        .selectFrom('diary_entries')
        .select(['id', 'moderation_state', 'flagged_at', 'flag_reason'])
        .where('id', '=', input.diaryId)
        .forUpdate()
        .executeTakeFirst();
      if (!entry) throw new NotFoundError(`no diary entry ${input.diaryId}`);
      const next = NEXT_STATE[input.action] ?? entry.moderation_state;
      if (input.action === 'dismiss' && !entry.flagged_at)
        throw new UsageError(`entry ${input.diaryId} is not flagged`);
      if (next === entry.moderation_state && input.action !== 'dismiss') {
        throw new UsageError(`entry ${input.diaryId} already is ${next}`);
      }
      // Soft delete: the row and its ciphertext stay (retention is a separate policy); the app hides it.
      await trx
        .updateTable('diary_entries')
        .set({ moderation_state: next, flagged_at: null, flag_reason: null })
        .where('id', '=', input.diaryId)
        .execute();
      await trx
        .insertInto('admin.content_moderation_logs')
        .values({
          diary_id: input.diaryId,
          action: LOG_ACTION[input.action],
          reason: input.reason,
          admin_id: op.actor.id,
        })
        .execute();
      await writeAudit(trx, op, {
        action: `diary.${input.action}`,
        targetType: 'diary',
        targetId: input.diaryId,
        before: {
          moderation_state: entry.moderation_state,
          flagged: Boolean(entry.flagged_at),
          flag_reason: entry.flag_reason,
        },
        after: { moderation_state: next, flagged: false },
        reason: input.reason,
      });
      return { id: input.diaryId, before: entry.moderation_state, after: next };
    },
    { type: 'diary', id: input.diaryId },
  );
}

export async function moderationHistory(db: Kysely<Database>, diaryId: string) {
  return db
    .selectFrom('admin.content_moderation_logs as l')
    .leftJoin('admin.admins as a', 'a.id', 'l.admin_id')
    .select(['l.created_at', 'l.action', 'l.reason', 'a.email as by'])
    .where('l.diary_id', '=', diaryId)
    .orderBy('l.created_at')
    .execute();
}

/** Moderation actions since `since`, per operator and action, and per reason (automatic flags have no operator). */
export async function moderationStats(db: Kysely<Database>, options: { since: Date }) {
  const byOperator = await sql<{ operator: string | null; action: string; actions: number }>`
    select a.email as operator, l.action, count(*)::int as actions
    from admin.content_moderation_logs l left join admin.admins a on a.id = l.admin_id
    where l.created_at >= ${options.since}
    group by a.email, l.action order by a.email nulls first, l.action`.execute(db);
  const byReason = await sql<{ reason: string; actions: number; operators: number }>`
    select coalesce(l.reason, '(none)') as reason, count(*)::int as actions, count(distinct l.admin_id)::int as operators
    from admin.content_moderation_logs l
    where l.created_at >= ${options.since}
    group by l.reason order by actions desc, reason limit 50`.execute(db);
  return { since: options.since, byOperator: byOperator.rows, byReason: byReason.rows };
}
