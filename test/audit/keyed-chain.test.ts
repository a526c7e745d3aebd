/**
 * The keyed, anchored audit chain against the attack the unkeyed chain cannot see: the owning role
 * (not a superuser) disables the triggers, deletes a row and recomputes every hash after it. The
 * SHA-256 chain then verifies; the MACs (SUMDA_AUDIT_KEY) do not. Deleting the newest rows breaks no
 * link at all; an anchor kept outside the database finds it. Stripping MACs, a wrong key, an unknown
 * key id and a rewrite behind an anchor are each found and named.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/admins/actor.ts';
import { type AuditKey, formatAnchor, verifyAuditChain, writeAudit } from '../../src/audit/index.ts';
import { errorLines, seedTeam } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dropLogins, urlAs } from '../support/logins.ts';

const database = useTestDatabase();
const key: AuditKey = { id: 'a1', key: randomBytes(32) };
const keyEnv = `${key.id}:${key.key.toString('base64')}`;
let owner: string;
let admin: Actor;

/** As a login of sumda_owner: it owns the table, so it may switch the triggers off. */
async function asOwner(statements: string): Promise<void> {
  const client = new pg.Client({ connectionString: urlAs(database.url, owner) });
  await client.connect();
  try {
    await client.query(`
      alter table admin.audit_log disable trigger user;
      ${statements};
      alter table admin.audit_log enable trigger user;`);
  } finally {
    await client.end();
  }
}

/** Recomputes row_hash and prev_hash of every row from `fromSeq` on, in order: a forger's repair. */
const RECHAIN = (fromSeq: number) => `
  do $$
  declare r record; prev bytea;
  begin
    select row_hash into prev from admin.audit_log where chain_seq < ${fromSeq} order by chain_seq desc limit 1;
    prev := coalesce(prev, decode(repeat('00', 32), 'hex'));
    for r in select * from admin.audit_log where chain_seq >= ${fromSeq} order by chain_seq loop
      update admin.audit_log set prev_hash = prev,
        row_hash = admin.audit_row_hash(prev, r.chain_seq, r.at, r.actor_id, r.actor_email, r.actor_role, r.action,
          r.target_type, r.target_id, r.before, r.after, r.reason, r.outcome, r.request_id, r.command)
        where id = r.id returning row_hash into prev;
    end loop;
  end $$`;

/** Renumbers chain_seq after a deleted row, so no gap shows. */
const CLOSE_GAP = (deletedSeq: number) =>
  `update admin.audit_log set chain_seq = chain_seq - 1 where chain_seq > ${deletedSeq}`;

async function write(action: string, keyed = true): Promise<void> {
  await writeAudit(
    database.db,
    {
      actor: admin,
      requestId: randomUUID(),
      command: 'sumda (test)',
      ...(keyed ? { auditKeys: [key] } : {}),
      identity: 'declared',
    },
    { action, targetType: 'policy', targetId: 'tone', after: { version: 'v1.0.0' } },
  );
}

const env = (extra: Record<string, string> = {}) => ({ DATABASE_URL: database.url, ...extra });

beforeAll(async () => {
  owner = await createLogin('sumda_owner');
  admin = (await seedTeam(database.db)).admin; // three unkeyed rows: written before the key existed
  for (const action of ['policy.publish', 'policy.activate', 'override.set', 'policy.rollback'])
    await write(action);
});

afterAll(() => dropLogins([owner]));

describe('keyed chain', () => {
  it('verifies: 3 older unkeyed rows, 4 signed; the head is printed', async () => {
    const verdict = await verifyAuditChain(database.db, { keys: [key] });
    expect(verdict).toMatchObject({ ok: true, rows: 7, keyed: 4, unkeyed: 3, macsChecked: true });
    const r = await runSumda(['audit', 'verify'], { env: env({ SUMDA_AUDIT_KEY: keyEnv }) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('audit chain intact: 7 rows, 4 signed (MACs checked)');
    expect(r.stdout).toContain(`head ${formatAnchor(verdict.head!)}`);
  });

  it('the owner deletes policy.activate and recomputes the chain: only the MACs notice', {
    timeout: 120_000,
  }, async () => {
    const before = await verifyAuditChain(database.db, { keys: [key] });
    const anchor = formatAnchor(before.head!);
    await asOwner(`delete from admin.audit_log where chain_seq = 5; ${CLOSE_GAP(5)}; ${RECHAIN(5)}`);
    // The unkeyed check is fooled: every link and hash is consistent again.
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, rows: 6 });
    // The MAC of the first re-hashed row does not match.
    expect(await verifyAuditChain(database.db, { keys: [key] })).toMatchObject({
      ok: false,
      firstBroken: {
        chainSeq: 5,
        problem: 'MAC does not match under audit key a1: rewritten without the key',
      },
    });
    // And the anchor taken before is gone (the chain is one row shorter), key or no key.
    const r = await runSumda(['audit', 'verify', '--anchor', anchor], { env: env() });
    expect(r.code).toBe(4);
    expect(errorLines(r.stderr)[0]).toMatch(/anchored row 7 is gone \(the chain ends at 6\)/);
  });
});

