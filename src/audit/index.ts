/**
 * The audit trail (admin.audit_log): who did what to which target, why, with before/after, the
 * request id and the command line — written by every mutating command inside the same
 * transaction as its change, so the two commit or vanish together. The table is append-only and
 * hash-chained by the database itself (chain_seq, prev_hash, row_hash are set by a trigger);
 * `verifyAuditChain` walks it and names the first row that does not match.
 *
 * Never put secrets or diary text into before/after: they hold ids, states and settings.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import type { Actor } from '../admins/actor.ts';
import type { Database } from '../db/types.ts';

/** One SUMDA_AUDIT_KEY entry: an id written into every row it signs, and 32 secret bytes. */
export interface AuditKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The operator-facing context of one invocation, passed from the CLI into domain functions. */
export interface Operation {
  actor: Actor | null;
  requestId: string;
  /** The command line with secrets removed. */
  command: string;
  /** SUMDA_AUDIT_KEY: the first key signs this invocation's audit rows; absent = unkeyed rows. */
  auditKeys?: readonly AuditKey[] | undefined;
  /**
   * How the actor was established: `login` (the database login is mapped to the operator),
   * `password`/`token` (proved by a secret), `declared` (SUMDA_ACTOR/--as over an owner or shared
   * connection, nothing proved). Stored in the row's actor_identity, covered by its MAC.
   */
  identity?: 'login' | 'password' | 'token' | 'declared' | undefined;
}

/** An operation whose actor is known: what `authorize` returns and `mutate` hands its change. */
export type OperationWithActor = Operation & { actor: Actor };

/** pg_advisory_xact_lock key of the audit chain: the same as the insert trigger's (migrations/0003). */
const AUDIT_CHAIN_LOCK = '6545595930023432192';

/** HMAC-SHA256 of a row's hash and how its actor was established, under an audit key: what `mac` holds. */
export function auditMac(key: Buffer, rowHash: Buffer, identity: string | null): Buffer {
  return createHmac('sha256', key)
    .update(rowHash)
    .update(`:${identity ?? ''}`)
    .digest();
}

export interface AuditRecord {
  /** Dotted verb, e.g. `policy.activate`, `slip.release`. */
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  before?: unknown;
  after?: unknown;
  reason?: string | null;
  outcome?: 'success' | 'denied' | 'failed';
}

// Nothing (undefined or null) is SQL NULL, not the JSON value `null`, so `before is null` finds it.
const json = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));

export async function writeAudit(db: Kysely<Database>, op: Operation, record: AuditRecord): Promise<number> {
  const signer = op.auditKeys?.[0];
  const values = {
    actor_id: op.actor?.id ?? null,
    actor_email: op.actor?.email ?? null,
    actor_role: op.actor?.role ?? null,
    action: record.action,
    target_type: record.targetType ?? null,
    target_id: record.targetId ?? null,
    before: json(record.before),
    after: json(record.after),
    reason: record.reason ?? null,
    outcome: record.outcome ?? 'success',
    request_id: op.requestId,
    command: op.command,
    // Only when known, so an unsigned row without it also fits the table as it was before 0017.
    ...(op.identity ? { actor_identity: op.identity } : {}),
  };
  const insert = async (trx: Kysely<Database>, mac: Buffer | null, expected: Buffer | null) => {
    const row = await trx
      .insertInto('admin.audit_log')
      .values({
        ...values,
        ...(mac ? { mac, mac_key_id: signer!.id } : {}),
        // Overwritten by the BEFORE INSERT trigger, which computes the chain.
        chain_seq: 0,
        prev_hash: Buffer.alloc(0),
        row_hash: Buffer.alloc(0),
      })
      .returning(['id', 'row_hash'])
      .executeTakeFirstOrThrow();
    if (expected && !row.row_hash.equals(expected)) {
      // Cannot happen under the chain lock; refuse rather than store a MAC of another hash.
      throw new Error('audit chain moved while the row was signed; nothing was written');
    }
    return row.id;
  };
  if (!signer) return insert(db, null, null);
  // Keyed: take the chain lock first (the trigger takes it again, re-entrantly), compute the hash
  // the trigger will compute, and sign it. Inside a transaction so the lock spans all three steps.
  const signed = async (trx: Kysely<Database>) => {
    await sql`select pg_advisory_xact_lock(${sql.raw(AUDIT_CHAIN_LOCK)})`.execute(trx);
    const hash = await sql<{ h: Buffer }>`
      with head as (select chain_seq, row_hash from admin.audit_log order by chain_seq desc limit 1)
      select admin.audit_row_hash(
        coalesce((select row_hash from head), decode(repeat('00', 32), 'hex')),
        coalesce((select chain_seq from head), 0) + 1, now(),
        ${values.actor_id}::uuid, ${values.actor_email}, ${values.actor_role}, ${values.action},
        ${values.target_type}, ${values.target_id}, ${values.before}::jsonb, ${values.after}::jsonb,
        ${values.reason}, ${values.outcome}, ${values.request_id}::uuid, ${values.command}) as h`.execute(
      trx,
    );
    const expected = hash.rows[0]!.h;
    return insert(trx, auditMac(signer.key, expected, op.identity ?? null), expected);
  };
  return db.isTransaction ? signed(db) : db.transaction().execute(signed);
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  since?: Date;
  limit?: number;
}

