/**
 * The points ledger (public.user_points_ledger): grants, deductions, balances, history, the chain
 * audit and expiry. The database keeps the running balance — its insert trigger takes a per-user
 * advisory lock and sets balance_after = previous + delta — and refuses a negative balance (a
 * CHECK) and a second entry for the same (ref_type, ref_id, reason) (a UNIQUE). This module never
 * computes a balance to write; it only asks and reports.
 *
 * Glossary
 * - *grant*: a positive entry; *deduction*: a negative one (a purchase, an operator correction).
 * - *reference*: (ref_type, ref_id), the thing an entry is about — an attendance row, a payment, …
 *   An entry with a reference is idempotent: the same reference and reason is written once.
 * - *chain*: one user's entries in id order; each balance_after is the previous one plus delta.
 *
 * Expiry policy (소멸): points expire POINTS_EXPIRY_DAYS Asia/Seoul days after they were earned,
 * oldest first. Spending consumes the oldest points first (FIFO), so on a day D the points that
 * expire for a user are what is left of the grants earned before D − POINTS_EXPIRY_DAYS once every
 * deduction so far (spending and earlier expiries) has been taken from them:
 *   expiring = max(0, Σ grants earned before the cutoff − Σ |deductions|)
 * The daily `points.expire` job writes that as one negative `expiry` entry per user, referenced
 * `expiry` / `<D>:<user>`, so a run repeated the same day writes nothing; on later days the formula
 * itself gives 0 until more grants pass the cutoff.
 */
import { type Kysely, sql } from 'kysely';
import { authorize, mutate } from '../admins/permissions.ts';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { DriftError, NotFoundError, PgCode, pgCode, UsageError } from '../errors.ts';
import { addDays, startOfSeoulDay } from '../time/calendar.ts';

/** Ledger reasons an operator may write (`expiry` is the expiry job's alone). */
export const POINT_REASONS = [
  'attendance',
  'event',
  'reward',
  'purchase',
  'admin_adjustment',
  'refund',
  'diary',
] as const;
export type PointReason = (typeof POINT_REASONS)[number];
export const REF_TYPES = ['event', 'attendance', 'payment', 'diary', 'admin'] as const;
export type RefType = (typeof REF_TYPES)[number];

/** Points expire this many Asia/Seoul days after they were earned (see the policy above). */
export const POINTS_EXPIRY_DAYS = 365;
/** First key of the ledger trigger's per-user pg_advisory_xact_lock(int, int) (migration 0006). */
const POINTS_LOCK_SPACE = 1523982041;
/** The largest single grant or deduction: beyond it a typo is likelier than an intent. */
export const MAX_POINTS = 10_000_000;

export interface Adjustment {
  userId: string;
  /** Positive for a grant, negative for a deduction. */
  delta: number;
  reason: PointReason;
  refType?: RefType | null;
  refId?: string | null;
  /** Why, for the audit trail; defaults to the reason. */
  note?: string | null;
}

export interface LedgerEntry {
  id: number;
  user_id: string;
  delta: number;
  reason: string;
  ref_type: string | null;
  ref_id: string | null;
  balance_after: number;
  created_at: Date;
}

const ENTRY_COLUMNS = [
  'id',
  'user_id',
  'delta',
  'reason',
  'ref_type',
  'ref_id',
  'balance_after',
  'created_at',
] as const;

function toEntry(row: {
  id: number | string;
  user_id: string;
  delta: number | string;
  reason: string;
  ref_type: string | null;
  ref_id: string | null;
  balance_after: number | string;
  created_at: Date;
}): LedgerEntry {
  return { ...row, id: Number(row.id), delta: Number(row.delta), balance_after: Number(row.balance_after) };
}

