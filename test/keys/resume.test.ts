/**
 * Re-encryption under stress, with real PostgreSQL and pg-boss: a worker that dies after one
 * batch, decryption in the middle of a rotation, a restart that finishes without touching an entry
 * twice, two runners at once, a tampered entry (skipped, recorded once, retried by the next
 * rotation), and a worker still on the old configuration. A test trigger counts every reseal.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobContext } from '../../jobs/context.ts';
import { keysReencrypt } from '../../jobs/keys-reencrypt.ts';
import { seal } from '../../src/crypto/index.ts';
import { createDb } from '../../src/db/connect.ts';
import {
  keyStatus,
  planRotation,
  reencryptAll,
  reencryptBatch,
  startRotation,
} from '../../src/keys/rotation.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import { operation, seedTeam, type Team } from '../admins/support.ts';
import { useTestDatabase } from '../support/db.ts';
import {
  capturingLogger,
  ciphertexts,
  countsByKey,
  drainReencrypt,
  keyring,
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
const C = makeKey('kC');
const D = makeKey('kD');
const { log, lines } = capturingLogger();
let team: Team;
let boss: PgBoss;
let before: Map<string, string>;
let total: number;

/** How often each entry was resealed since the last reset (from the test trigger). */
async function reseals(): Promise<Map<string, number>> {
  const rows = await sql<{ id: string; n: number }>`
    select id, count(*)::int as n from test_reseals group by id`.execute(database.db);
  return new Map(rows.rows.map((r) => [r.id, r.n]));
}

function handlerContext(keys: Parameters<typeof keyring>): JobContext {
  // The handler uses the database, pg-boss, the keyring and the logger; nothing else.
  return { db: database.db, boss, log, keyring: keyring(...keys) } as unknown as JobContext;
}

beforeAll(async () => {
  team = await seedTeam(database.db);
  before = await seedDiaries(database.db, A);
  total = before.size;
  await sql`
    create table test_reseals (id uuid not null);
    create function test_count_reseal() returns trigger language plpgsql as $$
    begin insert into test_reseals (id) values (new.id); return new; end $$;
    create trigger test_count_reseal after update of content_enc on public.diary_entries
      for each row execute function test_count_reseal();`.execute(database.db);
  boss = createBoss(database.url, { log });
  await boss.start();
});

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
});

beforeEach(async () => {
  await sql`truncate test_reseals`.execute(database.db);
});

describe('a worker that dies after one batch', () => {
  it('leaves a half-done rotation that still decrypts, and a restart finishes it touching each entry once', async () => {
    const op = operation(team.admin, 'sumda keys rotate --yes --batch-size 50');
    const plan = await planRotation(database.db, keyring(B, A));
    const started = await startRotation(database.db, boss, op, plan, { batchSize: 50, inline: false });
    expect(started).toMatchObject({ toReencrypt: total, alreadyQueued: false });

    // The first worker claims the job and runs its batch, then dies before telling pg-boss.
    const [job] = await boss.fetch('keys.reencrypt');
    expect(job!.id).toBe(started.jobId);
    const [outcome] = await keysReencrypt.create(handlerContext([B, A]))(
      [job!],
      new AbortController().signal,
    );
    expect(outcome).toMatchObject({ status: 'completed', output: { done: 50, skipped: 0, more: true } });

    // Mid-rotation: both keys configured, every entry opens, under either key.
    expect(await countsByKey(database.db)).toEqual({ kB: 50, kA: total - 50 });
    expect(await plaintexts(database.db, keyring(B, A))).toEqual(before);
    const afterFirst = await ciphertexts(database.db);
    const firstBatch = [...(await reseals()).keys()];
    expect(firstBatch).toHaveLength(50);
    // The batch committed with its successor: the chain survives the crash.
    expect((await reencryptJobs(database.db)).map((j) => j.state).sort()).toEqual(['active', 'created']);

    // What pg-boss does to a job whose worker vanished once it expires: back to retry, later.
    await boss.fail('keys.reencrypt', job!.id, { message: 'worker died' });

    // A fresh worker (the keyset cursor died with the old one) finishes the rotation.
    const result = await drainReencrypt(database.url, [B, A], log);
    expect(result.processed['keys.reencrypt']).toMatchObject({ failed: 0 });
    expect(await countsByKey(database.db)).toEqual({ kB: total });
    const counted = await reseals();
    expect(counted.size).toBe(total);
    expect([...counted.values()].every((n) => n === 1)).toBe(true);
    const final = await ciphertexts(database.db);
    for (const id of firstBatch) expect(final.get(id)).toBe(afterFirst.get(id));
    expect(await plaintexts(database.db, keyring(B))).toEqual(before);

    // The dead worker's job, retried at last, finds nothing left and adds no successor.
    const [retried] = await keysReencrypt.create(handlerContext([B, A]))(
      [job!],
      new AbortController().signal,
    );
    expect(retried).toMatchObject({ status: 'completed', output: { done: 0, more: false, remaining: 0 } });
    expect((await reseals()).size).toBe(total);
    await boss.cancel('keys.reencrypt', job!.id);
    expect(await reencryptJobs(database.db)).toEqual([]);
  });
});

