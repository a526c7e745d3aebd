/**
 * Shared fixtures of the key rotation tests: keys and their SUMDA_ENCRYPTION_KEYS form, a seeded
 * set of encrypted diaries with known plaintexts (some carrying a marker that must never leak),
 * the worker run in-process, and a scan of every place plaintext must never reach.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { runWorker, type WorkerResult } from '../../jobs/runtime.ts';
import { type EncryptionKey, loadConfig } from '../../src/config/index.ts';
import { createKeyring, type Keyring, open, seal } from '../../src/crypto/index.ts';
import type { Db } from '../../src/db/connect.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { seed } from '../../src/seed/index.ts';
import { operation } from '../admins/support.ts';

/** In every marker entry; it must never appear outside the ciphertexts. */
export const MARKER = 'MARKER-숨은비밀-7c41';

export function makeKey(id: string): EncryptionKey {
  return { id, key: randomBytes(32) };
}

export function keyring(...keys: EncryptionKey[]): Keyring {
  return createKeyring(keys);
}

/** The SUMDA_ENCRYPTION_KEYS value for these keys, the first one active. */
export function keysEnv(...keys: EncryptionKey[]): string {
  return keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
}

const EMPTY_CWD = fileURLToPath(new URL('../fixtures/empty-cwd/', import.meta.url));

/**
 * About 200 entries sealed with `key`: a seeded population (Korean diary texts) plus a dozen entries
 * carrying MARKER. Returns every entry's plaintext by id.
 */
export async function seedDiaries(db: Db, key: EncryptionKey): Promise<Map<string, string>> {
  const ring = keyring(key);
  await seed(db, ring, operation(null, 'sumda seed (test)'), {
    users: 8,
    days: 30,
    seed: 11,
    endDate: '2026-11-20',
  });
  const users = await db.selectFrom('users').select('id').orderBy('id').limit(3).execute();
  await db
    .insertInto('diary_entries')
    .values(
      Array.from({ length: 12 }, (_, i) => {
        const userId = users[i % users.length]!.id;
        return {
          user_id: userId,
          title: null,
          content_enc: seal(ring, `오늘의 비밀 ${MARKER} #${i}`, userId),
        };
      }),
    )
    .execute();
  return plaintexts(db, ring);
}

/** Every entry opened with `ring` (throws if one cannot be opened). */
export async function plaintexts(db: Db, ring: Keyring): Promise<Map<string, string>> {
  const rows = await db.selectFrom('diary_entries').select(['id', 'user_id', 'content_enc']).execute();
  return new Map(rows.map((r) => [r.id, open(ring, r.content_enc, r.user_id)]));
}

export async function ciphertexts(db: Db): Promise<Map<string, string>> {
  const rows = await db.selectFrom('diary_entries').select(['id', 'content_enc']).execute();
  return new Map(rows.map((r) => [r.id, r.content_enc.toString('hex')]));
}

export async function countsByKey(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('diary_entries')
    .select((eb) => ['content_key_id', eb.fn.countAll<number>().as('n')])
    .groupBy('content_key_id')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.content_key_id, Number(r.n)]));
}

export async function reencryptJobs(db: Db, states = ['created', 'retry', 'active']) {
  const rows = await sql<{ id: string; state: string; data: unknown; output: unknown }>`
    select id, state::text as state, data, output from pgboss.job
    where name = 'keys.reencrypt' and state::text = any(${states}::text[])`.execute(db);
  return rows.rows;
}

/** A logger whose lines are kept, to search them for plaintext. */
export function capturingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger({ level: 'debug', destination }), lines };
}

/** `sumda worker --once --queues keys.reencrypt`, in this process. */
export async function drainReencrypt(url: string, keys: EncryptionKey[], log: Logger): Promise<WorkerResult> {
  const config = loadConfig(
    {},
    { DATABASE_URL: url, SUMDA_ENCRYPTION_KEYS: keysEnv(...keys), SUMDA_ANALYZER: 'local' },
    EMPTY_CWD,
  );
  return runWorker({
    url,
    config,
    log,
    queues: ['keys.reencrypt'],
    once: true,
    drainTimeoutMs: 10_000,
    heartbeatMs: 60_000,
    pollIntervalMs: 50,
    signal: new AbortController().signal,
  });
}

/**
 * Everything plaintext must never reach, as one text: audit rows, error_logs rows, and the data
 * and output of every pg-boss job.
 */
export async function persistedText(db: Db): Promise<string> {
  const rows = await sql<{ t: string }>`
    select a::text as t from admin.audit_log a
    union all select e::text from admin.error_logs e
    union all select coalesce(j.data::text, '') || ' ' || coalesce(j.output::text, '') from pgboss.job j`.execute(
    db,
  );
  return rows.rows.map((r) => r.t).join('\n');
}

/** Asserts no plaintext (the marker, or any sampled diary text) occurs in `text`; returns the offenders. */
export function leaks(text: string, texts: Iterable<string>): string[] {
  const found: string[] = [];
  if (text.includes(MARKER)) found.push(MARKER);
  for (const plain of texts) {
    // A distinctive slice of each text: long enough not to be a common word.
    const probe = plain.slice(0, 24);
    if (probe.length >= 12 && text.includes(probe)) found.push(probe);
  }
  return found;
}
