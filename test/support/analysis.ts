/**
 * Fixtures of the analysis and worker tests: a fresh keyring (and its SUMDA_ENCRYPTION_KEYS form),
 * users and diaries sealed directly with `seal()`, a logger whose lines land in an array, a valid
 * model answer, configuration for in-process workers, and readers of the pg-boss job table.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import { runWorker, type WorkerResult } from '../../jobs/runtime.ts';
import type { Actor } from '../../src/admins/actor.ts';
import { bootstrapAdmin } from '../../src/admins/index.ts';
import type { AnalyzeResult, Analyzer } from '../../src/analysis/analyzer.ts';
import { ZERO_TOKENS } from '../../src/analysis/analyzer.ts';
import type { AnalysisOutput } from '../../src/analysis/schema.ts';
import type { Operation } from '../../src/audit/index.ts';
import { type Config, loadConfig } from '../../src/config/index.ts';
import { createKeyring, type Keyring, seal } from '../../src/crypto/index.ts';
import type { Database } from '../../src/db/types.ts';
import { createLogger, type Logger } from '../../src/log.ts';

export const EMPTY_CWD = fileURLToPath(new URL('../fixtures/empty-cwd/', import.meta.url));

export interface TestKeys {
  keyring: Keyring;
  /** The same key as SUMDA_ENCRYPTION_KEYS wants it: `<id>:<base64>`. */
  env: string;
}

const KEYS = new Map<string, Buffer>();

/**
 * A keyring of one random key under `id`: the same key for the same id throughout a test file, as
 * in a real deployment (a worker refuses a key that differs from the one its database knows).
 */
export function testKeys(id = 'k1'): TestKeys {
  const key = KEYS.get(id) ?? randomBytes(32);
  KEYS.set(id, key);
  return { keyring: createKeyring([{ id, key }]), env: `${id}:${key.toString('base64')}` };
}

export const ADMIN_EMAIL = 'lead@sumda.test';

/** The first admin (what `admin create --bootstrap` makes); returns an Operation factory for it. */
export async function bootstrapTestAdmin(
  db: Kysely<Database>,
): Promise<{ actor: Actor; op: () => Operation }> {
  const row = await bootstrapAdmin(
    db,
    { actor: null, requestId: randomUUID(), command: 'sumda (test)' },
    { email: ADMIN_EMAIL },
  );
  const actor: Actor = { id: row.id, email: row.email, role: 'admin' };
  return { actor, op: () => ({ actor, requestId: randomUUID(), command: 'sumda (test)' }) };
}

