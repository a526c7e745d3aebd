/**
 * The support desk over admin.support_inquiries and admin.support_responses: the queue, one ticket's
 * thread, replies (the member is told through the notifications module), assignment, close and
 * reopen, and the SLA report of the seed's scenario (first-response and resolution times).
 *
 * Glossary
 * - *open*: waiting for us; *pending*: we replied and wait for the member; *closed*: resolved.
 *   A reply moves open → pending; a member's follow-up (the app) or `reopen` moves it back to open.
 * - *first response*: the instant of the first operator reply, stamped by the database
 *   (first_response_at, set by the insert trigger of support_responses).
 * - *resolution*: closed_at − created_at of a closed ticket (the last close, after any reopen).
 *
 * Audit rows carry states and ids; reply texts stay in the thread, never in the audit trail.
 */
import { type Kysely, sql } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';
import { notify } from '../notifications/index.ts';

export const INQUIRY_STATUSES = ['open', 'pending', 'closed'] as const;
export type InquiryStatus = (typeof INQUIRY_STATUSES)[number];
export const INQUIRY_CATEGORIES = ['payment', 'account', 'bug', 'diary', 'other'] as const;
export type InquiryCategory = (typeof INQUIRY_CATEGORIES)[number];

/** The longest reply we accept: a support answer, not a document. */
export const MAX_REPLY_LENGTH = 10_000;

/** What the member reads in the app when an operator replied (the reply itself is in the thread). */
export const REPLY_NOTICE = {
  title: '문의하신 내용에 답변이 도착했어요',
  body: '고객센터에서 답변을 남겼어요. 앱의 고객센터 > 내 문의에서 확인해 주세요.',
} as const;

export async function listInquiries(
  db: Kysely<Database>,
  filter: { status?: InquiryStatus; category?: InquiryCategory; assigneeId?: string; limit?: number } = {},
) {
  let query = db
    .selectFrom('admin.support_inquiries as i')
    .leftJoin('admin.admins as a', 'a.id', 'i.assignee_id')
    .select([
      'i.id',
      'i.user_id',
      'i.category',
      'i.status',
      'i.created_at',
      'i.first_response_at',
      'i.closed_at',
      'a.email as assignee',
      sql<string>`left(i.message, 60)`.as('excerpt'),
      (eb) =>
        eb
          .selectFrom('admin.support_responses as r')
          .select(sql<number>`count(*)::int`.as('n'))
          .whereRef('r.inquiry_id', '=', 'i.id')
          .as('replies'),
    ])
    .orderBy('i.created_at')
    .limit(filter.limit ?? 100);
  if (filter.status) query = query.where('i.status', '=', filter.status);
  else query = query.where('i.status', '<>', 'closed');
  if (filter.category) query = query.where('i.category', '=', filter.category);
  if (filter.assigneeId) query = query.where('i.assignee_id', '=', filter.assigneeId);
  return query.execute();
}

export async function showInquiry(db: Kysely<Database>, id: string) {
  const inquiry = await db
    .selectFrom('admin.support_inquiries as i')
    .leftJoin('admin.admins as a', 'a.id', 'i.assignee_id')
    .select([
      'i.id',
      'i.user_id',
      'i.category',
      'i.status',
      'i.message',
      'i.created_at',
      'i.first_response_at',
      'i.closed_at',
      'a.email as assignee',
    ])
    .where('i.id', '=', id)
    .executeTakeFirst();
  if (!inquiry) throw new NotFoundError(`no support inquiry ${id}`);
  const thread = await db
    .selectFrom('admin.support_responses as r')
    .leftJoin('admin.admins as a', 'a.id', 'r.admin_id')
    .select(['r.id', 'r.created_at', 'a.email as by', 'r.response'])
    .where('r.inquiry_id', '=', id)
    .orderBy('r.created_at')
    .orderBy('r.id')
    .execute();
  return { ...inquiry, thread };
}