describe('two runners at once', () => {
  it('never re-encrypt the same entry twice (FOR UPDATE SKIP LOCKED)', async () => {
    const ring = keyring(C, B);
    await startRotation(database.db, null, operation(team.admin), await planRotation(database.db, ring), {
      batchSize: 20,
      inline: true,
    });
    const other = createDb(database.url, { max: 2 });
    try {
      const [one, two] = await Promise.all([
        reencryptAll(database.db, ring, { batchSize: 20 }),
        reencryptAll(other, ring, { batchSize: 20 }),
      ]);
      expect(one.done + two.done).toBe(total);
      expect(one.skipped + two.skipped).toBe(0);
    } finally {
      await other.destroy();
    }
    const counted = await reseals();
    expect(counted.size).toBe(total);
    expect([...counted.values()].every((n) => n === 1)).toBe(true);
    expect(await countsByKey(database.db)).toEqual({ kC: total });
  });
});

describe('an entry that fails to open', () => {
  let victim: string;
  let original: Buffer;

  it('is skipped and recorded once (key id only), and the rest complete', async () => {
    const row = await database.db
      .selectFrom('diary_entries')
      .select(['id', 'content_enc'])
      .orderBy('id')
      .offset(17)
      .limit(1)
      .executeTakeFirstOrThrow();
    victim = row.id;
    original = row.content_enc;
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1]! ^= 0x01;
    await database.db
      .updateTable('diary_entries')
      .set({ content_enc: tampered })
      .where('id', '=', victim)
      .execute();
    await sql`truncate test_reseals`.execute(database.db);

    const ring = keyring(D, C);
    const started = await startRotation(
      database.db,
      null,
      operation(team.admin),
      await planRotation(database.db, ring),
      { batchSize: 50, inline: true },
    );
    const run = await reencryptAll(database.db, ring, {
      batchSize: 50,
      requestId: operation(null).requestId,
    });
    expect(run).toMatchObject({ done: total - 1, skipped: 1, remaining: 0, stopped: null });
    expect(await countsByKey(database.db)).toEqual({ kD: total - 1, kC: 1 });

    const errors = await database.db
      .selectFrom('admin.error_logs')
      .select(['service', 'severity', 'ref_id', 'message', 'context'])
      .where('service', '=', 'diary') // the seed writes a few API errors of its own
      .execute();
    expect(errors).toEqual([
      {
        service: 'diary',
        severity: 'error',
        ref_id: victim,
        message:
          'keys.reencrypt skipped the entry: ciphertext failed authentication under key kC (tampered, or sealed for another row)',
        context: expect.objectContaining({
          rotation: String(started.rotationId),
          key_id: 'kC',
          target_key_id: 'kD',
        }),
      },
    ]);

    // Not retried within the same rotation, even once the logs are trimmed: the rotation keeps its
    // skips in sumda.rotation_skips, and a second run finds nothing to do.
    await database.db.deleteFrom('admin.error_logs').execute();
    const again = await reencryptAll(database.db, ring, { batchSize: 50 });
    expect(again).toMatchObject({ done: 0, skipped: 0, remaining: 0 });
    expect(await database.db.selectFrom('admin.error_logs').select('id').execute()).toHaveLength(0);
    expect(await keyStatus(database.db, ring)).toMatchObject({ pending: 1, skipped: 1, unopenable: 0 });
  });

  it('is retried by the next rotation once fixed', async () => {
    await database.db
      .updateTable('diary_entries')
      .set({ content_enc: original })
      .where('id', '=', victim)
      .execute();
    const ring = keyring(D, C);
    await startRotation(database.db, null, operation(team.admin), await planRotation(database.db, ring), {
      batchSize: 50,
      inline: true,
    });
    const run = await reencryptAll(database.db, ring, { batchSize: 50 });
    expect(run).toMatchObject({ done: 1, skipped: 0, remaining: 0 });
    expect(await countsByKey(database.db)).toEqual({ kD: total });
    expect(await plaintexts(database.db, keyring(D))).toEqual(before);
    expect(await keyStatus(database.db, ring)).toMatchObject({ pending: 0, skipped: 0 });
  });
});

describe('a worker still on an older configuration', () => {
  it('refuses to re-encrypt entries back to its own active key', async () => {
    // An app server still on the old configuration wrote an entry under kC.
    const { id: userId } = await database.db
      .selectFrom('users')
      .select('id')
      .limit(1)
      .executeTakeFirstOrThrow();
    await database.db
      .insertInto('diary_entries')
      .values({ user_id: userId, title: null, content_enc: seal(keyring(C), '늦게 쓴 일기', userId) })
      .execute();
    const cipher = await ciphertexts(database.db);
    await expect(reencryptBatch(database.db, keyring(C, D), { batchSize: 50 })).rejects.toThrow(
      /this process seals with key kC, but the latest rotation \(audit #\d+\) re-encrypts to kD/,
    );
    expect(await ciphertexts(database.db)).toEqual(cipher);
  });
});

describe('privacy', () => {
  it('no plaintext in audit rows, error_logs, job payloads and outputs, or log lines', async () => {
    const texts = [...before.values()];
    expect(leaks(await persistedText(database.db), texts)).toEqual([]);
    expect(lines.length).toBeGreaterThan(0);
    expect(leaks(lines.join(''), texts)).toEqual([]);
  });
});
