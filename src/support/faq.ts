/**
 * The FAQ of the app's support screen (public.support_faq): entries by category, smaller order_no
 * first, hidden rather than deleted (is_active). Every change is audited with the fields it changed.
 */
import type { Kysely } from 'kysely';
import { mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, UsageError } from '../errors.ts';

/** Gap between consecutive order numbers, so an entry can later slot in between without renumbering. */
const ORDER_STEP = 10;

function text(value: string, flag: string, max: number): string {
  const t = value.trim();
  if (!t || t.length > max) throw new UsageError(`${flag}: 1 to ${max} characters`);
  return t;
}

export async function listFaq(db: Kysely<Database>, options: { category?: string; all?: boolean } = {}) {
  let query = db
    .selectFrom('support_faq')
    .select(['id', 'category', 'order_no', 'is_active', 'question', 'answer', 'updated_at'])
    .orderBy('category')
    .orderBy('order_no')
    .orderBy('created_at');
  if (options.category) query = query.where('category', '=', options.category);
  if (!options.all) query = query.where('is_active', '=', true);
  return query.execute();
}

export async function addFaq(
  db: Kysely<Database>,
  op: Operation,
  input: { category: string; question: string; answer: string; orderNo?: number },
) {
  const row = {
    category: text(input.category, '--category', 40),
    question: text(input.question, '--question', 500),
    answer: text(input.answer, '--answer', 5000),
  };
  return mutate(db, op, 'faq.edit', async (trx) => {
    const last = await trx
      .selectFrom('support_faq')
      .select((eb) => eb.fn.max('order_no').as('max'))
      .where('category', '=', row.category)
      .executeTakeFirst();
    const orderNo = input.orderNo ?? Number(last?.max ?? 0) + ORDER_STEP;
    const created = await trx
      .insertInto('support_faq')
      .values({ ...row, order_no: orderNo })
      .returning(['id', 'category', 'order_no'])
      .executeTakeFirstOrThrow();
    await writeAudit(trx, op, {
      action: 'faq.add',
      targetType: 'faq',
      targetId: created.id,
      after: { category: row.category, order_no: orderNo },
    });
    return created;
  });
}

export interface FaqChange {
  id: string;
  category?: string;
  question?: string;
  answer?: string;
  active?: boolean;
}

/** Edits fields of one entry; `active: false` is `faq hide`, `active: true` shows it again. */
export async function editFaq(db: Kysely<Database>, op: Operation, input: FaqChange) {
  const set: { category?: string; question?: string; answer?: string; is_active?: boolean } = {};
  if (input.category !== undefined) set.category = text(input.category, '--category', 40);
  if (input.question !== undefined) set.question = text(input.question, '--question', 500);
  if (input.answer !== undefined) set.answer = text(input.answer, '--answer', 5000);
  if (input.active !== undefined) set.is_active = input.active;
  if (Object.keys(set).length === 0)
    throw new UsageError('nothing to change: pass --question, --answer, --category or --show');
  const action = input.active === false && Object.keys(set).length === 1 ? 'faq.hide' : 'faq.edit';
  return mutate(
    db,
    op,
    'faq.edit',
    async (trx) => {
      const before = await trx
        .selectFrom('support_faq')
        .select(['category', 'question', 'answer', 'is_active'])
        .where('id', '=', input.id)
        .forUpdate()
        .executeTakeFirst();
      if (!before) throw new NotFoundError(`no FAQ entry ${input.id}`);
      const changed = Object.entries(set).filter(([k, v]) => before[k as keyof typeof before] !== v);
      if (changed.length === 0) throw new UsageError(`FAQ entry ${input.id} already is like that`);
      await trx.updateTable('support_faq').set(set).where('id', '=', input.id).execute();
      // Field names and flags, not the texts: the entry itself keeps those.
      const summary = (row: Record<string, unknown>) =>
        Object.fromEntries(
          changed.map(([k]) => [
            k,
            k === 'question' || k === 'answer' ? `${String(row[k]).length} chars` : row[k],
          ]),
        );
      await writeAudit(trx, op, {
        action,
        targetType: 'faq',
        targetId: input.id,
        before: summary(before),
        after: summary(set),
      });
      return { id: input.id, changed: changed.map(([k]) => k) };
    },
    { type: 'faq', id: input.id },
  );
}

/**
 * Puts the given entries of a category first, in the given order; the category's other entries
 * follow in their current order. Order numbers are rewritten 10, 20, 30, … in one transaction.
 */
export async function reorderFaq(
  db: Kysely<Database>,
  op: Operation,
  input: { category: string; ids: string[] },
) {
  if (input.ids.length === 0) throw new UsageError('name at least one entry');
  if (new Set(input.ids).size !== input.ids.length) throw new UsageError('an entry is named twice');
  return mutate(
    db,
    op,
    'faq.edit',
    async (trx) => {
      const rows = await trx
        .selectFrom('support_faq')
        .select(['id', 'order_no'])
        .where('category', '=', input.category)
        .orderBy('order_no')
        .orderBy('created_at')
        .forUpdate()
        .execute();
      const known = new Set(rows.map((r) => r.id));
      const stranger = input.ids.find((id) => !known.has(id));
      if (stranger) throw new UsageError(`FAQ entry ${stranger} is not in category ${input.category}`);
      const order = [...input.ids, ...rows.map((r) => r.id).filter((id) => !input.ids.includes(id))];
      for (const [i, id] of order.entries()) {
        await trx
          .updateTable('support_faq')
          .set({ order_no: (i + 1) * ORDER_STEP })
          .where('id', '=', id)
          .execute();
      }
      await writeAudit(trx, op, {
        action: 'faq.reorder',
        targetType: 'faq_category',
        targetId: input.category,
        before: { order: rows.map((r) => r.id) },
        after: { order },
      });
      return { category: input.category, order };
    },
    { type: 'faq_category', id: input.category },
  );
}