export async function createUser(db: Kysely<Database>, nickname = '테스터'): Promise<string> {
  const row = await db.insertInto('users').values({ nickname }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/** One diary entry, sealed for its owner like the app server does. */
export async function writeDiary(
  db: Kysely<Database>,
  keyring: Keyring,
  userId: string,
  text: string,
  createdAt: Date = new Date(),
): Promise<string> {
  const row = await db
    .insertInto('diary_entries')
    .values({
      user_id: userId,
      title: null,
      content_enc: seal(keyring, text, userId),
      created_at: createdAt,
      updated_at: createdAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export interface CapturedLogger {
  log: Logger;
  /** Every line pino wrote, as written (JSON). */
  lines: string[];
}

export function captureLogs(level: 'debug' | 'trace' | 'info' = 'debug'): CapturedLogger {
  const lines: string[] = [];
  const log = createLogger({
    level,
    destination: {
      write(line: string) {
        lines.push(line);
      },
    },
  });
  return { log, lines };
}

/** A schema- and semantics-valid answer, as a model would give it. */
export function goodAnswer(overrides: Partial<AnalysisOutput> = {}): AnalysisOutput {
  return {
    language: 'ko',
    summary: '친구와 오래 걷고 이야기하며 마음이 가벼워진 하루.',
    emotion_flow: [
      { phase: '오후', emotion: 'calm', intensity: 0.4, note: '천천히 걸으며 마음이 차분해졌다.' },
      { phase: '저녁', emotion: 'gratitude', intensity: 0.6, note: '친구에게 고마움을 느꼈다.' },
    ],
    reflection_question: '오늘 가장 편안했던 순간은 언제였나요?',
    interpretation: '함께 걷는 시간이 오늘의 쉼이 되어 준 것 같아요.',
    keywords: ['산책', '친구', '휴식'],
    tier_a: 1.4,
    tier_m: 1.2,
    valence: 0.5,
    context_tags: ['rest', 'relationship'],
    ethics_tags: [],
    ...overrides,
  };
}

/** Configuration as a worker would load it, against the test database (no `.env` is read). */
export function testConfig(url: string, keysEnv: string, extra: Record<string, string> = {}): Config {
  return loadConfig(
    {},
    { DATABASE_URL: url, SUMDA_ENCRYPTION_KEYS: keysEnv, SUMDA_ANALYZER: 'local', ...extra },
    EMPTY_CWD,
  );
}

/** `worker --once` in this process with an injected analyzer. */
export function runWorkerOnce(options: {
  url: string;
  config: Config;
  log: Logger;
  analyzer?: Analyzer;
  queues?: string[];
}): Promise<WorkerResult> {
  return runWorker({
    url: options.url,
    config: options.config,
    log: options.log,
    queues: options.queues ?? ['analysis.run'],
    once: true,
    drainTimeoutMs: 10_000,
    heartbeatMs: 60_000,
    pollIntervalMs: 100,
    signal: new AbortController().signal,
    ...(options.analyzer ? { analyzer: options.analyzer } : {}),
  });
}

/** An analyzer that always gives the same failure outcome (no network). */
export function failingAnalyzer(outcome: Exclude<AnalyzeResult['outcome'], 'ok'>): Analyzer {
  return {
    name: 'stub',
    async analyze() {
      return {
        outcome,
        problems: [`stub ${outcome}`],
        call: {
          analyzer: 'stub',
          analyzerVersion: '0',
          model: 'stub-model',
          requestId: null,
          tokens: ZERO_TOKENS,
          latencyMs: 0,
          repairAttempted: false,
        },
      };
    },
  };
}

export interface JobRow {
  id: string;
  name: string;
  state: string;
  data: Record<string, unknown> | null;
  output: Record<string, unknown> | null;
  retry_count: number;
  retry_limit: number;
  singleton_key: string | null;
  source_id: string | null;
}

/** Rows of pgboss.job in one queue, oldest first. */
export async function jobsIn(db: Kysely<Database>, queue: string): Promise<JobRow[]> {
  const result = await sql<JobRow>`
    select id, name, state::text as state, data, output, retry_count, retry_limit, singleton_key, source_id
    from pgboss.job where name = ${queue} order by created_on, id`.execute(db);
  return result.rows;
}

/** The analysis.run jobs of one diary entry. */
export async function analysisJobsOf(db: Kysely<Database>, diaryId: string): Promise<JobRow[]> {
  return (await jobsIn(db, 'analysis.run')).filter((j) => j.data?.diaryId === diaryId);
}

/** Tables (schema.table) with a row whose text form contains `needle`, across every schema. */
export async function tablesContaining(db: Kysely<Database>, needle: string): Promise<string[]> {
  const tables = await sql<{ schema: string; table: string }>`
    select table_schema as schema, table_name as table from information_schema.tables
    where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
    order by 1, 2`.execute(db);
  const hits: string[] = [];
  for (const { schema, table } of tables.rows) {
    const found = await sql<{ n: number }>`
      select count(*)::int as n from ${sql.table(`${schema}.${table}`)} t
      where strpos(t::text, ${needle}) > 0`.execute(db);
    if ((found.rows[0]?.n ?? 0) > 0) hits.push(`${schema}.${table}`);
  }
  return hits;
}
