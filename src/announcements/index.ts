/**
 * Announcements (public.announcements): the articles of the app's notice list, and their fan-out
 * into notifications. An announcement is a draft until published; publishing sets published_at and
 * tells its segment (everyone, paid, free, trial, inactive:<N>d — or nobody when segment is null)
 * through the notifications module in one INSERT … SELECT, in the same transaction, each row linked
 * by announcement_id and keyed `announcement:<id>` — so a retried publish writes only what is
 * missing (users who joined the segment since), never a second copy.
 *
 * States: draft (no published_at) · scheduled (published_at in the future) · live · expired
 * (expires_at passed; start inclusive, end exclusive) · deleted (soft: deleted_at).
 */
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { notifyAll, parseSegment, type Segment, segmentName } from '../notifications/index.ts';

export type AnnouncementState = 'draft' | 'scheduled' | 'live' | 'expired' | 'deleted';

const TAG = /^[\p{L}\p{N}_-]{1,30}$/u;

export function parseTags(text: string | undefined): string[] {
  if (!text) return [];
  const tags = [
    ...new Set(
      text
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  const bad = tags.find((t) => !TAG.test(t));
  if (bad)
    throw new UsageError(`--tags: "${bad.slice(0, 40)}" is not a tag (letters, digits, _ and -, up to 30)`);
  if (tags.length > 10) throw new UsageError('--tags: at most 10');
  return tags;
}

export interface NewAnnouncement {
  title: string;
  /** Markdown. */
  body: string;
  tags?: string[];
  /** Who is notified on publish; null = nobody (the notice list only). */
  segment?: Segment | null;
  expiresAt?: Date | null;
}

export function announcementState(
  row: { published_at: Date | null; expires_at: Date | null; deleted_at: Date | null },
  now = new Date(),
): AnnouncementState {
  if (row.deleted_at) return 'deleted';
  if (!row.published_at) return 'draft';
  if (row.expires_at && row.expires_at <= now) return 'expired';
  if (row.published_at > now) return 'scheduled';
  return 'live';
}

/** The key that makes an announcement's fan-out happen once per recipient. */
export const announcementKey = (id: string) => `announcement:${id}`;

export async function createAnnouncement(db: Kysely<Database>, op: Operation, input: NewAnnouncement) {
  const title = input.title.trim();
  const body = input.body.trim();
  if (!title || title.length > 200) throw new UsageError('--title: 1 to 200 characters');
  if (!body || body.length > 20_000) throw new UsageError('--body: 1 to 20000 characters');
  const segment = input.segment === undefined ? 'everyone' : input.segment;
  return mutate(db, op, 'announce.manage', async (trx) => {
    const row = await trx
      .insertInto('announcements')
      .values({
        title,
        body,
        tags: input.tags ?? [],
        segment: segment === null ? null : segmentName(segment),
        expires_at: input.expiresAt ?? null,
      })
      .returning(['id', 'title', 'tags', 'segment', 'expires_at'])
      .executeTakeFirstOrThrow();
    await writeAudit(trx, op, {
      action: 'announce.create',
      targetType: 'announcement',
      targetId: row.id,
      after: { tags: row.tags, segment: row.segment, expires_at: row.expires_at },
    });
    return row;
  });
}

async function lockAnnouncement(trx: Kysely<Database>, id: string) {
  const row = await trx
    .selectFrom('announcements')
    .select(['id', 'title', 'body', 'segment', 'published_at', 'expires_at', 'deleted_at'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no announcement ${id}`);
  return row;
}

export interface PublishResult {
  id: string;
  publishedAt: Date;
  segment: string | null;
  /** Notifications written now (0 when every recipient already had it). */
  notified: number;
  /** Published before: this run only filled in missing recipients. */
  republished: boolean;
}

/**
 * Publishes (at `at`, default now) and fans out to the announcement's segment (or `segment`, which
 * replaces it) in one transaction with the audit row. Publishing again is a retry: published_at
 * stays, and the fan-out writes only for recipients who do not have it yet.
 */
export async function publishAnnouncement(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; at?: Date; segment?: Segment },
): Promise<PublishResult> {
  return mutate(
    db,
    op,
    'announce.manage',
    async (trx) => {
      const row = await lockAnnouncement(trx, input.id);
      if (row.deleted_at) throw new UsageError(`announcement ${input.id} is deleted`);
      if (announcementState(row) === 'expired') throw new UsageError(`announcement ${input.id} has expired`);
      const republished = row.published_at !== null;
      const publishedAt = row.published_at ?? input.at ?? new Date();
      if (row.expires_at && row.expires_at <= publishedAt)
        throw new UsageError(`announcement ${input.id} expires before it would be published`);
      const segment = input.segment ? segmentName(input.segment) : row.segment;
      await trx
        .updateTable('announcements')
        .set({ published_at: publishedAt, segment })
        .where('id', '=', input.id)
        .execute();
      const notified = segment
        ? await notifyAll(
            trx,
            { segment: parseSegment(segment) },
            {
              kind: 'notice',
              message: { title: row.title, body: summary(row.body) },
              dedupeKey: announcementKey(input.id),
              visibleFrom: publishedAt,
              visibleTo: row.expires_at,
              announcementId: input.id,
            },
          )
        : 0;
      await writeAudit(trx, op, {
        action: 'announce.publish',
        targetType: 'announcement',
        targetId: input.id,
        before: { published_at: row.published_at, segment: row.segment },
        after: { published_at: publishedAt, segment, notified, republished },
      });
      return { id: input.id, publishedAt, segment, notified, republished };
    },
    { type: 'announcement', id: input.id },
  );
}

/** The notification text of an announcement: its first paragraph without markdown marks, ≤ 200 chars. */
export function summary(markdown: string): string {
  const first = markdown.trim().split(/\n\s*\n/)[0] ?? '';
  const plain = first
    .replace(/^#+\s*/gm, '')
    .replace(/[*_`>]/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
  return plain.length > 200 ? `${plain.slice(0, 199)}…` : plain;
}

/**
 * expire: ends a live announcement now; delete: soft-deletes any. Either way its notifications stop
 * showing (visible_to is cut to now) in the same transaction.
 */
export async function endAnnouncement(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; how: 'expire' | 'delete'; reason?: string | null },
) {
  return mutate(
    db,
    op,
    'announce.manage',
    async (trx) => {
      const row = await lockAnnouncement(trx, input.id);
      const now = (await sql<{ now: Date }>`select now() as now`.execute(trx)).rows[0]!.now;
      const state = announcementState(row, now);
      if (state === 'deleted') throw new UsageError(`announcement ${input.id} is already deleted`);
      if (input.how === 'expire' && state !== 'live' && state !== 'scheduled')
        throw new UsageError(`announcement ${input.id} is ${state}; only a published one can expire`);
      await trx
        .updateTable('announcements')
        .set(input.how === 'expire' ? { expires_at: sql`now()` } : { deleted_at: sql`now()` })
        .where('id', '=', input.id)
        .execute();
      const hidden = await sql`
        update public.notifications set visible_to = now()
        where announcement_id = ${input.id} and (visible_to is null or visible_to > now()) and visible_from < now()`.execute(
        trx,
      );
      // Not shown yet (a scheduled announcement): they never will be, so they go.
      const unshown = await sql`
        delete from public.notifications where announcement_id = ${input.id} and visible_from >= now()`.execute(
        trx,
      );
      const notificationsEnded = Number(hidden.numAffectedRows ?? 0n) + Number(unshown.numAffectedRows ?? 0n);
      await writeAudit(trx, op, {
        action: `announce.${input.how}`,
        targetType: 'announcement',
        targetId: input.id,
        before: { state },
        after: { state: input.how === 'expire' ? 'expired' : 'deleted', notificationsEnded },
        reason: input.reason?.trim() || null,
      });
      return {
        id: input.id,
        before: state,
        after: input.how === 'expire' ? 'expired' : 'deleted',
        notificationsEnded,
      };
    },
    { type: 'announcement', id: input.id },
  );
}

export async function listAnnouncements(
  db: Kysely<Database>,
  options: { tag?: string; includeDeleted?: boolean; limit?: number } = {},
) {
  let query = db
    .selectFrom('announcements as a')
    .select([
      'a.id',
      'a.title',
      'a.tags',
      'a.segment',
      'a.published_at',
      'a.expires_at',
      'a.deleted_at',
      'a.created_at',
      (eb) =>
        eb
          .selectFrom('notifications as n')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('n.announcement_id', '=', 'a.id')
          .as('recipients'),
      (eb) =>
        eb
          .selectFrom('notifications as n')
          .select(sql<number>`count(*) filter (where n.read)::int`.as('n'))
          .whereRef('n.announcement_id', '=', 'a.id')
          .as('read'),
    ])
    .orderBy(sql`coalesce(a.published_at, a.created_at)`, 'desc')
    .limit(options.limit ?? 100);
  if (options.tag) query = query.where(sql<boolean>`a.tags @> array[${options.tag}]::text[]`);
  if (!options.includeDeleted) query = query.where('a.deleted_at', 'is', null);
  const now = new Date();
  return (await query.execute()).map((r) => ({
    ...r,
    state: announcementState(r, now),
    recipients: r.recipients ?? 0,
    read: r.read ?? 0,
  }));
}
