/**
 * The rest of `sumda keys`: generating a key, who may rotate (an operator is refused, and that is
 * audited), rotating inline, and entries sealed with a key nobody configured (status exit 4,
 * rotate refuses naming it).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { seal } from '../../src/crypto/index.ts';
import { auditRows, cliEnv, errorLines, seedTeam, type Team } from '../admins/support.ts';
import { type CliResult, runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import {
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
const Z = makeKey('kZ');
let team: Team;
let before: Map<string, string>;
let total: number;
const outputs: CliResult[] = [];

async function sumda(args: string[], actor?: string, keys = keysEnv(B, A)): Promise<CliResult> {
  const result = await runSumda(args, {
    env: { ...cliEnv(database.url, actor), SUMDA_ENCRYPTION_KEYS: keys },
  });
  outputs.push(result);
  return result;
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  before = await seedDiaries(database.db, A);
  total = before.size;
});

describe('keys generate', () => {
  it('prints a new key on stdout only, with how to deploy it on stderr', async () => {
    const r = await runSumda(['keys', 'generate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^k\d{8}:[A-Za-z0-9+/]{43}=\n$/);
    expect(r.stderr).toContain('put it FIRST in SUMDA_ENCRYPTION_KEYS');
    expect(r.stderr).toContain('0 entries under it');
    expect(r.stderr).not.toContain(r.stdout.trim().split(':')[1]!);
    // What it prints is accepted as configuration, first in the list.
    const config = loadConfig({}, { SUMDA_ENCRYPTION_KEYS: `${r.stdout.trim()},${keysEnv(A)}` });
    expect(config.encryptionKeys!.map((k) => k.id)).toEqual([r.stdout.split(':')[0], 'kA']);

    const named = await runSumda(['keys', 'generate', '--id', 'k2026q4']);
    expect(named.stdout).toMatch(/^k2026q4:/);
  });

  it('refuses an invalid id or one already configured (exit 2)', async () => {
    const bad = await runSumda(['keys', 'generate', '--id', 'new key!']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    const taken = await sumda(['keys', 'generate', '--id', 'kA']);
    expect(taken.code).toBe(2);
    expect(errorLines(taken.stderr)).toEqual([
      'error: key id kA is already configured in SUMDA_ENCRYPTION_KEYS',
    ]);
  });
});

describe('who may rotate', () => {
  it('an operator is refused (exit 6), the refusal audited, nothing enqueued', async () => {
    const r = await sumda(['keys', 'rotate', '--yes'], team.operator.email);
    expect(r.code).toBe(6);
    expect(errorLines(r.stderr)).toEqual([
      `error: keys.rotate needs role admin; ${team.operator.email} is operator`,
    ]);
    const rows = await auditRows(database.db, { action: 'keys.rotate' });
    expect(rows).toEqual([
      expect.objectContaining({ actor_email: team.operator.email, outcome: 'denied', after: null }),
    ]);
    expect(await reencryptJobs(database.db)).toEqual([]);
    expect(await countsByKey(database.db)).toEqual({ kA: total });
  });

  it('a manager is refused too; no identity at all is bad usage (exit 2)', async () => {
    expect((await sumda(['keys', 'rotate', '--yes'], team.manager.email)).code).toBe(6);
    const anonymous = await sumda(['keys', 'rotate', '--yes']);
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain('needs an operator identity');
  });
});

describe('keys rotate --inline', () => {
  it('re-encrypts in the command itself, audited as an inline rotation', async () => {
    const r = await sumda(
      ['keys', 'rotate', '--inline', '--yes', '--batch-size', '40', '--json'],
      team.admin.email,
    );
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      mode: 'inline',
      activeKeyId: 'kB',
      done: total,
      skipped: 0,
      remaining: 0,
    });
    expect(result.batches).toBeGreaterThanOrEqual(Math.ceil(total / 40));
    // --json progress: NDJSON on stderr, never on stdout.
    expect(r.stderr).toContain('"progress":"re-encrypt"');
    expect(await countsByKey(database.db)).toEqual({ kB: total });
    expect(await plaintexts(database.db, keyring(B))).toEqual(before);
    expect(await reencryptJobs(database.db)).toEqual([]);
    const success = (await auditRows(database.db, { action: 'keys.rotate' })).filter(
      (a) => a.outcome === 'success',
    );
    expect(success).toEqual([
      expect.objectContaining({
        actor_email: team.admin.email,
        after: {
          activeKeyId: 'kB',
          toReencrypt: total,
          entriesByKey: { kB: 0, kA: total },
          batchSize: 40,
          mode: 'inline',
        },
      }),
    ]);
  });
});

describe('entries sealed with a key that is not configured', () => {
  beforeAll(async () => {
    const users = await database.db.selectFrom('users').select('id').limit(3).execute();
    await database.db
      .insertInto('diary_entries')
      .values(
        users.map((u) => ({
          user_id: u.id,
          title: null,
          content_enc: seal(keyring(Z), '잃어버린 열쇠', u.id),
        })),
      )
      .execute();
  });

  it('keys status exits 4 and names the key', async () => {
    const json = await sumda(['keys', 'status', '--json']);
    expect(json.code).toBe(4);
    const status = JSON.parse(json.stdout);
    expect(status.keys).toContainEqual({ keyId: 'kZ', state: 'unconfigured', entries: 3 });
    expect(status).toMatchObject({ unopenable: 3, pending: 3 });
    const human = await sumda(['keys', 'status']);
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/kZ\s+│ NOT CONFIGURED\s+│ 3/);
    expect(errorLines(human.stderr)).toEqual([
      'error: 3 entries are sealed with keys that are not configured (kZ): they cannot be opened',
    ]);
  });

  it('keys rotate refuses (exit 2) naming the missing key, before anything changes', async () => {
    const seq = (await auditRows(database.db)).length;
    const r = await sumda(['keys', 'rotate', '--yes'], team.admin.email);
    expect(r.code).toBe(2);
    expect(errorLines(r.stderr)).toEqual([
      'error: refusing to rotate: entries are sealed with keys that are not configured: kZ (3 entries)',
    ]);
    expect(r.stderr).toContain('add kZ to SUMDA_ENCRYPTION_KEYS');
    expect(await auditRows(database.db)).toHaveLength(seq);
    expect(await reencryptJobs(database.db)).toEqual([]);

    // With kZ configured again (after the active key), the rotation goes through.
    const fixed = await sumda(
      ['keys', 'rotate', '--inline', '--yes', '--json'],
      team.admin.email,
      keysEnv(B, A, Z),
    );
    expect(fixed.code).toBe(0);
    expect(JSON.parse(fixed.stdout)).toMatchObject({ done: 3, remaining: 0 });
    expect(await countsByKey(database.db)).toEqual({ kB: total + 3 });
  });
});

describe('privacy', () => {
  it('no plaintext in audit rows, error_logs, jobs or any CLI output', async () => {
    const texts = [...before.values()];
    expect(leaks(await persistedText(database.db), texts)).toEqual([]);
    for (const r of outputs) expect(leaks(r.stdout + r.stderr, texts)).toEqual([]);
  });
});
