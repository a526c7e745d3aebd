/**
 * The database is the boundary: raw SQL from a login of each group role is refused where
 * src/admins/permissions.ts refuses the role, and no runtime login can switch off a trigger, alter a
 * table or rewrite an append-only log — whatever the CLI does or does not check.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/connect.ts';
import { seedTeam, type Team } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dbAs, dropLogins, type GroupRole } from '../support/logins.ts';

const database = useTestDatabase();
const INSUFFICIENT_PRIVILEGE = '42501';
const logins: string[] = [];
const conns: Db[] = [];
const as: Partial<Record<'worker' | 'operator' | 'manager' | 'admin', Db>> = {};
let team: Team;
let diaryId: string;
let userId: string;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  for (const role of ['worker', 'operator', 'manager', 'admin'] as const) {
    const login = await createLogin(`sumda_${role}` as GroupRole);
    logins.push(login);
    const db = dbAs(database.url, login);
    conns.push(db);
    as[role] = db;
  }
  userId = (
    await sql<{ id: string }>`insert into public.users (nickname) values ('경계') returning id`.execute(
      database.db,
    )
  ).rows[0]!.id;
  // A well-formed header (version 1, key id "k1", IV, tag) and a few bytes: the CHECK only reads the header.
  const blob = Buffer.concat([Buffer.from([1, 2]), Buffer.from('k1'), Buffer.alloc(28 + 4, 7)]);
  diaryId = (
    await sql<{
      id: string;
    }>`insert into public.diary_entries (user_id, content_enc) values (${userId}, ${blob}) returning id`.execute(
      database.db,
    )
  ).rows[0]!.id;
});

afterAll(async () => {
  for (const db of conns) await db.destroy();
  await dropLogins(logins);
});

const policyInsert = (db: Db, version: string) =>
  sql`insert into admin.ai_policy_versions (policy_name, version, scope, config, content_hash, created_by)
      values ('tone', ${version}, 'global', '{}'::jsonb, 'x', ${team.admin.id})`.execute(db);

describe('operator login', () => {
  it('cannot publish a policy, a prompt, an override or an operator with raw SQL', async () => {
    const db = as.operator!;
    expect(await code(policyInsert(db, 'v9.0.1'))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(
      await code(
        sql`insert into admin.prompt_registry (name, model, version, template, content_hash) values ('p', 'm', 'v', 't', 'h')`.execute(
          db,
        ),
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(
      await code(
        sql`insert into admin.ai_overrides (target, key, value, reason, created_by) values ('global', 'tone.voice', '"x"', 'r', ${team.operator.id})`.execute(
          db,
        ),
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(
      await code(sql`update admin.admins set role = 'admin' where id = ${team.operator.id}`.execute(db)),
    ).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update public.users set state = 'banned' where id = ${userId}`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
  });

  it('reads what operators read, but not password hashes, private metadata or diary ciphertext', async () => {
    const db = as.operator!;
    expect(await code(sql`select id, email, role from admin.admins`.execute(db))).toBe('ok');
    expect(await code(sql`select password_hash from admin.admins`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`select summary from public.analysis_results`.execute(db))).toBe('ok');
    expect(await code(sql`select metadata from public.analysis_results`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`select content_enc from public.diary_entries`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`select moderation_state from public.diary_entries`.execute(db))).toBe('ok');
  });

  it('moderates: moves the state and writes the log, but cannot rewrite the log afterwards', async () => {
    const db = as.operator!;
    await db.transaction().execute(async (trx) => {
      await sql`update public.diary_entries set moderation_state = 'blocked' where id = ${diaryId}`.execute(
        trx,
      );
      await sql`insert into admin.content_moderation_logs (diary_id, action, reason, admin_id)
                values (${diaryId}, 'block', 'test', ${team.operator.id})`.execute(trx);
    });
    expect(await code(sql`update admin.content_moderation_logs set reason = 'x'`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`delete from admin.content_moderation_logs`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(
      await code(
        sql`update public.diary_entries set content_enc = '\\x00' where id = ${diaryId}`.execute(db),
      ),
    ).toBe(INSUFFICIENT_PRIVILEGE);
  });
});

describe('manager login', () => {
  it('sets overrides and reads private metadata, but cannot publish or activate a policy', async () => {
    const db = as.manager!;
    expect(
      await code(
        sql`insert into admin.ai_overrides (target, key, value, reason, created_by) values ('global', 'tone.voice', '"warm"', 'r', ${team.manager.id})`.execute(
          db,
        ),
      ),
    ).toBe('ok');
    expect(await code(sql`select metadata from public.analysis_results`.execute(db))).toBe('ok');
    expect(await code(policyInsert(db, 'v9.0.2'))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update admin.ai_policy_active set reason = 'x'`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(
      await code(sql`insert into admin.admins (email, role) values ('x@sumda.test', 'admin')`.execute(db)),
    ).toBe(INSUFFICIENT_PRIVILEGE);
  });
});

describe('admin login', () => {
  it('publishes a policy version, but cannot change it afterwards nor touch the audit log', async () => {
    const db = as.admin!;
    expect(await code(policyInsert(db, 'v9.0.3'))).toBe('ok');
    expect(await code(sql`update admin.ai_policy_versions set config = '{"x":1}'`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`delete from admin.audit_log`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update admin.audit_log set reason = 'x'`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`truncate admin.audit_log`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
  });
});

describe('every runtime login', () => {
  it('cannot disable a trigger, alter or create a table, or switch replication role', async () => {
    for (const [role, db] of Object.entries(as)) {
      const attempts = {
        disableTrigger: await code(sql`alter table admin.audit_log disable trigger user`.execute(db!)),
        disablePolicyTrigger: await code(
          sql`alter table admin.ai_policy_versions disable trigger ai_policy_versions_immutable`.execute(db!),
        ),
        alter: await code(sql`alter table public.users add column x int`.execute(db!)),
        create: await code(sql`create table admin.sneaky (id int)`.execute(db!)),
        createPublic: await code(sql`create table public.sneaky (id int)`.execute(db!)),
        createQueueTable: await code(sql`create table pgboss.sneaky (id int)`.execute(db!)),
        replicationRole: await code(sql`set session_replication_role = replica`.execute(db!)),
        becomeOwner: await code(sql`set role sumda_owner`.execute(db!)),
      };
      expect({ role, ...attempts }).toEqual({
        role,
        disableTrigger: INSUFFICIENT_PRIVILEGE,
        disablePolicyTrigger: INSUFFICIENT_PRIVILEGE,
        alter: INSUFFICIENT_PRIVILEGE,
        create: INSUFFICIENT_PRIVILEGE,
        createPublic: INSUFFICIENT_PRIVILEGE,
        createQueueTable: INSUFFICIENT_PRIVILEGE,
        replicationRole: INSUFFICIENT_PRIVILEGE,
        becomeOwner: INSUFFICIENT_PRIVILEGE,
      });
    }
  });

  it('writes an audit row through the chain trigger, never its hash', async () => {
    const db = as.operator!;
    const row = await sql<{ chain_seq: number }>`
      insert into admin.audit_log (action, outcome, request_id, chain_seq, prev_hash, row_hash)
      values ('test.boundary', 'success', ${randomUUID()}, 999999, '\\x00', '\\x00') returning chain_seq`.execute(
      db,
    );
    expect(row.rows[0]!.chain_seq).toBeLessThan(999999);
  });
});

describe('worker login', () => {
  it('writes what the queues need and nothing an operator decides', async () => {
    const db = as.worker!;
    expect(await code(sql`select id, content_enc from public.diary_entries`.execute(db))).toBe('ok');
    expect(
      await code(
        sql`insert into admin.error_logs (severity, service, message) values ('error', 'worker', 'x')`.execute(
          db,
        ),
      ),
    ).toBe('ok');
    expect(await code(sql`select count(*) from pgboss.job`.execute(db))).toBe('ok');
    expect(await code(policyInsert(db, 'v9.0.4'))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update admin.admins set role = 'admin'`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`select password_hash from admin.admins`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await code(sql`update public.users set state = 'banned'`.execute(db))).toBe(
      INSUFFICIENT_PRIVILEGE,
    );
    expect(await code(sql`delete from sumda.queue_state`.execute(db))).toBe(INSUFFICIENT_PRIVILEGE);
  });
});

describe('append-only histories (even for the owner, unless it disables the trigger)', () => {
  it('refuses UPDATE, DELETE and TRUNCATE of moderation and status logs; a cascade from the parent still works', async () => {
    const db = database.db;
    await sql`insert into admin.user_status_logs (user_id, old_state, new_state, reason) values (${userId}, 'active', 'inactive', 't')`.execute(
      db,
    );
    for (const statement of [
      sql`update admin.content_moderation_logs set reason = 'rewritten'`,
      sql`delete from admin.content_moderation_logs`,
      sql`truncate admin.content_moderation_logs`,
      sql`update admin.user_status_logs set reason = 'rewritten'`,
      sql`delete from admin.user_status_logs`,
      sql`truncate admin.user_status_logs`,
    ]) {
      expect(await code(statement.execute(db))).toBe('P0001');
    }
    await sql`delete from public.users where id = ${userId}`.execute(db);
    const left = await sql<{ n: number }>`
      select (select count(*) from admin.user_status_logs where user_id = ${userId})
           + (select count(*) from admin.content_moderation_logs where diary_id = ${diaryId}) as n`.execute(
      db,
    );
    expect(left.rows[0]!.n).toBe(0);
  });
});
