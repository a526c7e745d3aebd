/**
 * Operators and slips: list, show (evidence and scores, never diary text), release, override,
 * review, statistics. Every change is audited in the same transaction and sets the seed's
 * override_by / override_reason (a release has its own released_by / release_reason); the user is told whenever their AI reading pauses or resumes.
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import { lockedNow, lockFor, lockNames } from '../db/locks.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { notify } from '../notifications/index.ts';
import type { PolicyResolver } from '../policy/resolver.ts';
import { parseDuration, toPgInterval } from '../time/grammar.ts';
import type { SlipStatus } from './evaluate.ts';
import { slipMessage } from './messages.ts';

export interface SlipFilter {
  status?: 'open' | 'released' | 'warning' | 'slipped' | 'normal' | 'awaiting-review' | 'all';
  since?: Date;
  userId?: string;
  limit?: number;
}

export async function listSlips(db: Kysely<Database>, filter: SlipFilter = {}) {
  let query = db
    .selectFrom('admin.slip_conditions as s')
    .leftJoin('admin.admins as o', 'o.id', 's.override_by')
    .leftJoin('admin.admins as r', 'r.id', 's.reviewed_by')
    .select([
      's.id',
      's.user_id',
      's.status',
      's.source',
      's.duration',
      's.triggered_at',
      's.released_at',
      's.release_reason',
      sql<string | null>`s.metrics->>'rule'`.as('rule'),
      sql<number | null>`(s.metrics->>'score')::int`.as('score'),
      sql<boolean>`coalesce((s.metrics->>'crisis')::boolean, false)`.as('crisis'),
      sql<Date | null>`case when s.duration is not null then s.triggered_at + s.duration end`.as('ends_at'),
      'o.email as override_by',
      's.override_reason',
      'r.email as reviewed_by',
      's.review_outcome',
    ])
    .orderBy('s.triggered_at', 'desc')
    .limit(filter.limit ?? 100);
  const status = filter.status ?? 'open';
  if (status === 'open') query = query.where('s.released_at', 'is', null);
  else if (status === 'released') query = query.where('s.released_at', 'is not', null);
  else if (status === 'awaiting-review') {
    query = query
      .where('s.source', '=', 'auto')
      .where('s.status', '=', 'slipped')
      .where('s.reviewed_at', 'is', null)
      // Only slips still running: one that ended (time, override) has nothing left to decide.
      .where('s.released_at', 'is', null);
  } else if (status !== 'all') query = query.where('s.status', '=', status);
  if (filter.since) query = query.where('s.triggered_at', '>=', filter.since);
  if (filter.userId) query = query.where('s.user_id', '=', filter.userId);
  return query.execute();
}

export async function showSlip(db: Kysely<Database>, id: string) {
  const slip = await db
    .selectFrom('admin.slip_conditions as s')
    .leftJoin('admin.admins as o', 'o.id', 's.override_by')
    .leftJoin('admin.admins as r', 'r.id', 's.reviewed_by')
    .leftJoin('admin.admins as rel', 'rel.id', 's.released_by')
    .selectAll('s')
    .select([
      'o.email as override_by_email',
      'rel.email as released_by_email',
      'r.email as reviewed_by_email',
      sql<Date | null>`case when s.duration is not null then s.triggered_at + s.duration end`.as('ends_at'),
    ])
    .where('s.id', '=', id)
    .executeTakeFirst();
  if (!slip) throw new NotFoundError(`no slip ${id}`, { hint: 'see `sumda slip list --status all`' });
  const notifications = await db
    .selectFrom('notifications')
    .select(['type', 'title', 'created_at', 'read', 'dedupe_key'])
    .where('dedupe_key', 'like', `slip:${id}:%`)
    .orderBy('created_at')
    .execute();
  const history = await db
    .selectFrom('admin.slip_conditions')
    .select(['id', 'status', 'source', 'triggered_at', 'released_at', 'release_reason'])
    .where('user_id', '=', slip.user_id)
    .orderBy('triggered_at', 'desc')
    .limit(10)
    .execute();
  return { slip, notifications, history };
}

async function lockOpen(trx: Kysely<Database>, userId: string) {
  await lockFor(trx, lockNames.userSlip(userId));
  return trx
    .selectFrom('admin.slip_conditions')
    .select(['id', 'status', 'source', 'triggered_at', 'duration', 'released_at'])
    .where('user_id', '=', userId)
    .where('released_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
}

/** Ends a condition now; a slipped user is told their AI reading is back. */
export async function releaseSlip(
  db: Kysely<Database>,
  resolver: PolicyResolver,
  op: Operation,
  id: string,
  reason: string,
) {
  if (!reason.trim()) throw new UsageError('--reason is required');
  return mutate(
    db,
    op,
    'slip.release',
    async (trx, op) => {
      const row = await trx
        .selectFrom('admin.slip_conditions')
        .select(['user_id'])
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) throw new NotFoundError(`no slip ${id}`);
      const open = await lockOpen(trx, row.user_id);
      if (!open || open.id !== id) throw new UsageError(`slip ${id} is not open (already released)`);
      // The release has its own actor and reason: an override's reason on the row stays as it was,
      // and a review already made (a confirmation) is not rewritten.
      await trx
        .updateTable('admin.slip_conditions')
        .set({
          released_at: lockedNow,
          release_reason: reason,
          released_by: op.actor.id,
          reviewed_by: sql<string>`coalesce(reviewed_by, ${op.actor.id}::uuid)`,
          reviewed_at: sql<Date>`coalesce(reviewed_at, now())`,
          review_outcome: sql<'released' | 'confirmed'>`coalesce(review_outcome, 'released')`,
        })
        .where('id', '=', id)
        .execute();
      if (open.status === 'slipped') {
        const { slip } = (await resolver.resolve({ userId: row.user_id })).configs;
        await notify(trx, row.user_id, {
          kind: 'slip',
          message: slipMessage(slip, 'released'),
          dedupeKey: `slip:${id}:released`,
        });
      }
      await writeAudit(trx, op, {
        action: 'slip.release',
        targetType: 'slip',
        targetId: id,
        before: { status: open.status, released_at: null },
        after: { released_at: 'now', review_outcome: 'released' },
        reason,
      });
      return { id, userId: row.user_id, status: open.status };
    },
    { type: 'slip', id },
  );
}

