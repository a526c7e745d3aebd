/**
 * Who a fan-out reaches. A segment is a named group of active users (resigned, banned and dormant
 * accounts are never told anything); a fan-out can also name users by id or by any query yielding
 * `user_id`. Every form compiles to one SELECT that the fan-out inserts from — no loop over users.
 *
 * Segments (the seed's "segment marketing" idea, on the subscription of each user):
 * - `everyone`: every active user;
 * - `paid`: a subscription in `active` or `past_due` (still subscribed while a retry is pending);
 * - `trial`: a subscription in `trial`;
 * - `free`: neither (no subscription, or a canceled one);
 * - `inactive:<N>d`: no diary entry and no successful login for N days, and joined before that.
 */
import { type Expression, type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { UsageError } from '../errors.ts';

export type Segment = 'everyone' | 'paid' | 'trial' | 'free' | { inactiveDays: number };

/** Any query whose rows carry the recipient's id as `user_id`. */
export type RecipientQuery = Expression<{ user_id: string }>;

/** A recipient with a dedupe key of their own (e.g. one per slip released), in place of the delivery's. */
export interface KeyedRecipient {
  userId: string;
  dedupeKey: string;
}

export type Audience =
  | { segment: Segment }
  | { userIds: readonly string[] }
  | { query: RecipientQuery }
  | { recipients: readonly KeyedRecipient[] };

export const SEGMENT_NAMES = ['everyone', 'paid', 'trial', 'free', 'inactive:<N>d'] as const;

/** The longest inactivity a segment may ask for: beyond ten years it is a typo. */
const MAX_INACTIVE_DAYS = 3650;

/** `everyone`, `paid`, `trial`, `free` or `inactive:30d` → a segment; anything else is exit 2. */
export function parseSegment(text: string): Segment {
  const t = text.trim();
  if (t === 'everyone' || t === 'paid' || t === 'trial' || t === 'free') return t;
  const inactive = /^inactive:([1-9][0-9]{0,3})d$/.exec(t);
  if (inactive) {
    const days = Number(inactive[1]);
    if (days <= MAX_INACTIVE_DAYS) return { inactiveDays: days };
  }
  throw new UsageError(`unknown segment "${t.slice(0, 40)}"`, {
    hint: `segments: ${SEGMENT_NAMES.join(', ')} (inactive days 1–${MAX_INACTIVE_DAYS})`,
  });
}

export function segmentName(segment: Segment): string {
  return typeof segment === 'string' ? segment : `inactive:${segment.inactiveDays}d`;
}

/** The subscription states that count as paying. */
const PAYING = ['active', 'past_due'] as const;

/** The recipients of a segment, as a query over active users yielding `user_id` (each user once). */
export function segmentQuery(db: Kysely<Database>, segment: Segment) {
  const active = db.selectFrom('users as u').select('u.id as user_id').where('u.state', '=', 'active');
  if (segment === 'everyone') return active;
  if (segment === 'paid' || segment === 'trial') {
    const states = segment === 'paid' ? [...PAYING] : (['trial'] as const);
    return active.where(({ exists, selectFrom }) =>
      exists(
        selectFrom('subscriptions as s')
          .select('s.id')
          .whereRef('s.user_id', '=', 'u.id')
          .where('s.status', 'in', [...states]),
      ),
    );
  }
  if (segment === 'free') {
    return active.where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('subscriptions as s')
            .select('s.id')
            .whereRef('s.user_id', '=', 'u.id')
            .where('s.status', 'in', [...PAYING, 'trial']),
        ),
      ),
    );
  }
  if (
    !Number.isInteger(segment.inactiveDays) ||
    segment.inactiveDays < 1 ||
    segment.inactiveDays > MAX_INACTIVE_DAYS
  ) {
    throw new UsageError(`inactive days must be a whole number from 1 to ${MAX_INACTIVE_DAYS}`);
  }
  const since = sql<Date>`now() - make_interval(days => ${segment.inactiveDays})`;
  return active
    .where('u.created_at', '<', since)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('diary_entries as d')
            .select('d.id')
            .whereRef('d.user_id', '=', 'u.id')
            .where('d.created_at', '>=', since),
        ),
      ),
    )
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('admin.login_logs as l')
            .select('l.id')
            .whereRef('l.user_id', '=', 'u.id')
            .where('l.success', '=', true)
            .where('l.created_at', '>=', since),
        ),
      ),
    );
}

/**
 * The audience as SQL yielding distinct existing users as `user_id`, with `dedupe_key` (null unless
 * each recipient brings their own): ids of no user are skipped (the count written says how many
 * were reached), and a user named twice is told once.
 */
export function audienceSql(db: Kysely<Database>, audience: Audience): RawBuilder<unknown> {
  if ('segment' in audience) {
    return sql`select s.user_id, null::text as dedupe_key from (${segmentQuery(db, audience.segment)}) s`;
  }
  if ('userIds' in audience) {
    return sql`select u.id as user_id, null::text as dedupe_key
      from public.users u where u.id = any(${[...audience.userIds]}::uuid[])`;
  }
  if ('recipients' in audience) {
    return sql`select distinct on (u.id) u.id as user_id, r.dedupe_key
      from unnest(${audience.recipients.map((r) => r.userId)}::uuid[], ${audience.recipients.map((r) => r.dedupeKey)}::text[])
           as r(user_id, dedupe_key)
      join public.users u on u.id = r.user_id`;
  }
  return sql`select distinct q.user_id, null::text as dedupe_key from (${audience.query}) q`;
}
