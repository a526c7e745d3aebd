/**
 * The analysis pipeline as benchmarks drive it: a template database with seeded, encrypted diary
 * entries and their `analysis.run` jobs already queued, cloned for every measurement, then drained
 * by the real worker (`runWorker` with `once: true`) with an injected analyzer — the OpenAI
 * analyzer (the real SDK) against the fake model, or the offline analyzer.
 *
 * Two times are reported: the whole `runWorker` call (pg-boss start, queue installation, drain,
 * stop) and the processing span, from the start of the first batch to the end of the last, read
 * from the worker's own `batch done` log lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { runWorker } from '../jobs/runtime.ts';
import type { Analyzer } from '../src/analysis/analyzer.ts';
import { createLocalAnalyzer } from '../src/analysis/local.ts';
import { createOpenAIAnalyzer } from '../src/analysis/openai.ts';
import { activePrompt, enqueueAnalyses } from '../src/analysis/run.ts';
import { loadConfig } from '../src/config/index.ts';
import { createKeyring } from '../src/crypto/index.ts';
import { createDb } from '../src/db/connect.ts';
import { createLogger } from '../src/log.ts';
import { PolicyResolver } from '../src/policy/resolver.ts';
import { createBoss } from '../src/queue/boss.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { seed } from '../src/seed/index.ts';
import { startFakeModel } from './fake-model.ts';
import { type Bench, progress, type Scratch, scratchDatabase } from './support.ts';

const DAYS = 90;
/** Seeded users write on 25–90% of days: 0.575 on average. */
const WRITING_DAYS = 0.575;

export interface AnalysisTemplate {
  db: Scratch;
  entries: number;
  /** `id:base64` of the key the entries are sealed with. */
  key: string;
}

/**
 * Seeds enough users for `entries` diary entries and queues exactly that many analysis jobs.
 * `days`: how many days each user's diary spans (default 90: ~52 entries a user; fewer days spread
 * the same entries over more users).
 */
export async function analysisTemplate(
  bench: Bench,
  label: string,
  entries: number,
  options: { days?: number } = {},
): Promise<AnalysisTemplate> {
  const days = options.days ?? DAYS;
  const scratch = await scratchDatabase(bench, label, { migrated: true });
  const key = { id: 'bench', key: randomBytes(32) };
  const db = createDb(scratch.url, { max: 4, applicationName: 'sumda-bench' });
  const boss = createBoss(scratch.url, { max: 4 });
  try {
    const users = Math.ceil((entries / (days * WRITING_DAYS)) * 1.1);
    progress(`seeding ${users} users × ${days} days for ${entries.toLocaleString('en-US')} entries`);
    await seed(
      db,
      createKeyring([key]),
      { actor: null, requestId: randomUUID(), command: 'bench' },
      { users, days, seed: 11, endDate: '2025-06-30' },
    );
    const rows = await db
      .selectFrom('diary_entries')
      .select('id')
      .orderBy('created_at')
      .orderBy('id')
      .limit(entries)
      .execute();
    if (rows.length < entries) throw new Error(`seeded only ${rows.length} of ${entries} entries`);
    await boss.start();
    const prompt = await activePrompt(new PolicyResolver(db));
    for (let i = 0; i < rows.length; i += 5000) {
      await enqueueAnalyses(
        boss,
        rows.slice(i, i + 5000).map((r) => r.id),
        prompt,
      );
    }
    // Planner statistics of the bulk-loaded job table (toolchain.md: ~30× slower fetches without).
    await sql`analyze pgboss.job`.execute(db);
    await sql`checkpoint`.execute(db).catch(() => {});
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.destroy();
  }
  return { db: scratch, entries, key: `${key.id}:${key.key.toString('base64')}` };
}

/** Where the fake model runs: its own process (like a remote API) or this one's event loop. */
export type FakeWhere = 'process' | 'in-process';

interface RunningFake {
  url: string;
  close(): Promise<void>;
}

async function startFake(where: FakeWhere, delayMs: number): Promise<RunningFake> {
  if (where === 'in-process') {
    const fake = await startFakeModel(delayMs);
    return { url: fake.url, close: () => fake.close() };
  }
  const script = fileURLToPath(new URL('./fake-model.ts', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, String(delayMs)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  const { url } = JSON.parse(line) as { url: string };
  return {
    url,
    close: async () => {
      lines.close();
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export interface AnalysisRun {
  entries: number;
  /** The whole runWorker call. */
  totalMs: number;
  /** First batch started → last batch done. */
  processingMs: number;
  completed: number;
  failed: number;
  stored: number;
}

/**
 * Clones the template and drains its analysis jobs once. `analyzer: 'openai'` starts the fake
 * model (answering after `delayMs`), `'local'` uses the offline analyzer.
 */
export async function analyse(
  bench: Bench,
  template: AnalysisTemplate,
  options: {
    label: string;
    analyzer: 'openai' | 'local';
    fake?: FakeWhere;
    delayMs?: number;
    concurrency?: number;
    batchSize?: number;
  },
): Promise<AnalysisRun> {
  const clone = await scratchDatabase(bench, options.label, { template: template.db.name });
  const fake =
    options.analyzer === 'openai'
      ? await startFake(options.fake ?? 'process', options.delayMs ?? 0)
      : undefined;
  // Every line formatted as in production (info), kept only as far as the batch timings.
  let firstStart = Number.POSITIVE_INFINITY;
  let lastEnd = 0;
  const destination = {
    write(line: string) {
      if (!line.includes('"msg":"batch done"') && !line.includes('"msg":"job done"')) return;
      const now = performance.now();
      const ms = Number(/"ms":(\d+)/.exec(line)?.[1] ?? 0);
      firstStart = Math.min(firstStart, now - ms);
      lastEnd = now;
    },
  };
  const log = createLogger({ level: 'info', destination });
  try {
    const config = loadConfig(
      {},
      {
        DATABASE_URL: clone.url,
        SUMDA_ENV_FILE: '/nonexistent/.env',
        SUMDA_ENCRYPTION_KEYS: template.key,
        ...(fake
          ? { SUMDA_ANALYZER: 'openai', OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.url }
          : { SUMDA_ANALYZER: 'local' }),
      },
      '/',
    );
    const analyzer: Analyzer = fake
      ? createOpenAIAnalyzer({ apiKey: 'sk-bench', baseURL: fake.url, timeoutMs: 30_000, log })
      : createLocalAnalyzer();
    const started = performance.now();
    const result = await runWorker({
      url: clone.url,
      config,
      log,
      queues: [QUEUES.analysisRun.name],
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      ...(options.batchSize ? { batchSize: options.batchSize } : {}),
      once: true,
      drainTimeoutMs: 30_000,
      heartbeatMs: 60_000,
      pollIntervalMs: 1000,
      signal: new AbortController().signal,
      analyzer,
    });
    const totalMs = performance.now() - started;
    const db = createDb(clone.url, { max: 1 });
    const stored = await db
      .selectFrom('analysis_results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    await db.destroy();
    const processed = result.processed[QUEUES.analysisRun.name] ?? { completed: 0, failed: 0 };
    return {
      entries: template.entries,
      totalMs,
      processingMs: lastEnd - firstStart,
      completed: processed.completed,
      failed: processed.failed,
      stored: Number(stored.n),
    };
  } finally {
    await fake?.close();
    await clone.drop();
  }
}