/** Confirms an automated slip after a human look (it runs its course). */
export async function confirmSlip(db: Kysely<Database>, op: Operation, id: string, reason: string) {
  if (!reason.trim()) throw new UsageError('--reason is required');
  return mutate(
    db,
    op,
    'slip.review',
    async (trx, op) => {
      const row = await trx
        .selectFrom('admin.slip_conditions')
        .select(['id', 'status', 'reviewed_at', 'released_at'])
        .where('id', '=', id)
        .forUpdate()
        .executeTakeFirst();
      if (!row) throw new NotFoundError(`no slip ${id}`);
      if (row.released_at) {
        throw new UsageError(
          `slip ${id} was already released (${row.released_at.toISOString()}); there is nothing to confirm`,
        );
      }
      if (row.reviewed_at) throw new UsageError(`slip ${id} was already reviewed`);
      await trx
        .updateTable('admin.slip_conditions')
        .set({ reviewed_by: op.actor.id, reviewed_at: sql<Date>`now()`, review_outcome: 'confirmed' })
        .where('id', '=', id)
        .execute();
      await writeAudit(trx, op, {
        action: 'slip.review',
        targetType: 'slip',
        targetId: id,
        before: { review_outcome: null },
        after: { review_outcome: 'confirmed' },
        reason,
      });
      return { id };
    },
    { type: 'slip', id },
  );
}

/**
 * Sets a user's state by hand: `normal` for a while stops automatic slips (crisis resources are
 * still shown), `warning`/`slipped` start one. Whatever was open is closed first.
 */
export async function overrideSlip(
  db: Kysely<Database>,
  resolver: PolicyResolver,
  op: Operation,
  input: { userId: string; status: SlipStatus; reason: string; for?: string },
) {
  if (!input.reason.trim()) throw new UsageError('--reason is required');
  await authorize(db, op, 'slip.override', { type: 'user', id: input.userId });
  const user = await db.selectFrom('users').select('id').where('id', '=', input.userId).executeTakeFirst();
  if (!user) throw new NotFoundError(`no user ${input.userId}`);
  const { slip } = (await resolver.resolve({ userId: input.userId })).configs;
  const duration = input.for ?? (input.status === 'normal' ? '24h' : slip.durations[input.status]);
  const ms = parseDuration(duration, '--for');
  return mutate(
    db,
    op,
    'slip.override',
    async (trx, op) => {
      const open = await lockOpen(trx, input.userId);
      if (open) {
        await trx
          .updateTable('admin.slip_conditions')
          .set({
            released_at: lockedNow,
            release_reason: `operator override to ${input.status}: ${input.reason}`,
            released_by: op.actor.id,
          })
          .where('id', '=', open.id)
          .execute();
      }
      const row = await trx
        .insertInto('admin.slip_conditions')
        .values({
          user_id: input.userId,
          status: input.status,
          source: 'operator',
          triggered_at: lockedNow,
          duration: toPgInterval(ms),
          metrics: JSON.stringify({
            rule: 'operator_override',
            previous: open ? { id: open.id, status: open.status } : null,
          }),
          override_by: op.actor.id,
          override_reason: input.reason,
        })
        .returning(['id', 'triggered_at'])
        .executeTakeFirstOrThrow();
      if (input.status !== 'normal') {
        await notify(trx, input.userId, {
          kind: 'slip',
          message: slipMessage(slip, input.status, {
            duration,
            until: new Date(row.triggered_at.getTime() + ms),
          }),
          dedupeKey: `slip:${row.id}:open`,
        });
      } else if (open?.status === 'slipped') {
        await notify(trx, input.userId, {
          kind: 'slip',
          message: slipMessage(slip, 'released'),
          dedupeKey: `slip:${open.id}:released`,
        });
      }
      await writeAudit(trx, op, {
        action: 'slip.override',
        targetType: 'user',
        targetId: input.userId,
        before: open ? { slip_id: open.id, status: open.status } : { status: 'normal' },
        after: { slip_id: row.id, status: input.status, for: duration },
        reason: input.reason,
      });
      return { id: row.id, previous: open?.status ?? null, status: input.status, for: duration };
    },
    { type: 'user', id: input.userId },
  );
}

