/**
 * public.user_points_ledger: the database keeps balance_after (previous balance + delta, per user,
 * exact under concurrent writers), grants are idempotent on (ref_type, ref_id, reason), a balance
 * never goes negative, and rows are never updated or deleted — except together with their user.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const RAISE_EXCEPTION = 'P0001';
const UNIQUE = '23505';
const CHECK = '23514';

interface LedgerRow {
  id: string;
  delta: string;
  balance_after: string;
}

type PgError = { code?: string; constraint?: string; message?: string };

const database = useTestDatabase();
let client: pg.Client;

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  return c;
}

async function newUser(nickname: string): Promise<string> {
  const r = await client.query<{ id: string }>('insert into users (nickname) values ($1) returning id', [
    nickname,
  ]);
  return r.rows[0]!.id;
}

async function grant(
  on: pg.Client,
  userId: string,
  delta: number,
  reason = 'reward',
  ref: [string, string] | null = null,
  balanceAfter?: number,
): Promise<LedgerRow> {
  const r = await on.query<LedgerRow>(
    `insert into user_points_ledger (user_id, delta, reason, ref_type, ref_id${balanceAfter === undefined ? '' : ', balance_after'})
     values ($1, $2, $3, $4, $5${balanceAfter === undefined ? '' : ', $6'}) returning id, delta, balance_after`,
    [
      userId,
      delta,
      reason,
      ref?.[0] ?? null,
      ref?.[1] ?? null,
      ...(balanceAfter === undefined ? [] : [balanceAfter]),
    ],
  );
  return r.rows[0]!;
}

async function ledgerOf(userId: string): Promise<LedgerRow[]> {
  const r = await client.query<LedgerRow>(
    'select id, delta, balance_after from user_points_ledger where user_id = $1 order by id',
    [userId],
  );
  return r.rows;
}

/** In id order, every balance_after is the sum of the deltas up to and including that row. */
function expectRunningBalance(rows: LedgerRow[]): number {
  let balance = 0;
  for (const row of rows) {
    balance += Number(row.delta);
    expect(Number(row.balance_after), `row ${row.id}`).toBe(balance);
  }
  return balance;
}

beforeAll(async () => {
  client = await connect();
});

afterAll(async () => {
  await client?.end();
});

describe('balance_after', () => {
  it('is the previous balance plus delta, whatever the client sent', async () => {
    const user = await newUser('잔액');
    const other = await newUser('다른 사람');
    expect((await grant(client, user, 100, 'attendance', null, 999_999)).balance_after).toBe('100');
    expect((await grant(client, other, 5)).balance_after).toBe('5');
    expect((await grant(client, user, -30, 'purchase')).balance_after).toBe('70');
    expect((await grant(client, user, 5, 'diary', ['diary', 'd-1'])).balance_after).toBe('75');
    expect((await grant(client, user, -75, 'expiry')).balance_after).toBe('0');
    expect(expectRunningBalance(await ledgerOf(user))).toBe(0);
    expect(expectRunningBalance(await ledgerOf(other))).toBe(5);
  });

  it('grants once per (ref_type, ref_id, reason): a repeated grant is a duplicate and changes nothing', async () => {
    const user = await newUser('출석');
    await grant(client, user, 10, 'attendance', ['attendance', 'att-1']);
    const error = (await grant(client, user, 10, 'attendance', ['attendance', 'att-1']).catch(
      (e) => e,
    )) as PgError;
    expect({ code: error.code, constraint: error.constraint }).toEqual({
      code: UNIQUE,
      constraint: 'user_points_ledger_ref_key',
    });
    // The same reference for another reason is another grant.
    await grant(client, user, 3, 'reward', ['attendance', 'att-1']);
    expect(expectRunningBalance(await ledgerOf(user))).toBe(13);
  });

  it('refuses a debit below zero and keeps the balance', async () => {
    const user = await newUser('부족');
    await grant(client, user, 10);
    const error = (await grant(client, user, -11, 'purchase').catch((e) => e)) as PgError;
    expect({ code: error.code, constraint: error.constraint }).toEqual({
      code: CHECK,
      constraint: 'user_points_ledger_balance_after_check',
    });
    const first = (await grant(client, await newUser('빈 지갑'), 1)).balance_after;
    expect(first).toBe('1');
    expect(expectRunningBalance(await ledgerOf(user))).toBe(10);
  });

  it('stays exact and gap-free with 20 concurrent writers for the same user on separate connections', async () => {
    const user = await newUser('동시');
    await grant(client, user, 1000, 'admin_adjustment', ['admin', 'seed']);
    const deltas = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? -(i + 7) : i + 1));
    const writers = await Promise.all(deltas.map(connect));
    try {
      // Every writer holds its transaction open a little after inserting, so they queue on the lock.
      await Promise.all(
        writers.map(async (w, i) => {
          await w.query('begin');
          await grant(w, user, deltas[i]!, deltas[i]! < 0 ? 'purchase' : 'reward', null, 0);
          await new Promise((r) => setTimeout(r, 10));
          await w.query('commit');
        }),
      );
    } finally {
      await Promise.all(writers.map((w) => w.end()));
    }
    const rows = await ledgerOf(user);
    expect(rows).toHaveLength(21);
    expect(expectRunningBalance(rows)).toBe(1000 + deltas.reduce((a, b) => a + b, 0));
  });

  it('refuses inserts at REPEATABLE READ, whose snapshot could miss a concurrent grant', async () => {
    const user = await newUser('스냅샷');
    await client.query('begin isolation level repeatable read');
    const error = (await grant(client, user, 1).catch((e) => e)) as PgError;
    await client.query('rollback');
    expect(error.code).toBe(RAISE_EXCEPTION);
    expect(error.message).toMatch(/REPEATABLE READ/);
  });
});

describe('append-only', () => {
  let user: string;
  beforeAll(async () => {
    user = await newUser('원장');
    await grant(client, user, 50);
  });

  const refused: [string, string][] = [
    ['UPDATE', 'update user_points_ledger set delta = 1 where user_id = $1'],
    ['DELETE', 'delete from user_points_ledger where user_id = $1'],
  ];
  for (const [op, text] of refused) {
    it(`refuses ${op} with P0001`, async () => {
      const error = (await client.query(text, [user]).catch((e) => e)) as PgError;
      expect(error.code).toBe(RAISE_EXCEPTION);
      expect(error.message).toBe(`public.user_points_ledger is append-only: ${op} refused`);
    });
  }

  it('refuses TRUNCATE with P0001', async () => {
    const error = (await client.query('truncate user_points_ledger').catch((e) => e)) as PgError;
    expect(error.code).toBe(RAISE_EXCEPTION);
    expect(error.message).toBe('public.user_points_ledger is append-only: TRUNCATE refused');
    expect(await ledgerOf(user)).toHaveLength(1);
  });

  it('lets the rows go together with their user (erasure cascades)', async () => {
    await client.query('delete from users where id = $1', [user]);
    expect(await ledgerOf(user)).toEqual([]);
  });
});
