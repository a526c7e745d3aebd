/**
 * Operator messages outside announcements (`sumda notify send`): a system or event message to one
 * user or a segment, through the notifications module's set-based fan-out, audited with its count;
 * and the read-rate report (`sumda notify stats`) by type and by announcement — true rates, since
 * every recipient has a row and a read state of their own.
 */
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { audienceSql } from '../notifications/audience.ts';
import { type Audience, notifyAll, type Segment, segmentName } from '../notifications/index.ts';

/** The kinds an operator may send by hand; slip, crisis, billing and report messages belong to their modules. */
export const SENDABLE_KINDS = ['system', 'event', 'notice'] as const;
export type SendableKind = (typeof SENDABLE_KINDS)[number];

export interface Send {
  to: { userId: string } | { segment: Segment };
  kind: SendableKind;
  title: string;
  body: string;
  visibleFrom?: Date;
  visibleTo?: Date | null;
  eventId?: string;
  /** Makes the send idempotent: sending again with the same key reaches only those who lack it. */
  key?: string;
}

function audienceOf(send: Send): Audience {
  return 'userId' in send.to ? { userIds: [send.to.userId] } : { segment: send.to.segment };
}

export function validateSend(send: Send): void {
  if (!(SENDABLE_KINDS as readonly string[]).includes(send.kind))
    throw new UsageError(`--type ${send.kind}: one of ${SENDABLE_KINDS.join(', ')}`);
  if (!send.title.trim() || send.title.length > 200) throw new UsageError('--title: 1 to 200 characters');
  if (!send.body.trim() || send.body.length > 2000) throw new UsageError('--body: 1 to 2000 characters');
  if (send.visibleFrom && send.visibleTo && send.visibleTo <= send.visibleFrom)
    throw new UsageError('--visible-to must be after --visible-from');
  if (send.key !== undefined && !/^[\w:.-]{1,100}$/.test(send.key))
    throw new UsageError('--key: 1 to 100 of letters, digits, _ : . -');
}

/** How many users a send would reach (the same SELECT the fan-out inserts from). */
export async function countRecipients(db: Kysely<Database>, send: Send): Promise<number> {
  const r = await sql<{
    n: number;
  }>`select count(*)::int as n from (${audienceSql(db, audienceOf(send))}) a`.execute(db);
  return r.rows[0]!.n;
}

export async function sendNotification(db: Kysely<Database>, op: Operation, send: Send) {
  validateSend(send);
  const target =
    'userId' in send.to
      ? { type: 'user', id: send.to.userId }
      : { type: 'segment', id: segmentName(send.to.segment) };
  return mutate(
    db,
    op,
    'notify.send',
    async (trx) => {
      if ('userId' in send.to) {
        const user = await trx
          .selectFrom('users')
          .select('id')
          .where('id', '=', send.to.userId)
          .executeTakeFirst();
        if (!user) throw new NotFoundError(`no user ${send.to.userId}`);
      }
      if (send.eventId) {
        const event = await trx
          .selectFrom('admin.events')
          .select('id')
          .where('id', '=', send.eventId)
          .executeTakeFirst();
        if (!event) throw new NotFoundError(`no event ${send.eventId}`);
      }
      const sent = await notifyAll(trx, audienceOf(send), {
        kind: send.kind,
        message: { title: send.title.trim(), body: send.body.trim() },
        ...(send.key ? { dedupeKey: `send:${send.key}` } : {}),
        ...(send.visibleFrom ? { visibleFrom: send.visibleFrom } : {}),
        visibleTo: send.visibleTo ?? null,
        ...(send.eventId ? { eventId: send.eventId } : {}),
      });
      await writeAudit(trx, op, {
        action: 'notify.send',
        targetType: target.type,
        targetId: target.id,
        after: { kind: send.kind, sent, key: send.key ?? null, event_id: send.eventId ?? null },
      });
      return { sent, to: target };
    },
    target,
  );
}

const rate = (read: number, sent: number) => (sent > 0 ? Math.round((read / sent) * 1000) / 1000 : null);

/** Read rates by type, and by announcement, of notifications created since `since`. */
export async function notificationStats(db: Kysely<Database>, options: { since: Date; kind?: string }) {
  const kind = options.kind ? sql`and n.type = ${options.kind}` : sql``;
  const byType = await sql<{ type: string; sent: number; read: number; recipients: number }>`
    select n.type, count(*)::int as sent, count(*) filter (where n.read)::int as read,
           count(distinct n.user_id)::int as recipients
    from public.notifications n where n.created_at >= ${options.since} ${kind}
    group by n.type order by n.type`.execute(db);
  const byAnnouncement = await sql<{ id: string; title: string; sent: number; read: number }>`
    select a.id, a.title, count(*)::int as sent, count(*) filter (where n.read)::int as read
    from public.notifications n join public.announcements a on a.id = n.announcement_id
    where n.created_at >= ${options.since} ${kind}
    group by a.id, a.title order by min(n.created_at) desc`.execute(db);
  return {
    since: options.since,
    byType: byType.rows.map((r) => ({ ...r, readRate: rate(r.read, r.sent) })),
    byAnnouncement: byAnnouncement.rows.map((r) => ({ ...r, readRate: rate(r.read, r.sent) })),
  };
}
