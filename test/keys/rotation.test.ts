/**
 * The operator's path through a key rotation, with the real CLI, PostgreSQL and pg-boss: status
 * before, a dry run, the refusal without a terminal, one queued job however often rotate is run,
 * the worker re-encrypting everything in batches, and no plaintext anywhere along the way.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { auditRows, cliEnv, errorLines, seedTeam, type Team } from '../admins/support.ts';
import { type CliResult, runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import {
  ciphertexts,
  countsByKey,
  keyring,
  keysEnv,
  leaks,
  makeKey,
  persistedText,
  plaintexts,
  reencryptJobs,
  seedDiaries,
} from './support.ts';

const database = useTestDatabase();
const A = makeKey('kA');
const B = makeKey('kB');
let team: Team;
let before: Map<string, string>;
let total: number;
const outputs: CliResult[] = [];

async function sumda(args: string[], actor?: string): Promise<CliResult> {
  const result = await runSumda(args, {
    env: { ...cliEnv(database.url, actor), SUMDA_ENCRYPTION_KEYS: keysEnv(B, A) },
  });
  outputs.push(result);
  return result;
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  before = await seedDiaries(database.db, A);
  total = before.size;
});

describe('keys status before the rotation', () => {
  it('counts the entries under kA and marks kB active, kA old', async () => {
    expect(total).toBeGreaterThanOrEqual(150);
    const r = await sumda(['keys', 'status', '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.activeKeyId).toBe('kB');
    expect(status.keys).toEqual([
      { keyId: 'kB', state: 'active', entries: 0 },
      { keyId: 'kA', state: 'old', entries: total },
    ]);
    expect(status).toMatchObject({ total, pending: total, unopenable: 0, skipped: 0, rotation: null });
    expect(status.jobs).toEqual({ queued: 0, active: 0, deadLettered: 0 });

    const human = await sumda(['keys', 'status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/kB\s+│ active/);
    expect(human.stdout).toMatch(new RegExp(`kA\\s+│ old \\(still opens\\)\\s+│ ${total}`));
  });
});

describe('keys rotate', () => {
  it('--dry-run counts and changes nothing', async () => {
    const cipher = await ciphertexts(database.db);
    const r = await sumda(['keys', 'rotate', '--dry-run', '--batch-size', '50'], team.admin.email);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`would re-encrypt ${total} entries (kA ${total}) to kB in batches of 50`);
    expect(await ciphertexts(database.db)).toEqual(cipher);
    expect(await auditRows(database.db, { action: 'keys.rotate' })).toEqual([]);
    expect(await reencryptJobs(database.db)).toEqual([]);
  });

  it('refuses without a terminal and without --yes (exit 2), changing nothing', async () => {
    const r = await sumda(['keys', 'rotate', '--batch-size', '50'], team.admin.email);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      `error: refusing to re-encrypt ${total} diary entries (kA ${total}) with key kB without confirmation: no terminal to ask`,
    ]);
    expect(await auditRows(database.db, { action: 'keys.rotate' })).toEqual([]);
    expect(await reencryptJobs(database.db)).toEqual([]);
  });

  it('--yes records the rotation and enqueues one job; rotating again while it waits adds none', async () => {
    const first = await sumda(['keys', 'rotate', '--yes', '--batch-size', '50', '--json'], team.admin.email);
    expect(first.code).toBe(0);
    const started = JSON.parse(first.stdout);
    expect(started).toMatchObject({
      activeKeyId: 'kB',
      toReencrypt: total,
      alreadyQueued: false,
      mode: 'job',
    });
    const jobs = await reencryptJobs(database.db);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ id: started.jobId, state: 'created', data: { batchSize: 50 } });

    const [audit] = await auditRows(database.db, { action: 'keys.rotate' });
    expect(audit).toMatchObject({
      id: started.rotationId,
      actor_email: team.admin.email,
      outcome: 'success',
      target_type: 'encryption_key',
      target_id: 'kB',
      after: {
        activeKeyId: 'kB',
        toReencrypt: total,
        entriesByKey: { kB: 0, kA: total },
        batchSize: 50,
        mode: 'job',
      },
    });

    const second = await sumda(['keys', 'rotate', '--yes', '--batch-size', '50'], team.admin.email);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('already queued');
    expect(await reencryptJobs(database.db)).toHaveLength(1);

    const status = JSON.parse((await sumda(['keys', 'status', '--json'])).stdout);
    expect(status.jobs).toEqual({ queued: 1, active: 0, deadLettered: 0 });
    expect(status.rotation).toMatchObject({ target: 'kB', actor: team.admin.email });
  });

  it('the worker re-encrypts every entry in batches of 50; each still opens to the same text', async () => {
    const r = await sumda(['worker', '--once', '--queues', 'keys.reencrypt', '--json']);
    expect(r.code).toBe(0);
    const processed = JSON.parse(r.stdout).processed['keys.reencrypt'];
    expect(processed.failed).toBe(0);
    // One job per batch of 50, plus at most the closing sweeps that find nothing left.
    expect(processed.completed).toBeGreaterThanOrEqual(Math.ceil(total / 50));
    expect(processed.completed).toBeLessThanOrEqual(Math.ceil(total / 50) + 2);
    const done = await reencryptJobs(database.db, ['completed']);
    expect(done.reduce((n, j) => n + (j.output as { done: number }).done, 0)).toBe(total);
    expect(Math.max(...done.map((j) => (j.output as { done: number }).done))).toBe(50);
    expect(await reencryptJobs(database.db)).toEqual([]);

    expect(await countsByKey(database.db)).toEqual({ kB: total });
    // Opened with kB alone: every entry really is sealed with the new key, text unchanged.
    expect(await plaintexts(database.db, keyring(B))).toEqual(before);
  });

  it('status then shows nothing under kA, and rotate has nothing left to do', async () => {
    const r = await sumda(['keys', 'status', '--json']);
    expect(r.code).toBe(0);
    const status = JSON.parse(r.stdout);
    expect(status.keys).toEqual([
      { keyId: 'kB', state: 'active', entries: total },
      { keyId: 'kA', state: 'old', entries: 0 },
    ]);
    expect(status).toMatchObject({ pending: 0, skipped: 0, jobs: { queued: 0, active: 0, deadLettered: 0 } });
    const human = await sumda(['keys', 'status']);
    expect(human.stderr).toContain('kA seals no entries any more');

    const again = await sumda(['keys', 'rotate', '--yes'], team.admin.email);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('nothing to re-encrypt: every entry is sealed with kB');
    expect(await reencryptJobs(database.db)).toEqual([]);
  });

  it('no plaintext in audit rows, error_logs, job payloads or outputs, or any CLI output', async () => {
    const texts = [...before.values()];
    expect(leaks(texts.join('\n'), texts).length).toBeGreaterThan(texts.length / 2); // the probe does find text
    expect(leaks(await persistedText(database.db), texts)).toEqual([]);
    for (const r of outputs) expect(leaks(r.stdout + r.stderr, texts)).toEqual([]);
    expect(outputs.length).toBeGreaterThan(8);
  });
});
