/**
 * Account states (users.state: active / inactive / resigned / banned), changed by operators with a
 * reason: the change, its admin.user_status_logs row and its audit row commit together. `showUser`
 * is the support view of one account: no diary text, no private analysis metadata.
 */
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';

export const USER_STATES = ['active', 'inactive', 'resigned', 'banned'] as const;
export type UserState = (typeof USER_STATES)[number];

export async function setUserState(
  db: Kysely<Database>,
  op: Operation,
  input: { userId: string; state: UserState; reason: string },
) {
  if (!input.reason.trim()) throw new UsageError('--reason is required');
  return mutate(
    db,
    op,
    'user.set_state',
    async (trx, op) => {
      const user = await trx
        .selectFrom('users')
        .select(['id', 'state'])
        .where('id', '=', input.userId)
        .forUpdate()
        .executeTakeFirst();
      if (!user) throw new NotFoundError(`no user ${input.userId}`);
      if (user.state === input.state) throw new UsageError(`user ${input.userId} already is ${input.state}`);
      await trx.updateTable('users').set({ state: input.state }).where('id', '=', input.userId).execute();
      await trx
        .insertInto('admin.user_status_logs')
        .values({
          user_id: input.userId,
          old_state: user.state,
          new_state: input.state,
          changed_by: op.actor.id,
          reason: input.reason,
        })
        .execute();
      await writeAudit(trx, op, {
        action: 'user.set_state',
        targetType: 'user',
        targetId: input.userId,
        before: { state: user.state },
        after: { state: input.state },
        reason: input.reason,
      });
      return { id: input.userId, before: user.state, after: input.state };
    },
    { type: 'user', id: input.userId },
  );
}

export async function showUser(db: Kysely<Database>, userId: string) {
  const user = await db
    .selectFrom('users')
    .select([
      'id',
      'nickname',
      'email',
      'state',
      'created_at',
      sql<boolean>`password_hash is null`.as('social_login'),
    ])
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!user) throw new NotFoundError(`no user ${userId}`);
  const [subscription, counts, slip, states, points, tickets] = await Promise.all([
    db
      .selectFrom('subscriptions')
      .select(['plan', 'status', 'start_date', 'next_billing_at', 'cancel_at'])
      .where('user_id', '=', userId)
      .executeTakeFirst(),
    sql<{ diaries: number; analyses: number; flagged: number; last_written: Date | null }>`
      select (select count(*) from public.diary_entries where user_id = ${userId})::int as diaries,
             (select count(*) from public.analysis_results where user_id = ${userId})::int as analyses,
             (select count(*) from public.diary_entries where user_id = ${userId} and flagged_at is not null)::int as flagged,
             (select max(created_at) from public.diary_entries where user_id = ${userId}) as last_written`.execute(
      db,
    ),
    db
      .selectFrom('admin.slip_conditions')
      .select(['id', 'status', 'source', 'triggered_at'])
      .where('user_id', '=', userId)
      .where('released_at', 'is', null)
      .executeTakeFirst(),
    db
      .selectFrom('admin.user_status_logs as l')
      .leftJoin('admin.admins as a', 'a.id', 'l.changed_by')
      .select(['l.changed_at', 'l.old_state', 'l.new_state', 'l.reason', 'a.email as by'])
      .where('l.user_id', '=', userId)
      .orderBy('l.changed_at', 'desc')
      .limit(10)
      .execute(),
    db
      .selectFrom('user_points_ledger')
      .select(['balance_after', 'created_at'])
      .where('user_id', '=', userId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst(),
    db
      .selectFrom('admin.support_inquiries')
      .select(['id', 'category', 'status', 'created_at'])
      .where('user_id', '=', userId)
      .where('status', '<>', 'closed')
      .orderBy('created_at')
      .execute(),
  ]);
  return {
    user,
    subscription: subscription ?? null,
    activity: counts.rows[0]!,
    openSlip: slip ?? null,
    points: { balance: Number(points?.balance_after ?? 0), lastAt: points?.created_at ?? null },
    openTickets: tickets,
    stateHistory: states,
  };
}