describe('anchors', () => {
  let anchor: string;
  beforeAll(async () => {
    await asOwner(`delete from admin.audit_log`);
    for (const action of ['admin.create', 'admin.create', 'admin.create']) await write(action, false);
    for (const action of ['policy.publish', 'policy.activate', 'override.set', 'policy.rollback'])
      await write(action);
    const r = await runSumda(['audit', 'anchor'], { env: env({ SUMDA_AUDIT_KEY: keyEnv }) });
    expect(r.code).toBe(0);
    anchor = r.stdout.trim();
    expect(anchor).toMatch(/^7:[0-9a-f]{64}$/);
  });

  it('deleting the newest rows breaks no link, but the anchor finds it', async () => {
    await write('slip.release');
    await write('slip.release');
    await asOwner(`delete from admin.audit_log where chain_seq >= 6`);
    expect(await verifyAuditChain(database.db, { keys: [key] })).toMatchObject({ ok: true, rows: 5 });
    const r = await runSumda(['audit', 'verify', '--anchor', anchor], {
      env: env({ SUMDA_AUDIT_KEY: keyEnv }),
    });
    expect(r.code).toBe(4);
    expect(errorLines(r.stderr)).toEqual([
      'error: audit chain broken at chain_seq 7: the anchored row 7 is gone (the chain ends at 5): rows were removed from its end',
    ]);
  });

  it('a rewrite before the anchor with the hashes recomputed: the anchored hash differs, even without a key', {
    timeout: 120_000,
  }, async () => {
    await asOwner(`delete from admin.audit_log where chain_seq >= 6`);
    for (const action of ['policy.activate', 'override.set']) await write(action);
    const good = await runSumda(['audit', 'anchor', '--json'], { env: env() });
    const fresh = JSON.parse(good.stdout).anchor as string;
    expect((await runSumda(['audit', 'verify', '--anchor', fresh], { env: env() })).code).toBe(0);
    await asOwner(`update admin.audit_log set reason = 'rewritten' where chain_seq = 2; ${RECHAIN(2)}`);
    const r = await runSumda(['audit', 'verify', '--anchor', fresh, '--json'], { env: env() });
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      firstBroken: { chainSeq: 7, problem: expect.stringContaining('does not match the anchor') },
    });
  });

  it('a malformed anchor is bad input (exit 2)', async () => {
    const r = await runSumda(['audit', 'verify', '--anchor', '7:xyz'], { env: env() });
    expect(r.code).toBe(2);
  });
});

describe('key handling', () => {
  beforeAll(async () => {
    await asOwner(`delete from admin.audit_log`);
    for (const action of ['admin.create', 'admin.create', 'admin.create']) await write(action, false);
    for (const action of ['policy.publish', 'policy.activate']) await write(action);
  });

  it('stripping the MACs off the newest rows is found', async () => {
    await asOwner(`update admin.audit_log set mac = null, mac_key_id = null where chain_seq = 5`);
    expect(await verifyAuditChain(database.db, { keys: [key] })).toMatchObject({
      ok: false,
      firstBroken: { chainSeq: 5, problem: 'unsigned row after signed ones: the MACs were stripped' },
    });
    await asOwner(`delete from admin.audit_log where chain_seq = 5`);
  });

  it('a wrong key fails every signed row; an unknown key id is named; rotation keeps old rows verifiable', async () => {
    const wrong: AuditKey = { id: 'a1', key: randomBytes(32) };
    expect(await verifyAuditChain(database.db, { keys: [wrong] })).toMatchObject({
      ok: false,
      firstBroken: { chainSeq: 4, problem: expect.stringContaining('MAC does not match under audit key a1') },
    });
    const other: AuditKey = { id: 'a2', key: randomBytes(32) };
    expect(await verifyAuditChain(database.db, { keys: [other] })).toMatchObject({
      ok: false,
      firstBroken: { chainSeq: 4, problem: 'signed with audit key a1, which is not in SUMDA_AUDIT_KEY' },
    });
    // Rotation: the new key first signs new rows, the old one after it still verifies old rows.
    await writeAudit(
      database.db,
      { actor: admin, requestId: randomUUID(), command: 'sumda (test)', auditKeys: [other, key] },
      { action: 'override.set' },
    );
    expect(await verifyAuditChain(database.db, { keys: [other, key] })).toMatchObject({ ok: true, keyed: 2 });
  });
});
