/**
 * Operator accounts: the first admin is bootstrapped once (even under concurrent attempts), then
 * admins create, promote, demote and disable operators — each change with its audit row — and the
 * installation can never lose its last active admin. Passwords are scrypt hashes and never echoed.
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Actor, resolveActor } from '../../src/admins/actor.ts';
import { bootstrapAdmin, createAdmin, disableAdmin, listAdmins, setRole } from '../../src/admins/index.ts';
import { verifyPassword } from '../../src/admins/password.ts';
import { createDb } from '../../src/db/connect.ts';
import { PermissionDeniedError, UsageError } from '../../src/errors.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase } from '../support/db.ts';
import { auditRows, auditText, cliEnv, errorLines, lastSeq, operation } from './support.ts';

const database = useTestDatabase();
let lead: Actor;

beforeAll(async () => {
  const row = await bootstrapAdmin(database.db, operation(null, 'sumda admin create lead --bootstrap'), {
    email: 'Lead@Sumda.test',
    displayName: '운영 리드',
  });
  lead = { id: row.id, email: row.email, role: 'admin' };
});

describe('bootstrap', () => {
  it('creates the first admin with an audit row naming it as the actor', async () => {
    expect(lead.email).toBe('lead@sumda.test');
    const [row] = await auditRows(database.db, { action: 'admin.bootstrap' });
    expect(row).toMatchObject({
      actor_id: lead.id,
      actor_email: 'lead@sumda.test',
      actor_role: 'admin',
      target_type: 'admin',
      target_id: lead.id,
      after: { email: 'lead@sumda.test', role: 'admin', password: 'none' },
      outcome: 'success',
      command: 'sumda admin create lead --bootstrap',
    });
  });

  it('is refused once an admin exists, in the domain and through the CLI (exit 2)', async () => {
    const before = await lastSeq(database.db);
    await expect(
      bootstrapAdmin(database.db, operation(null), { email: 'second@sumda.test' }),
    ).rejects.toThrow(UsageError);
    const r = await runSumda(['admin', 'create', 'third@sumda.test', '--bootstrap'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      'error: sumda already has an admin; --bootstrap only creates the first one',
    ]);
    expect(r.stderr).toContain('lead@sumda.test');
    expect(await lastSeq(database.db)).toBe(before);
    const emails = (await listAdmins(database.db, { includeDisabled: true })).map((a) => a.email);
    expect(emails).not.toContain('second@sumda.test');
    expect(emails).not.toContain('third@sumda.test');
  });

  it('concurrent bootstraps of an empty installation make exactly one admin', async () => {
    const fresh = await createTestDatabase();
    const dbs = Array.from({ length: 6 }, () => createDb(fresh.url, { max: 1 }));
    try {
      const results = await Promise.allSettled(
        dbs.map((db, i) => bootstrapAdmin(db, operation(null), { email: `boot${i}@sumda.test` })),
      );
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      for (const r of lost) expect(r.reason).toBeInstanceOf(UsageError);
      const admins = await listAdmins(dbs[0]!, { includeDisabled: true });
      expect(admins).toHaveLength(1);
      expect(admins[0]!.role).toBe('admin');
      expect(await auditRows(dbs[0]!, { action: 'admin.bootstrap' })).toHaveLength(1);
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
      await fresh.drop();
    }
  });
});

describe('create, set-role, disable', () => {
  it('create writes the account and one audit row with the request id and command line', async () => {
    const op = operation(lead, 'sumda admin create mina@sumda.test --role manager');
    const mina = await createAdmin(database.db, op, {
      email: 'mina@sumda.test',
      role: 'manager',
      displayName: '미나',
    });
    expect(mina.role).toBe('manager');
    const rows = await auditRows(database.db, { action: 'admin.create', targetId: mina.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor_id: lead.id,
      actor_email: lead.email,
      actor_role: 'admin',
      before: null,
      after: { email: 'mina@sumda.test', role: 'manager', password: 'none' },
      request_id: op.requestId,
      command: op.command,
      outcome: 'success',
    });
    const listed = await listAdmins(database.db);
    expect(listed.find((a) => a.email === 'mina@sumda.test')).toMatchObject({
      role: 'manager',
      display_name: '미나',
      created_by: 'lead@sumda.test',
      has_password: false,
    });
  });

  it('refuses a duplicate e-mail (case-insensitively) and an invalid one, without an audit row', async () => {
    const before = await lastSeq(database.db);
    await expect(
      createAdmin(database.db, operation(lead), { email: 'MINA@sumda.test', role: 'operator' }),
    ).rejects.toThrow(/already exists/);
    await expect(
      createAdmin(database.db, operation(lead), { email: 'not-an-email', role: 'operator' }),
    ).rejects.toThrow(UsageError);
    expect(await lastSeq(database.db)).toBe(before);
  });

  it('set-role records before/after and the reason; an unchanged role writes nothing', async () => {
    const op = operation(lead, 'sumda admin set-role mina@sumda.test admin --reason on-call');
    const result = await setRole(database.db, op, 'mina@sumda.test', 'admin', 'on-call lead');
    expect(result).toMatchObject({ role: 'admin', changed: true });
    const rows = await auditRows(database.db, { action: 'admin.set_role' });
    expect(rows.at(-1)).toMatchObject({
      target_id: result.id,
      before: { role: 'manager' },
      after: { role: 'admin' },
      reason: 'on-call lead',
      request_id: op.requestId,
      command: op.command,
    });
    const seq = await lastSeq(database.db);
    const again = await setRole(database.db, operation(lead), 'mina@sumda.test', 'admin', 'again');
    expect(again.changed).toBe(false);
    expect(await lastSeq(database.db)).toBe(seq);
    await setRole(database.db, operation(lead), 'mina@sumda.test', 'manager', 'back to manager');
  });

  it('the last active admin can be neither demoted nor disabled, and nobody disables themselves', async () => {
    const before = await lastSeq(database.db);
    await expect(setRole(database.db, operation(lead), lead.email, 'manager', 'oops')).rejects.toThrow(
      'refusing: this is the last active admin',
    );
    await expect(disableAdmin(database.db, operation(lead), lead.email, 'oops')).rejects.toThrow(
      'refusing to disable your own account',
    );
    expect(await lastSeq(database.db)).toBe(before);

    // With a second admin, one may step down; then the other is the last one. A stale actor (resolved
    // before it was demoted) is the only way left to aim at the last admin: still refused.
    const row = await createAdmin(database.db, operation(lead), { email: 'sora@sumda.test', role: 'admin' });
    const sora: Actor = { id: row.id, email: row.email, role: 'admin' };
    await setRole(database.db, operation(sora), lead.email, 'manager', 'stepping down');
    const mark = await lastSeq(database.db);
    await expect(disableAdmin(database.db, operation(lead), sora.email, 'coup')).rejects.toThrow(
      'refusing: this is the last active admin',
    );
    await expect(setRole(database.db, operation(lead), sora.email, 'operator', 'coup')).rejects.toThrow(
      'refusing: this is the last active admin',
    );
    expect(await lastSeq(database.db)).toBe(mark);
    const soraNow = await resolveActor(database.db, sora.email);
    expect(soraNow.role).toBe('admin');
    await setRole(database.db, operation(sora), lead.email, 'admin', 'back');
  });

  it('disable stamps disabled_at with an audit row; a disabled account cannot act (exit 6)', async () => {
    const jun = await createAdmin(database.db, operation(lead), {
      email: 'jun@sumda.test',
      role: 'operator',
    });
    const op = operation(lead, 'sumda admin disable jun@sumda.test --reason left');
    const result = await disableAdmin(database.db, op, 'jun@sumda.test', 'left the team');
    expect(result.disabled_at).toBeInstanceOf(Date);
    const [row] = await auditRows(database.db, { action: 'admin.disable', targetId: jun.id });
    expect(row).toMatchObject({
      before: { disabled_at: null },
      reason: 'left the team',
      request_id: op.requestId,
      command: op.command,
    });
    expect(new Date((row!.after as { disabled_at: string }).disabled_at).getTime()).toBe(
      result.disabled_at!.getTime(),
    );
    await expect(disableAdmin(database.db, operation(lead), 'jun@sumda.test', 'twice')).rejects.toThrow(
      /already disabled/,
    );
    expect((await listAdmins(database.db)).map((a) => a.email)).not.toContain('jun@sumda.test');
    expect((await listAdmins(database.db, { includeDisabled: true })).map((a) => a.email)).toContain(
      'jun@sumda.test',
    );
    await expect(resolveActor(database.db, 'JUN@sumda.test')).rejects.toThrow(PermissionDeniedError);

    const before = await lastSeq(database.db);
    const r = await runSumda(['admin', 'create', 'eve@sumda.test', '--role', 'admin'], {
      env: cliEnv(database.url, 'jun@sumda.test'),
    });
    expect(r.code).toBe(6);
    expect(errorLines(r.stderr)).toEqual(['error: operator account jun@sumda.test is disabled']);
    // The refused attempt itself is recorded, and nothing else.
    expect(await lastSeq(database.db)).toBe(before + 1);
    const [denied] = await auditRows(database.db, { action: 'operator.act' });
    expect(denied).toMatchObject({ outcome: 'denied', target_id: 'jun@sumda.test', actor_id: null });
    const eve = await database.db
      .selectFrom('admin.admins')
      .select('id')
      .where('email', '=', 'eve@sumda.test')
      .executeTakeFirst();
    expect(eve).toBeUndefined();
  });

  it('an unknown actor is bad input (exit 2), not a denial', async () => {
    const r = await runSumda(['admin', 'disable', 'mina@sumda.test', '--reason', 'x'], {
      env: cliEnv(database.url, 'nobody@sumda.test'),
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: no operator account nobody@sumda.test']);
  });
});

describe('passwords and secrets', () => {
  const PASSWORD = '숨다-correct-horse-battery';

  it('--password-stdin stores an scrypt hash; the password is in no audit row and no output', async () => {
    const url = new URL(database.url);
    // The local test server trusts 127.0.0.1, so a password in the URL is accepted and ignored;
    // the point is that the audit trail records the command line with it redacted.
    if (!url.password) url.password = 'db-secret-in-url';
    const dbSecret = decodeURIComponent(url.password);
    const r = await runSumda(
      [
        'admin',
        'create',
        'pw@sumda.test',
        '--role',
        'manager',
        '--password-stdin',
        '--json',
        '--database-url',
        url.toString(),
      ],
      { env: { SUMDA_ACTOR: lead.email }, input: `${PASSWORD}\n` },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ email: 'pw@sumda.test', role: 'manager' });
    const stored = await database.db
      .selectFrom('admin.admins')
      .select(['id', 'password_hash'])
      .where('email', '=', 'pw@sumda.test')
      .executeTakeFirstOrThrow();
    expect(stored.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword(PASSWORD, stored.password_hash!)).toBe(true);
    expect(await verifyPassword(`${PASSWORD}!`, stored.password_hash!)).toBe(false);
    expect(await verifyPassword(PASSWORD, 'md5$whatever')).toBe(false);

    const [row] = await auditRows(database.db, { action: 'admin.create', targetId: stored.id });
    expect(row!.after).toEqual({ email: 'pw@sumda.test', role: 'manager', password: 'set' });
    expect(row!.command).toContain('--password-stdin');
    expect(row!.command).toContain('--database-url');
    expect(row!.command).not.toContain(dbSecret);
    const everything = `${await auditText(database.db)}\n${r.stdout}\n${r.stderr}`;
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(stored.password_hash!);
    expect(everything).not.toContain(dbSecret);
    const listed = await listAdmins(database.db);
    expect(listed.find((a) => a.email === 'pw@sumda.test')?.has_password).toBe(true);
    expect(JSON.stringify(listed)).not.toContain('scrypt');
  });

  it('a short password is refused before anything is written', async () => {
    const before = await lastSeq(database.db);
    const r = await runSumda(['admin', 'create', 'short@sumda.test', '--password-stdin'], {
      env: cliEnv(database.url, lead.email),
      input: 'short\n',
    });
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual(['error: --password-stdin: use at least 12 characters']);
    expect(await lastSeq(database.db)).toBe(before);
    const count = await sql<{
      n: number;
    }>`select count(*)::int as n from admin.admins where email = 'short@sumda.test'`.execute(database.db);
    expect(count.rows[0]!.n).toBe(0);
  });
});
