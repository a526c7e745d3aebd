/**
 * admin.audit_log: append-only, and hash-chained by the database itself. The insert trigger owns
 * chain_seq, at, prev_hash and row_hash; admin.audit_row_hash recomputes a row's hash from its
 * fields, independently of the session TimeZone.
 */
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const RAISE_EXCEPTION = 'P0001';
const ZERO_HASH = Buffer.alloc(32);

interface AuditRow {
  id: number;
  chain_seq: string;
  at: Date;
  prev_hash: Buffer;
  row_hash: Buffer;
}

const database = useTestDatabase();
let client: pg.Client;
let adminId: string;

const RECOMPUTE = `
  select id, row_hash, admin.audit_row_hash(prev_hash, chain_seq, at, actor_id, actor_email, actor_role, action,
           target_type, target_id, before, after, reason, outcome, request_id, command) as recomputed
  from admin.audit_log order by chain_seq`;

async function connect(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  return c;
}

async function writeAudit(
  on: pg.Client,
  action: string,
  extra: Record<string, unknown> = {},
): Promise<AuditRow> {
  const row = {
    actor_id: adminId,
    actor_email: 'root@sumda.test',
    actor_role: 'admin',
    action,
    target_type: 'policy',
    target_id: "slip:global, it's",
    before: '{"version": "v1.0.0"}',
    after: '{"version": "v1.1.0", "note": "한글"}',
    reason: 'rollout',
    request_id: randomUUID(),
    command: 'sumda policy activate slip v1.1.0',
    ...extra,
  };
  const columns = Object.keys(row);
  const result = await on.query<AuditRow>(
    `insert into admin.audit_log (${columns.join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})
     returning id, chain_seq, at, prev_hash, row_hash`,
    Object.values(row),
  );
  return result.rows[0]!;
}

async function chain(): Promise<AuditRow[]> {
  const result = await client.query<AuditRow>(
    'select id, chain_seq, at, prev_hash, row_hash from admin.audit_log order by chain_seq',
  );
  return result.rows;
}

/** Checks seq 1..n without gaps, each prev_hash linking to the row before, each row_hash recomputing. */
async function expectIntactChain(): Promise<number> {
  const rows = await chain();
  rows.forEach((row, i) => {
    expect(Number(row.chain_seq)).toBe(i + 1);
    expect(row.prev_hash.equals(i === 0 ? ZERO_HASH : rows[i - 1]!.row_hash)).toBe(true);
  });
  const recomputed = await client.query<{ row_hash: Buffer; recomputed: Buffer }>(RECOMPUTE);
  for (const r of recomputed.rows) expect(r.recomputed.equals(r.row_hash)).toBe(true);
  return rows.length;
}

beforeAll(async () => {
  client = await connect();
  const admin = await client.query<{ id: string }>(
    `insert into admin.admins (email, role) values ('root@sumda.test', 'admin') returning id`,
  );
  adminId = admin.rows[0]!.id;
});

afterAll(async () => {
  await client?.end();
});