export function validateAdjustment(input: Adjustment): void {
  if (!Number.isInteger(input.delta) || input.delta === 0 || Math.abs(input.delta) > MAX_POINTS)
    throw new UsageError(`points must be a whole number from 1 to ${MAX_POINTS}`);
  if (!(POINT_REASONS as readonly string[]).includes(input.reason))
    throw new UsageError(`--reason ${input.reason}: one of ${POINT_REASONS.join(', ')}`);
  const hasType = input.refType !== undefined && input.refType !== null;
  const hasId = input.refId !== undefined && input.refId !== null && input.refId !== '';
  if (hasType !== hasId) throw new UsageError('--ref-type and --ref-id go together');
  if (hasType && !(REF_TYPES as readonly string[]).includes(input.refType!))
    throw new UsageError(`--ref-type ${input.refType}: one of ${REF_TYPES.join(', ')}`);
  if (hasId && input.refId!.length > 200) throw new UsageError('--ref-id is longer than 200 characters');
}

export interface AdjustResult {
  entry: LedgerEntry;
  /** True when the same reference and reason was already recorded: nothing was written. */
  duplicate: boolean;
}

/**
 * Writes one grant or deduction and its audit row in one transaction. A referenced entry that
 * already exists is reported as a duplicate and changes nothing; a deduction below zero is refused
 * by the database and reported as bad input (exit 2) with nothing written.
 */
export async function adjustPoints(
  db: Kysely<Database>,
  op: Operation,
  input: Adjustment,
): Promise<AdjustResult> {
  validateAdjustment(input);
  const action = input.delta > 0 ? 'points.grant' : 'points.deduct';
  try {
    return await mutate(
      db,
      op,
      'points.adjust',
      async (trx) => {
        const user = await trx
          .selectFrom('users')
          .select('id')
          .where('id', '=', input.userId)
          .executeTakeFirst();
        if (!user) throw new NotFoundError(`no user ${input.userId}`);
        const inserted = await trx
          .insertInto('user_points_ledger')
          .values({
            user_id: input.userId,
            delta: input.delta,
            reason: input.reason,
            ref_type: input.refType ?? null,
            ref_id: input.refId || null,
            balance_after: 0, // set by the trigger
          })
          .onConflict((oc) => oc.columns(['ref_type', 'ref_id', 'reason']).doNothing())
          .returning(ENTRY_COLUMNS)
          .executeTakeFirst();
        if (!inserted) {
          const existing = await trx
            .selectFrom('user_points_ledger')
            .select(ENTRY_COLUMNS)
            .where('ref_type', '=', input.refType!)
            .where('ref_id', '=', input.refId!)
            .where('reason', '=', input.reason)
            .executeTakeFirstOrThrow();
          return { entry: toEntry(existing), duplicate: true };
        }
        const entry = toEntry(inserted);
        await writeAudit(trx, op, {
          action,
          targetType: 'user',
          targetId: input.userId,
          before: { balance: entry.balance_after - entry.delta },
          after: {
            balance: entry.balance_after,
            entry: entry.id,
            delta: entry.delta,
            reason: entry.reason,
            ref: entry.ref_type ? `${entry.ref_type}:${entry.ref_id}` : null,
          },
          reason: input.note?.trim() || input.reason,
        });
        return { entry, duplicate: false };
      },
      { type: 'user', id: input.userId },
    );
  } catch (error) {
    const constraint = (error as { constraint?: string }).constraint;
    if (pgCode(error) === PgCode.checkViolation && constraint === 'user_points_ledger_balance_after_check') {
      const { balance } = await pointsBalance(db, input.userId);
      throw new UsageError(
        `refusing to deduct ${-input.delta} points from ${input.userId}: the balance is ${balance}; nothing was written`,
      );
    }
    throw error;
  }
}

export interface Balance {
  userId: string;
  balance: number;
  entries: number;
  lastAt: Date | null;
}

export async function pointsBalance(db: Kysely<Database>, userId: string): Promise<Balance> {
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw new NotFoundError(`no user ${userId}`);
  const last = await db
    .selectFrom('user_points_ledger')
    .select(['balance_after', 'created_at'])
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const count = await db
    .selectFrom('user_points_ledger')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .executeTakeFirstOrThrow();
  return {
    userId,
    balance: Number(last?.balance_after ?? 0),
    entries: Number(count.n),
    lastAt: last?.created_at ?? null,
  };
}