export interface SlipStats {
  perDay: { day: string; warnings: number; slips: number; crisis: number }[];
  medianDurationHours: number | null;
  byOperator: { operator: string; releases: number; overrides: number; confirmations: number }[];
  reSlipRate: number | null;
  slippedUsers: number;
  awaitingReview: number;
}

export async function slipStats(db: Kysely<Database>, since: Date): Promise<SlipStats> {
  const perDay = await sql<{ day: string; warnings: number; slips: number; crisis: number }>`
    select (triggered_at at time zone 'Asia/Seoul')::date::text as day,
           count(*) filter (where status = 'warning')::int as warnings,
           count(*) filter (where status = 'slipped')::int as slips,
           0 as crisis
    from admin.slip_conditions where triggered_at >= ${since} and source = 'auto'
    group by 1 order by 1`.execute(db);
  // Crisis notes are shown whatever the slip decision, mostly without any slip row: count the notes.
  const crisisPerDay = await sql<{ day: string; n: number }>`
    select (created_at at time zone 'Asia/Seoul')::date::text as day, count(*)::int as n
    from public.notifications where type = 'crisis' and created_at >= ${since}
    group by 1`.execute(db);
  const days = new Map(perDay.rows.map((d) => [d.day, d]));
  for (const c of crisisPerDay.rows) {
    const day = days.get(c.day) ?? { day: c.day, warnings: 0, slips: 0, crisis: 0 };
    day.crisis = c.n;
    days.set(c.day, day);
  }
  const merged = [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
  const median = await sql<{ hours: number | null }>`
    select round((percentile_cont(0.5) within group (order by extract(epoch from released_at - triggered_at)) / 3600)::numeric, 2)::float8 as hours
    from admin.slip_conditions
    where triggered_at >= ${since} and status = 'slipped' and source = 'auto' and released_at is not null`.execute(
    db,
  );
  const byOperator = await sql<{
    operator: string;
    releases: number;
    overrides: number;
    confirmations: number;
  }>`
    select a.email as operator,
           count(*) filter (where l.action = 'slip.release')::int as releases,
           count(*) filter (where l.action = 'slip.override')::int as overrides,
           count(*) filter (where l.action = 'slip.review')::int as confirmations
    from admin.audit_log l join admin.admins a on a.id = l.actor_id
    where l.action in ('slip.release', 'slip.override', 'slip.review') and l.outcome = 'success' and l.at >= ${since}
    group by 1 order by 2 desc, 1`.execute(db);
  const reslip = await sql<{ slipped: number; again: number }>`
    select count(*)::int as slipped, count(*) filter (where n > 1)::int as again
    from (select user_id, count(*) as n from admin.slip_conditions
          where triggered_at >= ${since} and status = 'slipped' and source = 'auto' group by user_id) u`.execute(
    db,
  );
  const waiting = await sql<{ n: number }>`
    select count(*)::int as n from admin.slip_conditions
    where source = 'auto' and status = 'slipped' and reviewed_at is null and released_at is null`.execute(db);
  const r = reslip.rows[0]!;
  return {
    perDay: merged,
    medianDurationHours: median.rows[0]?.hours ?? null,
    byOperator: byOperator.rows,
    reSlipRate: r.slipped > 0 ? Math.round((r.again / r.slipped) * 1000) / 1000 : null,
    slippedUsers: r.slipped,
    awaitingReview: waiting.rows[0]?.n ?? 0,
  };
}
