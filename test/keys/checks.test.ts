/**
 * Key check values: a wrong key configured under a known id is named and refused with exit 4
 * before anything is opened, sealed or written — by `keys status`, `keys rotate` and the worker —
 * whether the id's check value is recorded already or only entries sealed under it exist. Check
 * values are recorded by the roles that seal (worker, admin), read by operators, never changed.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/crypto/index.ts';
import { KeyMismatchError, keyChecks, keyCheckValue, verifyKeyring } from '../../src/keys/checks.ts';
import { auditRows, cliEnv, errorLines, seedTeam } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { createLogin, dbAs, dropLogins } from '../support/logins.ts';
import { countsByKey, keysEnv, makeKey, seedDiaries } from './support.ts';

const database = useTestDatabase();
const A = makeKey('kA');
const WRONG_A = makeKey('kA');
const B = makeKey('kB');
const logins: string[] = [];

beforeAll(async () => {
  await seedTeam(database.db);
  await seedDiaries(database.db, A);
  logins.push(await createLogin('sumda_operator'));
});

afterAll(() => dropLogins(logins));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe('verifyKeyring', () => {
  it('refuses a wrong key under an id that only has entries (no check value yet), recording nothing', async () => {
    const error = await verifyKeyring(database.db, createKeyring([WRONG_A])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyMismatchError);
    expect((error as KeyMismatchError).keyIds).toEqual(['kA']);
    expect((error as KeyMismatchError).exitCode).toBe(4);
    expect(await keyChecks(database.db)).toEqual({});
  });

  it('an operator login records nothing (it cannot), and says so', async () => {
    const operator = dbAs(database.url, logins[0]!);
    try {
      expect(await verifyKeyring(operator, createKeyring([B, A]))).toEqual({
        recorded: [],
        unrecorded: ['kB', 'kA'],
      });
      expect(await keyChecks(database.db)).toEqual({});
      expect(await code(sql`insert into sumda.key_checks values ('kX', '\\x00')`.execute(operator))).toBe(
        '42501',
      );
    } finally {
      await operator.destroy();
    }
  });

  it('records the right keys, then refuses a wrong one by its check value', async () => {
    expect(await verifyKeyring(database.db, createKeyring([B, A]))).toEqual({
      recorded: ['kB', 'kA'],
      unrecorded: [],
    });
    expect(await keyChecks(database.db)).toEqual({
      kA: keyCheckValue(A.key).toString('hex'),
      kB: keyCheckValue(B.key).toString('hex'),
    });
    expect(await verifyKeyring(database.db, createKeyring([A]))).toEqual({ recorded: [], unrecorded: [] });
    const wrongB = makeKey('kB');
    await expect(verifyKeyring(database.db, createKeyring([wrongB, WRONG_A]))).rejects.toThrow(
      /SUMDA_ENCRYPTION_KEYS: key kB, key kA are not the keys this database knows under those ids/,
    );
  });

  it('check values never change, and are 16 bytes under a well-formed id', async () => {
    expect(await code(sql`update sumda.key_checks set check_value = '\\x00'`.execute(database.db))).toBe(
      'P0001',
    );
    expect(await code(sql`delete from sumda.key_checks`.execute(database.db))).toBe('P0001');
    expect(
      await code(sql`insert into sumda.key_checks values ('kC', ${Buffer.alloc(8)})`.execute(database.db)),
    ).toBe('23514');
    expect(
      await code(sql`insert into sumda.key_checks values ('k C', ${Buffer.alloc(16)})`.execute(database.db)),
    ).toBe('23514');
  });
});

describe('the commands and the worker', () => {
  const run = (args: string[], keys: string) =>
    runSumda(args, { env: { ...cliEnv(database.url, 'lead@sumda.test'), SUMDA_ENCRYPTION_KEYS: keys } });

  it('keys status and keys rotate exit 4 naming the key; nothing is written', {
    timeout: 60_000,
  }, async () => {
    const counts = await countsByKey(database.db);
    const audited = (await auditRows(database.db)).length;
    const status = await run(['keys', 'status'], keysEnv(B, WRONG_A));
    expect(status.code).toBe(4);
    expect(errorLines(status.stderr)[0]).toMatch(/key kA is not the key this database knows under that id/);
    expect(status.stderr).not.toContain(WRONG_A.key.toString('base64'));

    const rotate = await run(['keys', 'rotate', '--inline', '--yes'], keysEnv(B, WRONG_A));
    expect(rotate.code).toBe(4);
    expect(errorLines(rotate.stderr)[0]).toMatch(/key kA is not the key/);
    expect(await countsByKey(database.db)).toEqual(counts);
    expect((await auditRows(database.db)).filter((r) => r.action === 'keys.rotate')).toEqual([]);
    expect((await auditRows(database.db)).length).toBe(audited);
  });

  it('the worker refuses to start with a wrong key', { timeout: 60_000 }, async () => {
    const worker = await run(['worker', '--once', '--retry-horizon', '0'], keysEnv(WRONG_A));
    expect(worker.code).toBe(4);
    expect(worker.stderr).toMatch(/key kA is not the key/);
  });
});
