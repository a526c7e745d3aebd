/**
 * Shared fixtures of the admin, audit and policy tests: an Operation for a given actor, a team of
 * one admin, one manager and one operator, the audit rows as plain values, and the CLI environment.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Actor } from '../../src/admins/actor.ts';
import { bootstrapAdmin, createAdmin } from '../../src/admins/index.ts';
import type { Operation } from '../../src/audit/index.ts';
import type { Db } from '../../src/db/connect.ts';

export function operation(actor: Actor | null, command = 'sumda (test)'): Operation {
  return { actor, requestId: randomUUID(), command };
}

export interface Team {
  admin: Actor;
  manager: Actor;
  operator: Actor;
}

/** Bootstraps the first admin and creates a manager and an operator (three audit rows). */
export async function seedTeam(db: Db): Promise<Team> {
  const lead = await bootstrapAdmin(db, operation(null), { email: 'lead@sumda.test' });
  const admin: Actor = { id: lead.id, email: lead.email, role: 'admin' };
  const mina = await createAdmin(db, operation(admin), { email: 'mina@sumda.test', role: 'manager' });
  const jun = await createAdmin(db, operation(admin), { email: 'jun@sumda.test', role: 'operator' });
  return {
    admin,
    manager: { id: mina.id, email: mina.email, role: 'manager' },
    operator: { id: jun.id, email: jun.email, role: 'operator' },
  };
}

export interface AuditRow {
  id: number;
  chain_seq: number;
  actor_id: string | null;
  actor_email: string | null;
  actor_role: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  before: unknown;
  after: unknown;
  reason: string | null;
  outcome: string;
  request_id: string | null;
  command: string | null;
}

/** Audit rows in chain order, optionally only those of one action (exact) or after a chain_seq. */
export async function auditRows(
  db: Db,
  filter: { action?: string; targetId?: string; afterSeq?: number } = {},
): Promise<AuditRow[]> {
  let query = db
    .selectFrom('admin.audit_log')
    .select([
      'id',
      'chain_seq',
      'actor_id',
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
    .orderBy('chain_seq');
  if (filter.action) query = query.where('action', '=', filter.action);
  if (filter.targetId) query = query.where('target_id', '=', filter.targetId);
  if (filter.afterSeq !== undefined) query = query.where('chain_seq', '>', filter.afterSeq);
  return (await query.execute()) as AuditRow[];
}

/** The chain_seq of the newest audit row (0 when there is none): a bookmark for "rows since". */
export async function lastSeq(db: Db): Promise<number> {
  const row = await sql<{ seq: number | null }>`select max(chain_seq) as seq from admin.audit_log`.execute(
    db,
  );
  return Number(row.rows[0]?.seq ?? 0);
}

/** Every audit row rendered as text, to search for secrets. */
export async function auditText(db: Db): Promise<string> {
  const rows = await sql<{ t: string }>`select a::text as t from admin.audit_log a`.execute(db);
  return rows.rows.map((r) => r.t).join('\n');
}

/** The environment of a CLI run against the test database, as `actor`. */
export function cliEnv(url: string, actor?: string): Record<string, string | undefined> {
  return { DATABASE_URL: url, SUMDA_ACTOR: actor };
}

/** The `error:` lines a command printed on stderr. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('error:'));
}