export async function pointsHistory(
  db: Kysely<Database>,
  userId: string,
  options: { limit?: number } = {},
): Promise<LedgerEntry[]> {
  const user = await db.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
  if (!user) throw new NotFoundError(`no user ${userId}`);
  const rows = await db
    .selectFrom('user_points_ledger')
    .select(ENTRY_COLUMNS)
    .where('user_id', '=', userId)
    .orderBy('id', 'desc')
    .limit(options.limit ?? 50)
    .execute();
  return rows.map(toEntry);
}

export interface ChainBreak {
  id: number;
  userId: string;
  delta: number;
  balanceAfter: number;
  /** The previous entry's balance (0 for a user's first entry). */
  previous: number;
  problem: 'mismatch' | 'negative';
}

export interface LedgerAudit {
  users: number;
  entries: number;
  breaks: ChainBreak[];
}

/**
 * Re-checks every chain (or one user's): each balance_after equals the previous balance plus delta
 * and is never negative. One pass with a window over (user_id, id), read in a single snapshot.
 */
export async function auditLedger(
  db: Kysely<Database>,
  options: { userId?: string; limit?: number } = {},
): Promise<LedgerAudit> {
  const where = options.userId ? sql`where user_id = ${options.userId}` : sql``;
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const totals = await sql<{ users: string; entries: string }>`
        select count(distinct user_id) as users, count(*) as entries from public.user_points_ledger ${where}`.execute(
        trx,
      );
      const breaks = await sql<{
        id: string;
        user_id: string;
        delta: string;
        balance_after: string;
        previous: string;
      }>`
        select id, user_id, delta, balance_after, previous from (
          select id, user_id, delta, balance_after,
                 coalesce(lag(balance_after) over (partition by user_id order by id), 0) as previous
          from public.user_points_ledger ${where}) c
        where balance_after <> previous + delta or balance_after < 0
        order by user_id, id
        limit ${options.limit ?? 1000}`.execute(trx);
      return {
        users: Number(totals.rows[0]!.users),
        entries: Number(totals.rows[0]!.entries),
        breaks: breaks.rows.map((r) => ({
          id: Number(r.id),
          userId: r.user_id,
          delta: Number(r.delta),
          balanceAfter: Number(r.balance_after),
          previous: Number(r.previous),
          problem: Number(r.balance_after) < 0 ? ('negative' as const) : ('mismatch' as const),
        })),
      };
    });
}