export async function listAudit(db: Kysely<Database>, filter: AuditFilter = {}) {
  let query = db
    .selectFrom('admin.audit_log')
    .select([
      'id',
      'chain_seq',
      'at',
      'actor_email',
      'actor_role',
      'action',
      'target_type',
      'target_id',
      'before',
      'after',
      'reason',
      'outcome',
      'request_id',
      'command',
    ])
    .orderBy('chain_seq', 'desc')
    .limit(filter.limit ?? 100);
  const actor = filter.actor?.toLowerCase();
  if (actor) query = query.where((eb) => eb(eb.fn('lower', ['actor_email']), '=', actor));
  if (filter.action) {
    // `policy` matches policy.*, `policy.activate` matches exactly.
    query = filter.action.includes('.')
      ? query.where('action', '=', filter.action)
      : query.where('action', 'like', `${filter.action.replace(/[\\%_]/g, (c) => `\\${c}`)}.%`);
  }
  if (filter.target) {
    const [type, id] = filter.target.includes(':')
      ? filter.target.split(/:(.*)/s)
      : [filter.target, undefined];
    query = query.where('target_type', '=', type!);
    if (id) query = query.where('target_id', '=', id);
  }
  if (filter.since) query = query.where('at', '>=', filter.since);
  return query.execute();
}

export interface ChainHead {
  chainSeq: number;
  /** row_hash of the newest row, hex. */
  hash: string;
}

/** `<seq>:<hex row_hash>`: a point of the chain kept outside the database (write-once storage). */
export interface Anchor {
  chainSeq: number;
  hash: string;
}

export function parseAnchor(text: string): Anchor | null {
  const m = /^(\d+):([0-9a-f]{64})$/i.exec(text.trim());
  if (!m) return null;
  return { chainSeq: Number(m[1]), hash: m[2]!.toLowerCase() };
}

export function formatAnchor(head: ChainHead): string {
  return `${head.chainSeq}:${head.hash}`;
}

export interface ChainVerdict {
  ok: boolean;
  rows: number;
  /** The newest row (what `audit anchor` prints); null for an empty trail. */
  head: ChainHead | null;
  /** Rows carrying a valid MAC, and rows written without a key (before SUMDA_AUDIT_KEY was set). */
  keyed: number;
  unkeyed: number;
  /** Whether the MACs could be checked (SUMDA_AUDIT_KEY configured). */
  macsChecked: boolean;
  /** The first row whose hash, link or MAC does not match, if any. */
  firstBroken?: { id: number; chainSeq: number; problem: string };
  /** The anchor checked, when one was given. */
  anchor?: Anchor;
}

export interface VerifyOptions {
  batchSize?: number;
  /** SUMDA_AUDIT_KEY: every signed row's MAC is checked with the key its mac_key_id names. */
  keys?: readonly AuditKey[] | undefined;
  /** A head recorded earlier: that row must still exist with that hash, and the chain must reach it. */
  anchor?: Anchor | undefined;
}