async function lockInquiry(trx: Kysely<Database>, id: string) {
  const row = await trx
    .selectFrom('admin.support_inquiries')
    .select(['id', 'user_id', 'status', 'assignee_id'])
    .where('id', '=', id)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no support inquiry ${id}`);
  return row;
}

/**
 * Records an operator's reply, moves the ticket to pending (assigning it to the replier when nobody
 * has it) and tells the member in the app — all in one transaction with the audit row.
 */
export async function replyInquiry(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; message: string },
) {
  const text = input.message.trim();
  if (!text) throw new UsageError('the reply is empty; nothing was sent');
  if (text.length > MAX_REPLY_LENGTH)
    throw new UsageError(`the reply is longer than ${MAX_REPLY_LENGTH} characters; nothing was sent`);
  return mutate(
    db,
    op,
    'support.reply',
    async (trx, op) => {
      const inquiry = await lockInquiry(trx, input.id);
      if (inquiry.status === 'closed')
        throw new UsageError(`inquiry ${input.id} is closed`, {
          hint: 'reopen it first: sumda support reopen',
        });
      const response = await trx
        .insertInto('admin.support_responses')
        .values({ inquiry_id: input.id, admin_id: op.actor.id, response: text })
        .returning(['id', 'created_at'])
        .executeTakeFirstOrThrow();
      const assignee = inquiry.assignee_id ?? op.actor.id;
      await trx
        .updateTable('admin.support_inquiries')
        .set({ status: 'pending', assignee_id: assignee })
        .where('id', '=', input.id)
        .execute();
      const notified = inquiry.user_id
        ? await notify(trx, inquiry.user_id, {
            kind: 'system',
            message: REPLY_NOTICE,
            dedupeKey: `support-reply:${response.id}`,
          })
        : null;
      await writeAudit(trx, op, {
        action: 'support.reply',
        targetType: 'support_inquiry',
        targetId: input.id,
        before: { status: inquiry.status, assignee_id: inquiry.assignee_id },
        after: {
          status: 'pending',
          assignee_id: assignee,
          response_id: response.id,
          length: text.length,
          notified: notified !== null,
        },
      });
      return {
        id: input.id,
        responseId: response.id,
        before: inquiry.status,
        after: 'pending',
        notified: notified !== null,
      };
    },
    { type: 'support_inquiry', id: input.id },
  );
}

/** Gives the ticket to an operator (by admin id), or takes it from whoever has it (null). */
export async function assignInquiry(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; assigneeEmail: string | null },
) {
  return mutate(
    db,
    op,
    'support.assign',
    async (trx) => {
      let assigneeId: string | null = null;
      if (input.assigneeEmail !== null) {
        const admin = await trx
          .selectFrom('admin.admins')
          .select(['id', 'disabled_at'])
          .where(sql<string>`lower(email)`, '=', input.assigneeEmail.toLowerCase())
          .executeTakeFirst();
        if (!admin) throw new NotFoundError(`no operator ${input.assigneeEmail}`);
        if (admin.disabled_at) throw new UsageError(`operator ${input.assigneeEmail} is disabled`);
        assigneeId = admin.id;
      }
      const inquiry = await lockInquiry(trx, input.id);
      if (inquiry.assignee_id === assigneeId)
        throw new UsageError(
          assigneeId
            ? `inquiry ${input.id} already is ${input.assigneeEmail}'s`
            : `inquiry ${input.id} is not assigned`,
        );
      await trx
        .updateTable('admin.support_inquiries')
        .set({ assignee_id: assigneeId })
        .where('id', '=', input.id)
        .execute();
      await writeAudit(trx, op, {
        action: 'support.assign',
        targetType: 'support_inquiry',
        targetId: input.id,
        before: { assignee_id: inquiry.assignee_id },
        after: { assignee_id: assigneeId },
      });
      return { id: input.id, before: inquiry.assignee_id, after: assigneeId };
    },
    { type: 'support_inquiry', id: input.id },
  );
}