/** Throws (exit 4) when the audit found a break. */
export function assertChainsIntact(audit: LedgerAudit): void {
  if (audit.breaks.length === 0) return;
  const first = audit.breaks[0]!;
  throw new DriftError(
    `${audit.breaks.length} ledger entr${audit.breaks.length === 1 ? 'y breaks' : 'ies break'} the chain; first: entry ${first.id} of user ${first.userId} (${first.previous} + ${first.delta} ≠ ${first.balanceAfter})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Expiry

/** The first instant whose grants have not expired on `date` (Asia/Seoul). */
export function expiryCutoff(date: string): Date {
  return startOfSeoulDay(addDays(date, -POINTS_EXPIRY_DAYS));
}

export interface ExpiryBatch {
  date: string;
  /** Users looked at in this batch (keyset over users.id). */
  scanned: number;
  /** Expiry entries written. */
  expired: number;
  points: number;
  /** The last user id of the batch: where the next one starts. */
  after: string | null;
  more: boolean;
}

/**
 * One batch of the expiry run of `date`: the next `batchSize` users after `after` (users.id order),
 * each locked with the ledger's own per-user lock so no grant or deduction interleaves with the
 * computation, then one INSERT … SELECT of their expiry entries. With `dryRun` nothing is written
 * (the same query, counted). Safe to run twice: the (expiry, '<date>:<user>') key writes once.
 */
export async function expireBatch(
  db: Kysely<Database>,
  input: {
    date: string;
    after: string | null;
    batchSize: number;
    dryRun?: boolean;
    /** Runs inside the batch's transaction before it commits (enqueue the successor, write an audit row). */
    inTransaction?: (trx: Kysely<Database>, batch: ExpiryBatch) => Promise<void>;
  },
): Promise<ExpiryBatch> {
  const cutoff = expiryCutoff(input.date);
  const run = async (trx: Kysely<Database>) => {
    const users = await sql<{ id: string }>`
      select id from public.users where id > ${input.after ?? '00000000-0000-0000-0000-000000000000'}::uuid
      order by id limit ${input.batchSize}`.execute(trx);
    const ids = users.rows.map((u) => u.id);
    if (ids.length === 0)
      return { date: input.date, scanned: 0, expired: 0, points: 0, after: input.after, more: false };
    const due = sql`
      select l.user_id, coalesce(sum(l.delta) filter (where l.delta > 0 and l.created_at < ${cutoff}), 0)
                        + coalesce(sum(l.delta) filter (where l.delta < 0), 0) as amount
      from public.user_points_ledger l
      where l.user_id = any(${ids}::uuid[])
      group by l.user_id`;
    let expired = 0;
    let points = 0;
    if (input.dryRun) {
      const r = await sql<{ n: string; points: string | null }>`
        select count(*) as n, sum(amount) as points from (${due}) d where amount > 0`.execute(trx);
      expired = Number(r.rows[0]!.n);
      points = Number(r.rows[0]!.points ?? 0);
    } else {
      // The ledger trigger's lock, taken for the whole batch in a fixed order, before reading.
      await sql`select pg_advisory_xact_lock(${POINTS_LOCK_SPACE}, hashtext(id::text))
                from unnest(${ids}::uuid[]) as id order by id`.execute(trx);
      const r = await sql<{ delta: string }>`
        insert into public.user_points_ledger (user_id, delta, reason, ref_type, ref_id, balance_after)
        select d.user_id, -d.amount, 'expiry', 'expiry', ${input.date} || ':' || d.user_id, 0
        from (${due}) d where d.amount > 0
        order by d.user_id
        on conflict (ref_type, ref_id, reason) do nothing
        returning delta`.execute(trx);
      expired = r.rows.length;
      points = r.rows.reduce((n, row) => n - Number(row.delta), 0);
    }
    const batch: ExpiryBatch = {
      date: input.date,
      scanned: ids.length,
      expired,
      points,
      after: ids.at(-1)!,
      more: ids.length === input.batchSize,
    };
    if (!input.dryRun) await input.inTransaction?.(trx, batch);
    return batch;
  };
  return input.dryRun ? run(db) : db.transaction().execute(run);
}

export interface ExpiryRun {
  date: string;
  scanned: number;
  expired: number;
  points: number;
  batches: number;
}

/**
 * `sumda points expire`: the whole run inline, batch after batch (each its own transaction with an
 * audit row when it wrote something), or with `dryRun` what it would write.
 */
export async function expirePoints(
  db: Kysely<Database>,
  op: Operation,
  input: { date: string; batchSize?: number; dryRun?: boolean; onBatch?: (run: ExpiryRun) => void },
): Promise<ExpiryRun> {
  const run: ExpiryRun = { date: input.date, scanned: 0, expired: 0, points: 0, batches: 0 };
  let after: string | null = null;
  const go = async (): Promise<ExpiryRun> => {
    for (;;) {
      const batch = await expireBatch(db, {
        date: input.date,
        after,
        batchSize: input.batchSize ?? EXPIRY_BATCH_SIZE,
        dryRun: input.dryRun,
        inTransaction: async (trx, b) => {
          if (b.expired === 0) return;
          await writeAudit(trx, op, {
            action: 'points.expire',
            targetType: 'points',
            targetId: input.date,
            after: { expired: b.expired, points: b.points, after: b.after },
            reason: `expiry policy: earned more than ${POINTS_EXPIRY_DAYS} days before ${input.date}`,
          });
        },
      });
      run.batches += 1;
      run.scanned += batch.scanned;
      run.expired += batch.expired;
      run.points += batch.points;
      input.onBatch?.(run);
      after = batch.after;
      if (!batch.more) return run;
    }
  };
  if (!input.dryRun) await authorize(db, op, 'points.adjust', { type: 'points', id: input.date });
  return go();
}

/** Users per expiry batch (one transaction each). */
export const EXPIRY_BATCH_SIZE = 500;