/**
 * Recomputes every row's hash in order (server-side, in batches), checks each link and, with the
 * audit keys, each MAC; a signed row may never be followed by an unsigned one (stripping the MACs
 * off a rewritten tail). With an anchor, the anchored row must be there unchanged: a tail deleted
 * back past it, or any row before it rewritten, is found.
 */
export async function verifyAuditChain(
  db: Kysely<Database>,
  options: VerifyOptions | number = {},
): Promise<ChainVerdict> {
  const { batchSize = 5000, keys, anchor } = typeof options === 'number' ? { batchSize: options } : options;
  const byId = new Map((keys ?? []).map((k) => [k.id, k.key]));
  let previous: Buffer = Buffer.alloc(32);
  let expectedSeq = 1;
  let rows = 0;
  let keyed = 0;
  let unkeyed = 0;
  let sawKeyed = false;
  let head: ChainHead | null = null;
  let anchorSeen = false;
  const verdict = (ok: boolean, firstBroken?: ChainVerdict['firstBroken']): ChainVerdict => ({
    ok,
    rows,
    head,
    keyed,
    unkeyed,
    macsChecked: byId.size > 0,
    ...(firstBroken ? { firstBroken } : {}),
    ...(anchor ? { anchor } : {}),
  });
  for (;;) {
    const batch = await sql<{
      id: number;
      chain_seq: number;
      prev_hash: Buffer;
      row_hash: Buffer;
      recomputed: Buffer;
      mac: Buffer | null;
      mac_key_id: string | null;
      actor_identity: string | null;
    }>`
      select id, chain_seq, prev_hash, row_hash, mac, mac_key_id, actor_identity,
             admin.audit_row_hash(prev_hash, chain_seq, at, actor_id, actor_email, actor_role, action,
                                  target_type, target_id, before, after, reason, outcome, request_id, command) as recomputed
      from admin.audit_log
      where chain_seq >= ${expectedSeq}
      order by chain_seq
      limit ${batchSize}`.execute(db);
    for (const row of batch.rows) {
      const broken = (problem: string) => verdict(false, { id: row.id, chainSeq: row.chain_seq, problem });
      if (row.chain_seq !== expectedSeq)
        return broken(`expected chain_seq ${expectedSeq}, found ${row.chain_seq}`);
      if (!row.prev_hash.equals(previous)) return broken('prev_hash does not match the previous row');
      if (!row.row_hash.equals(row.recomputed)) return broken('row_hash does not match its contents');
      if (row.mac) {
        sawKeyed = true;
        const key = byId.get(row.mac_key_id!);
        if (byId.size > 0) {
          if (!key) return broken(`signed with audit key ${row.mac_key_id}, which is not in SUMDA_AUDIT_KEY`);
          const mac = auditMac(key, row.row_hash, row.actor_identity);
          if (mac.length !== row.mac.length || !timingSafeEqual(mac, row.mac))
            return broken(`MAC does not match under audit key ${row.mac_key_id}: rewritten without the key`);
        }
        keyed += 1;
      } else {
        if (sawKeyed) return broken('unsigned row after signed ones: the MACs were stripped');
        unkeyed += 1;
      }
      if (anchor && row.chain_seq === anchor.chainSeq) {
        if (row.row_hash.toString('hex') !== anchor.hash)
          return broken(
            `does not match the anchor ${formatAnchor(anchor)}: the chain up to it was rewritten`,
          );
        anchorSeen = true;
      }
      previous = row.row_hash;
      head = { chainSeq: row.chain_seq, hash: row.row_hash.toString('hex') };
      expectedSeq += 1;
      rows += 1;
    }
    if (batch.rows.length < batchSize) break;
  }
  if (anchor && !anchorSeen) {
    return verdict(false, {
      id: 0,
      chainSeq: anchor.chainSeq,
      problem: `the anchored row ${anchor.chainSeq} is gone (the chain ends at ${head?.chainSeq ?? 0}): rows were removed from its end`,
    });
  }
  return verdict(true);
}
