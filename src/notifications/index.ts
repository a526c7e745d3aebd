/**
 * The one way to tell a user something: every user-facing message (slip and crisis notes today;
 * billing notices, announcements and support replies next) is written here, as rows of
 * public.notifications that the app shows in the user's inbox.
 *
 * - `notify` writes one user's message, inside the caller's transaction: it commits or rolls back
 *   with the change it tells about.
 * - `notifyAll` fans one message out to an audience (a segment, user ids, a query, or recipients
 *   each with their own dedupe key) in a single INSERT … SELECT — 100,000 recipients are one
 *   statement, never a loop.
 *
 * Each recipient gets a row of their own, so each has their own read state (`read`, `read_at`; the
 * app sets them). A dedupe key makes a send idempotent per recipient: sending again with the same
 * key writes nothing for users who already have it (a retried job, a re-published announcement).
 * Texts are the caller's (in natural Korean, from policy wording or the caller's own module); this
 * module never invents wording and never logs a message.
 */
import { type Kysely, sql } from 'kysely';
import { lockedNow } from '../db/locks.ts';
import type { Database, NotificationsTable } from '../db/types.ts';
import { type Audience, audienceSql } from './audience.ts';

export {
  type Audience,
  type KeyedRecipient,
  parseSegment,
  type RecipientQuery,
  SEGMENT_NAMES,
  type Segment,
  segmentName,
  segmentQuery,
} from './audience.ts';

/** The kinds of message, as the table's CHECK allows them (generated from the schema). */
export type NotificationKind = NotificationsTable['type'];

/** What the user reads: a short title and a body, in Korean. */
export interface UserMessage {
  title: string;
  body: string;
}

export interface Delivery {
  kind: NotificationKind;
  message: UserMessage;
  /** Once per recipient: a later send with the same key writes nothing for that recipient. */
  dedupeKey?: string;
  /** Shown from this instant; default: the instant of writing (see `lockedNow`). */
  visibleFrom?: Date;
  /** Shown until this instant (exclusive); default: for good. */
  visibleTo?: Date | null;
  /** The announcement this message publishes (read rates per announcement). */
  announcementId?: string;
  /** The event this message is about. */
  eventId?: string;
}

/**
 * Tells one user, in the caller's transaction. Returns the new notification's id, or null when the
 * dedupe key was already used for this user. The user must exist (the foreign key refuses others).
 */
export async function notify(
  db: Kysely<Database>,
  userId: string,
  delivery: Delivery,
): Promise<string | null> {
  const row = await db
    .insertInto('notifications')
    .values({
      user_id: userId,
      type: delivery.kind,
      title: delivery.message.title,
      message: delivery.message.body,
      dedupe_key: delivery.dedupeKey ?? null,
      created_at: lockedNow,
      visible_from: delivery.visibleFrom ?? lockedNow,
      visible_to: delivery.visibleTo ?? null,
      announcement_id: delivery.announcementId ?? null,
      event_id: delivery.eventId ?? null,
    })
    .onConflict((oc) => oc.columns(['user_id', 'dedupe_key']).where('dedupe_key', 'is not', null).doNothing())
    .returning('id')
    .executeTakeFirst();
  return row?.id ?? null;
}

/**
 * Tells every user of the audience, in one INSERT … SELECT inside the caller's transaction. Returns
 * how many notifications were written (recipients who already had the dedupe key are not counted).
 * Every row carries the same instant: the clock read once when the statement runs.
 */
export async function notifyAll(
  db: Kysely<Database>,
  audience: Audience,
  delivery: Delivery,
): Promise<number> {
  const visibleFrom = delivery.visibleFrom ? sql`${delivery.visibleFrom}::timestamptz` : sql`at.t`;
  const result = await sql`
    with at as (select clock_timestamp() as t)
    insert into public.notifications
      (user_id, type, title, message, dedupe_key, created_at, visible_from, visible_to, announcement_id, event_id)
    select r.user_id, ${delivery.kind}, ${delivery.message.title}, ${delivery.message.body},
           coalesce(r.dedupe_key, ${delivery.dedupeKey ?? null}::text), at.t, ${visibleFrom}, ${delivery.visibleTo ?? null}::timestamptz,
           ${delivery.announcementId ?? null}::uuid, ${delivery.eventId ?? null}::uuid
    from (${audienceSql(db, audience)}) r cross join at
    on conflict (user_id, dedupe_key) where dedupe_key is not null do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}