describe('hash chain', () => {
  it('links three rows: chain_seq 1..3, prev_hash = previous row_hash, row_hash recomputes', async () => {
    const rows = [await writeAudit(client, 'policy.publish'), await writeAudit(client, 'policy.activate')];
    rows.push(await writeAudit(client, 'policy.rollback', { before: null, reason: null, target_id: '' }));
    expect(rows.map((r) => Number(r.chain_seq))).toEqual([1, 2, 3]);
    expect(rows[0]!.prev_hash.equals(ZERO_HASH)).toBe(true);
    expect(rows[1]!.prev_hash.equals(rows[0]!.row_hash)).toBe(true);
    expect(rows[2]!.prev_hash.equals(rows[1]!.row_hash)).toBe(true);
    expect(new Set(rows.map((r) => r.row_hash.toString('hex'))).size).toBe(3);
    expect(await expectIntactChain()).toBe(3);
  });

  it('row_hash is sha256(prev_hash || the quoted, comma-joined fields) as documented', async () => {
    const fields = await client.query<{ prev_hash: Buffer; row_hash: Buffer; texts: (string | null)[] }>(
      `select prev_hash, row_hash, array[chain_seq::text, extract(epoch from at)::text, actor_id::text, actor_email,
              actor_role, action, target_type, target_id, before::text, after::text, reason, outcome,
              request_id::text, command] as texts
       from admin.audit_log order by chain_seq`,
    );
    // quote_nullable without backslashes in the values: NULL, or the text in single quotes with ' doubled.
    const quote = (v: string | null) => (v === null ? 'NULL' : `'${v.replaceAll("'", "''")}'`);
    for (const row of fields.rows) {
      expect(row.texts.some((t) => t?.includes('\\'))).toBe(false);
      const payload = Buffer.from(row.texts.map(quote).join(','), 'utf8');
      const expected = createHash('sha256')
        .update(Buffer.concat([row.prev_hash, payload]))
        .digest();
      expect(expected.equals(row.row_hash)).toBe(true);
    }
  });

  it('the recomputed hash does not depend on the session TimeZone', async () => {
    const c = await connect();
    try {
      const hashes: string[] = [];
      for (const zone of ['UTC', 'Asia/Seoul', 'America/New_York', 'Pacific/Chatham']) {
        await c.query(`set timezone = '${zone}'`);
        const r = await c.query<{ recomputed: Buffer; row_hash: Buffer }>(RECOMPUTE);
        for (const row of r.rows) expect(row.recomputed.equals(row.row_hash)).toBe(true);
        hashes.push(r.rows.map((row) => row.recomputed.toString('hex')).join());
      }
      expect(new Set(hashes).size).toBe(1);
      // And rows written under another TimeZone still verify under UTC.
      await c.query(`set timezone = 'Asia/Seoul'`);
      await writeAudit(c, 'slip.release');
      expect(await expectIntactChain()).toBe(4);
    } finally {
      await c.end();
    }
  });

  it('sets at to the database now() and the chain columns itself, whatever the client sent', async () => {
    await client.query('begin');
    try {
      const row = await writeAudit(client, 'user.ban', {
        at: '2000-01-01T00:00:00Z',
        chain_seq: 999,
        prev_hash: Buffer.alloc(32, 1),
        row_hash: Buffer.alloc(0),
      });
      const now = await client.query<{ now: Date }>('select now() as now');
      expect(row.at.getTime()).toBe(now.rows[0]!.now.getTime());
      expect(Number(row.chain_seq)).toBe(5);
      expect(row.row_hash).toHaveLength(32);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
    expect(await expectIntactChain()).toBe(5);
  });

  it('chains the rows of one multi-row insert', async () => {
    await client.query(
      `insert into admin.audit_log (action, prev_hash, row_hash, chain_seq)
       values ('job.retry', '', '', 0), ('job.retry', '', '', 0), ('job.cancel', '', '', 0)`,
    );
    expect(await expectIntactChain()).toBe(8);
  });

  it('stays gap-free and linked under concurrent writers on separate connections', async () => {
    const writers = await Promise.all(Array.from({ length: 10 }, connect));
    try {
      await Promise.all(
        writers.map(async (w, i) => {
          await w.query('begin');
          await writeAudit(w, 'report.backfill', { target_id: String(i) });
          await new Promise((r) => setTimeout(r, 5));
          await w.query('commit');
        }),
      );
    } finally {
      await Promise.all(writers.map((w) => w.end()));
    }
    expect(await expectIntactChain()).toBe(18);
  });
});

describe('append-only', () => {
  const refused: [string, string][] = [
    ['UPDATE', `update admin.audit_log set reason = 'rewritten'`],
    ['DELETE', 'delete from admin.audit_log where chain_seq = 1'],
    ['TRUNCATE', 'truncate admin.audit_log'],
  ];
  for (const [op, text] of refused) {
    it(`refuses ${op} with P0001 naming the table`, async () => {
      const error = (await client.query(text).catch((e: unknown) => e)) as {
        code?: string;
        message?: string;
      };
      expect(error.code).toBe(RAISE_EXCEPTION);
      expect(error.message).toBe(`admin.audit_log is append-only: ${op} refused`);
    });
  }

  it('left the chain intact', async () => {
    expect(await expectIntactChain()).toBe(18);
  });

  it('an operator named in the trail cannot be deleted (on delete restrict)', async () => {
    const error = (await client
      .query('delete from admin.admins where id = $1', [adminId])
      .catch((e: unknown) => e)) as {
      code?: string;
      constraint?: string;
    };
    expect(error.constraint).toBe('audit_log_actor_id_fkey');
    // ON DELETE RESTRICT: foreign_key_violation on PostgreSQL 15, restrict_violation on 18 (embedded).
    expect(['23503', '23001']).toContain(error.code);
  });
});
