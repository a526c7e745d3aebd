/**
 * The audit trail (admin.audit_log): who did what to which target, why, with before/after, the
 * request id and the command line — written by every mutating command inside the same
 * transaction as its change, so the two commit or vanish together. The table is append-only and
 * hash-chained by the database itself (chain_seq, prev_hash, row_hash are set by a trigger);
 * `verifyAuditChain` walks it and names the first row that does not match.
 *
 * Never put secrets or diary text into before/after: they hold ids, states and settings.
 */
import { type Kysely, sql } from 'kysely';
import type { Actor } from '../admins/actor.ts';
import type { Database } from '../db/types.ts';

/** The operator-facing context of one invocation, passed from the CLI into domain functions. */
export interface Operation {
  actor: Actor | null;
  requestId: string;
  /** The command line with secrets removed. */
  command: string;
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
  const row = await db
    .insertInto('admin.audit_log')
    .values({
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
      // Overwritten by the BEFORE INSERT trigger, which computes the chain.
      chain_seq: 0,
      prev_hash: Buffer.alloc(0),
      row_hash: Buffer.alloc(0),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
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
  if (filter.actor)
    query = query.where((eb) => eb(eb.fn('lower', ['actor_email']), '=', filter.actor!.toLowerCase()));
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

export interface ChainVerdict {
  ok: boolean;
  rows: number;
  /** The first row whose hash or link does not match, if any. */
  firstBroken?: { id: number; chainSeq: number; problem: string };
}

/** Recomputes every row's hash in order (server-side, in batches) and checks each link. */
export async function verifyAuditChain(db: Kysely<Database>, batchSize = 5000): Promise<ChainVerdict> {
  let previous: Buffer = Buffer.alloc(32);
  let expectedSeq = 1;
  let rows = 0;
  for (;;) {
    const batch = await sql<{
      id: number;
      chain_seq: number;
      prev_hash: Buffer;
      row_hash: Buffer;
      recomputed: Buffer;
    }>`
      select id, chain_seq, prev_hash, row_hash,
             admin.audit_row_hash(prev_hash, chain_seq, at, actor_id, actor_email, actor_role, action,
                                  target_type, target_id, before, after, reason, outcome, request_id, command) as recomputed
      from admin.audit_log
      where chain_seq >= ${expectedSeq}
      order by chain_seq
      limit ${batchSize}`.execute(db);
    for (const row of batch.rows) {
      const broken = (problem: string): ChainVerdict => ({
        ok: false,
        rows,
        firstBroken: { id: row.id, chainSeq: row.chain_seq, problem },
      });
      if (row.chain_seq !== expectedSeq)
        return broken(`expected chain_seq ${expectedSeq}, found ${row.chain_seq}`);
      if (!row.prev_hash.equals(previous)) return broken('prev_hash does not match the previous row');
      if (!row.row_hash.equals(row.recomputed)) return broken('row_hash does not match its contents');
      previous = row.row_hash;
      expectedSeq += 1;
      rows += 1;
    }
    if (batch.rows.length < batchSize) return { ok: true, rows };
  }
}
