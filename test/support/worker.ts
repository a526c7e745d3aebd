/**
 * The set-up of the worker tests that run `sumda worker` as a subprocess with the OpenAI analyzer
 * pointed at the fake model in this process: a keyring, the fake, pg-boss over the test database
 * (to enqueue), the active prompt, and the workers started — killed before each test and after the
 * file, the fake reset between tests.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { type ActivePrompt, activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import { createUser, type TestKeys, testKeys, writeDiary } from './analysis.ts';
import type { UsedDatabase } from './db.ts';
import { type FakeOpenAI, startFakeOpenAI } from './fake-openai.ts';
import { type SumdaProcess, startSumda } from './process.ts';

export interface FakeModelWorkers {
  readonly fake: FakeOpenAI;
  readonly boss: PgBoss;
  readonly keys: TestKeys;
  /** A worker's environment: the OpenAI analyzer against the fake, info logs (JSON lines on stderr). */
  env(): Record<string, string>;
  /** `sumda <args>` with `env()`; killed before the next test and after the file. */
  start(args: string[]): SumdaProcess;
  /** `n` new entries of a new user, the i-th written by `text(i)`, enqueued for analysis. */
  enqueueEntries(n: number, text: (i: number) => string): Promise<string[]>;
}

export function useFakeModelWorkers(
  database: UsedDatabase,
  options: { openaiTimeoutMs?: number } = {},
): FakeModelWorkers {
  let fake: FakeOpenAI | undefined;
  let boss: PgBoss | undefined;
  let keys: TestKeys | undefined;
  let prompt: ActivePrompt | undefined;
  const running: SumdaProcess[] = [];
  const killAll = async () => {
    for (const w of running.splice(0)) await w.kill();
  };

  beforeAll(async () => {
    keys = testKeys();
    fake = await startFakeOpenAI();
    boss = createBoss(database.url);
    await boss.start();
    prompt = await activePrompt(new PolicyResolver(database.db));
  });
  beforeEach(async () => {
    await killAll();
    fake?.reset();
  });
  afterAll(async () => {
    await killAll();
    await boss?.stop({ graceful: false, close: true });
    await fake?.close();
  });

  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('useFakeModelWorkers: used outside a test');
    return value;
  };
  const workers: FakeModelWorkers = {
    get fake() {
      return ready(fake);
    },
    get boss() {
      return ready(boss);
    },
    get keys() {
      return ready(keys);
    },
    env: () => ({
      DATABASE_URL: database.url,
      SUMDA_ENCRYPTION_KEYS: workers.keys.env,
      SUMDA_ANALYZER: 'openai',
      OPENAI_API_KEY: 'test',
      OPENAI_BASE_URL: workers.fake.url,
      OPENAI_TIMEOUT_MS: String(options.openaiTimeoutMs ?? 30_000),
      LOG_LEVEL: 'info',
    }),
    start(args) {
      const w = startSumda(args, { env: workers.env() });
      running.push(w);
      return w;
    },
    async enqueueEntries(n, text) {
      const userId = await createUser(database.db);
      const ids: string[] = [];
      for (let i = 0; i < n; i++)
        ids.push(await writeDiary(database.db, workers.keys.keyring, userId, text(i)));
      await enqueueAnalyses(workers.boss, ids, ready(prompt));
      return ids;
    },
  };
  return workers;
}
