/**
 * Reading the audit trail (`audit list` filters, --json) and verifying its hash chain: a clean chain
 * passes; an edited row, a re-hashed edited row and a deleted row are each found and named. The
 * tampering is done as the superuser on this file's own database with the user triggers disabled.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { listAudit, verifyAuditChain } from '../../src/audit/index.ts';
import { setOverride } from '../../src/policy/overrides.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { auditRows, cliEnv, errorLines, operation, seedTeam, type Team } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
let team: Team;

async function superuser(statements: string): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
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

beforeAll(async () => {
  team = await seedTeam(database.db);
  const admin = operation(team.admin);
  await publishVersion(database.db, admin, {
    name: 'tone',
    version: 'v1.0.0',
    scope: 'global',
    config: DEFAULT_POLICIES.tone,
    notes: 'first',
  });
  await activateVersion(database.db, operation(team.admin), {
    name: 'tone',
    version: 'v1.0.0',
    scope: 'global',
    reason: 'launch',
  });
  await setOverride(database.db, operation(team.manager), {
    target: 'user:u1',
    key: 'tone.voice',
    value: 'warm',
    reason: 'support case',
    expiresAt: new Date(Date.now() + 86_400_000),
    permanent: false,
    rolloutPercent: null,
  });
});

describe('audit list', () => {
  it('filters by actor, action (exact or prefix), target and since; newest first', async () => {
    const all = await listAudit(database.db);
    // bootstrap, 2 × admin.create, publish, activate, override.set
    expect(all.map((r) => r.action)).toEqual([
      'override.set',
      'policy.activate',
      'policy.publish',
      'admin.create',
      'admin.create',
      'admin.bootstrap',
    ]);
    expect(all.map((r) => r.chain_seq)).toEqual([6, 5, 4, 3, 2, 1]);

    const byManager = await listAudit(database.db, { actor: 'MINA@sumda.test' });
    expect(byManager.map((r) => r.action)).toEqual(['override.set']);
    expect((await listAudit(database.db, { action: 'policy' })).map((r) => r.action)).toEqual([
      'policy.activate',
      'policy.publish',
    ]);
    expect((await listAudit(database.db, { action: 'policy.publish' })).map((r) => r.action)).toEqual([
      'policy.publish',
    ]);
    expect(await listAudit(database.db, { action: 'polic' })).toEqual([]);
    expect((await listAudit(database.db, { target: 'admin' })).map((r) => r.action)).toEqual([
      'admin.create',
      'admin.create',
      'admin.bootstrap',
    ]);
    expect(
      (await listAudit(database.db, { target: 'policy_pointer:tone|global' })).map((r) => r.action),
    ).toEqual(['policy.activate']);
    expect(await listAudit(database.db, { target: 'policy_pointer:slip|global' })).toEqual([]);

    const third = all.find((r) => r.chain_seq === 3)!;
    const since = await listAudit(database.db, { since: third.at });
    expect(since.map((r) => r.chain_seq)).toEqual([6, 5, 4, 3]);
    expect(await listAudit(database.db, { since: new Date(third.at.getTime() + 3_600_000) })).toEqual([]);
    expect((await listAudit(database.db, { limit: 2 })).map((r) => r.chain_seq)).toEqual([6, 5]);
  });

  it('--json through the CLI, with filters', async () => {
    const r = await runSumda(['audit', 'list', '--action', 'policy', '--actor', team.admin.email, '--json'], {
      env: cliEnv(database.url),
    });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { action: string; actor_email: string; after: unknown }[];
    expect(rows.map((x) => x.action)).toEqual(['policy.activate', 'policy.publish']);
    expect(rows.every((x) => x.actor_email === team.admin.email)).toBe(true);
    expect(rows[0]!.after).toMatchObject({ version: 'v1.0.0' });

    const table = await runSumda(['audit', 'list', '--since', '1h', '--target', 'override'], {
      env: cliEnv(database.url),
    });
    expect(table.code).toBe(0);
    expect(table.stdout).toContain('override.set');
    expect(table.stdout).toContain('support case');
    expect(table.stdout).not.toContain('policy.activate');
  });
});

describe('audit verify', () => {
  it('passes on a clean chain (also in small batches) through the domain and the CLI', async () => {
    expect(await verifyAuditChain(database.db)).toMatchObject({ ok: true, rows: 6, unkeyed: 6 });
    expect(await verifyAuditChain(database.db, 2)).toMatchObject({
      ok: true,
      rows: 6,
      head: { chainSeq: 6 },
    });
    const r = await runSumda(['audit', 'verify'], { env: cliEnv(database.url) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('audit chain intact: 6 rows');
  });

  it('an edited row: exit 4 naming that row; restoring it heals the chain', async () => {
    const [row] = await auditRows(database.db, { action: 'policy.activate' });
    await superuser(`update admin.audit_log set reason = 'nothing to see' where id = ${row!.id}`);
    const verdict = await verifyAuditChain(database.db, 2);
    expect(verdict).toMatchObject({
      ok: false,
      rows: 4,
      firstBroken: { id: row!.id, chainSeq: 5, problem: 'row_hash does not match its contents' },
    });
    const r = await runSumda(['audit', 'verify'], { env: cliEnv(database.url) });
    expect(r.code).toBe(4);
    expect(errorLines(r.stderr)).toEqual([
      `error: audit chain broken at row id ${row!.id} (chain_seq 5): row_hash does not match its contents`,
    ]);
    const json = await runSumda(['audit', 'verify', '--json'], { env: cliEnv(database.url) });
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, firstBroken: { id: row!.id } });

    await superuser(`update admin.audit_log set reason = 'launch' where id = ${row!.id}`);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it('an edited row whose hash was recomputed breaks the link of the next row', async () => {
    const [row] = await auditRows(database.db, { action: 'policy.publish' });
    const [next] = await auditRows(database.db, { action: 'policy.activate' });
    const recompute = `admin.audit_row_hash(prev_hash, chain_seq, at, actor_id, actor_email, actor_role, action,
      target_type, target_id, before, after, reason, outcome, request_id, command)`;
    await superuser(`
      update admin.audit_log set reason = 'rewritten' where id = ${row!.id};
      update admin.audit_log set row_hash = ${recompute} where id = ${row!.id}`);
    expect(await verifyAuditChain(database.db)).toMatchObject({
      ok: false,
      firstBroken: { id: next!.id, chainSeq: 5, problem: 'prev_hash does not match the previous row' },
    });
    await superuser(`
      update admin.audit_log set reason = 'first' where id = ${row!.id};
      update admin.audit_log set row_hash = ${recompute} where id = ${row!.id}`);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  it('a deleted row in the middle: the row after it is named', async () => {
    const rows = await auditRows(database.db);
    const victim = rows.find((r) => r.chain_seq === 3)!;
    const successor = rows.find((r) => r.chain_seq === 4)!;
    await superuser(`delete from admin.audit_log where id = ${victim.id}`);
    expect(await verifyAuditChain(database.db, 2)).toMatchObject({
      ok: false,
      rows: 2,
      firstBroken: { id: successor.id, chainSeq: 4, problem: 'expected chain_seq 3, found 4' },
    });
    const r = await runSumda(['audit', 'verify'], { env: cliEnv(database.url) });
    expect(r.code).toBe(4);
    expect(errorLines(r.stderr)[0]).toContain(`row id ${successor.id} (chain_seq 4)`);
  });
});