/** close: open/pending → closed (closed_at now); reopen: closed → open (closed_at cleared). */
export async function setInquiryClosed(
  db: Kysely<Database>,
  op: Operation,
  input: { id: string; close: boolean; reason?: string | null },
) {
  const action = input.close ? 'support.close' : 'support.reopen';
  return mutate(
    db,
    op,
    'support.close',
    async (trx) => {
      const inquiry = await lockInquiry(trx, input.id);
      if (input.close === (inquiry.status === 'closed'))
        throw new UsageError(
          `inquiry ${input.id} is ${inquiry.status}; cannot ${input.close ? 'close' : 'reopen'} it`,
        );
      const next = input.close ? 'closed' : 'open';
      await trx
        .updateTable('admin.support_inquiries')
        .set({ status: next, closed_at: input.close ? sql`now()` : null })
        .where('id', '=', input.id)
        .execute();
      await writeAudit(trx, op, {
        action,
        targetType: 'support_inquiry',
        targetId: input.id,
        before: { status: inquiry.status },
        after: { status: next },
        reason: input.reason?.trim() || null,
      });
      return { id: input.id, before: inquiry.status, after: next };
    },
    { type: 'support_inquiry', id: input.id },
  );
}

export interface SlaRow {
  /** The category, or the operator's e-mail. */
  key: string;
  tickets: number;
  open: number;
  answered: number;
  /** Seconds from creation to the first reply. */
  firstResponseP50: number | null;
  firstResponseP90: number | null;
  closed: number;
  /** Seconds from creation to close. */
  resolutionP50: number | null;
  resolutionP90: number | null;
}

const round = (v: number | string | null) => (v === null ? null : Math.round(Number(v)));

/**
 * The SLA report over tickets created since `since`: per category, and per operator (the operator
 * who gave each ticket its first reply), first-response and resolution times at p50 and p90.
 */
export async function supportStats(db: Kysely<Database>, options: { since: Date }) {
  const rows = await sql<{
    dimension: 'category' | 'operator';
    key: string;
    tickets: number;
    open: number;
    answered: number;
    fr50: number | null;
    fr90: number | null;
    closed: number;
    res50: number | null;
    res90: number | null;
  }>`
    with t as (
      select i.*, extract(epoch from i.first_response_at - i.created_at) as fr,
             case when i.status = 'closed' then extract(epoch from i.closed_at - i.created_at) end as res,
             (select a.email from admin.support_responses r join admin.admins a on a.id = r.admin_id
              where r.inquiry_id = i.id order by r.created_at, r.id limit 1) as first_by
      from admin.support_inquiries i where i.created_at >= ${options.since}
    ), d as (
      select 'category' as dimension, category as key, t.* from t
      union all
      select 'operator', first_by, t.* from t where first_by is not null
    )
    select dimension, key, count(*)::int as tickets,
           count(*) filter (where status <> 'closed')::int as open,
           count(fr)::int as answered,
           percentile_cont(0.5) within group (order by fr) as fr50,
           percentile_cont(0.9) within group (order by fr) as fr90,
           count(res)::int as closed,
           percentile_cont(0.5) within group (order by res) as res50,
           percentile_cont(0.9) within group (order by res) as res90
    from d group by dimension, key order by dimension, key`.execute(db);
  const toRow = (r: (typeof rows.rows)[number]): SlaRow => ({
    key: r.key,
    tickets: r.tickets,
    open: r.open,
    answered: r.answered,
    firstResponseP50: round(r.fr50),
    firstResponseP90: round(r.fr90),
    closed: r.closed,
    resolutionP50: round(r.res50),
    resolutionP90: round(r.res90),
  });
  return {
    since: options.since,
    byCategory: rows.rows.filter((r) => r.dimension === 'category').map(toRow),
    byOperator: rows.rows.filter((r) => r.dimension === 'operator').map(toRow),
  };
}
