/**
 * The worker daemon: pg-boss over sumda's database, one pump per queue, a heartbeat line, failures
 * recorded in admin.error_logs, and a graceful stop — the first SIGTERM/SIGINT stops fetching and
 * lets in-flight jobs finish (bounded by the drain timeout), a second one exits at once.
 * `once` drains what is due (scheduled queues get one tick first) and returns.
 */
import type { Kysely } from 'kysely';
import type { Job } from 'pg-boss';
import type { Analyzer } from '../src/analysis/analyzer.ts';
import type { Config } from '../src/config/index.ts';
import { loadKeyring } from '../src/crypto/keyring.ts';
import { createDb } from '../src/db/connect.ts';
import type { Database } from '../src/db/types.ts';
import { recordError } from '../src/errorlog.ts';
import { UsageError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { PolicyResolver } from '../src/policy/resolver.ts';
import { createBoss, installQueues, type PgBoss, pausedQueues } from '../src/queue/boss.ts';
import { createSharedBudget } from '../src/queue/budget.ts';
import { ALL_QUEUES, type QueueDefinition } from '../src/queue/catalog.ts';
import { QueuePump } from '../src/queue/pump.ts';
import type { JobContext } from './context.ts';
import { HANDLERS } from './index.ts';

/** After a drain timeout, how long aborted jobs get to be handed back before the connections close. */
const ABORT_GRACE_MS = 2000;

export interface WorkerOptions {
  url: string;
  config: Config;
  log: Logger;
  /** Queue names to work; default every queue with a handler. */
  queues?: string[];
  /** Jobs in flight per queue; default the catalog's. */
  concurrency?: number;
  batchSize?: number;
  once: boolean;
  drainTimeoutMs: number;
  heartbeatMs: number;
  pollIntervalMs: number;
  /** Aborted on the first stop signal. */
  signal: AbortSignal;
  /** Inject an analyzer (tests, benchmarks); default from configuration. */
  analyzer?: Analyzer;
}

export interface WorkerResult {
  drained: boolean;
  processed: Record<string, { completed: number; failed: number }>;
}

async function analyzerFrom(config: Config, log: Logger): Promise<Analyzer> {
  if (config.analyzer === 'openai') {
    const { createOpenAIAnalyzer } = await import('../src/analysis/openai.ts');
    return createOpenAIAnalyzer({
      apiKey: config.openai.apiKey!,
      baseURL: config.openai.baseUrl,
      timeoutMs: config.openai.timeoutMs,
      log,
    });
  }
  const { createLocalAnalyzer } = await import('../src/analysis/local.ts');
  return createLocalAnalyzer();
}

function refIdOf(data: unknown): string | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  const id = d.diaryId ?? d.analysisId ?? d.slipId ?? d.userId;
  return typeof id === 'string' ? id : null;
}

export function selectQueues(names: string[] | undefined): QueueDefinition[] {
  const runnable = ALL_QUEUES.filter((q) => HANDLERS[q.name]);
  if (!names || names.length === 0) return runnable;
  const unknown = names.filter((n) => !runnable.some((q) => q.name === n));
  if (unknown.length > 0) {
    throw new UsageError(`--queues: unknown queue ${unknown.join(', ')}`, {
      hint: `queues: ${runnable.map((q) => q.name).join(', ')}`,
    });
  }
  return runnable.filter((q) => names.includes(q.name));
}

/** Due jobs (created or retry, start time passed) across the given queues. */
async function dueCount(db: Kysely<Database>, names: string[]): Promise<number> {
  const { sql } = await import('kysely');
  const result = await sql<{ n: number }>`
    select count(*)::int as n from pgboss.job
    where name = any(${names}::text[]) and state in ('created', 'retry') and start_after <= now()`.execute(
    db,
  );
  return result.rows[0]?.n ?? 0;
}

export async function runWorker(options: WorkerOptions): Promise<WorkerResult> {
  const { log, config } = options;
  const definitions = selectQueues(options.queues);
  const db = createDb(options.url, { max: 10, applicationName: 'sumda-worker' });
  const boss: PgBoss = createBoss(options.url, { active: !options.once, log, max: 10 });
  const cleanup: (() => Promise<void>)[] = [async () => db.destroy()];
  try {
    await boss.start();
    cleanup.unshift(async () => boss.stop({ graceful: false, close: true }));
    await installQueues(boss);
    const { keyring } = await loadKeyring(config, log);
    const resolver = new PolicyResolver(db, { ttlMs: 10_000, log });
    const ctx: JobContext = {
      db,
      boss,
      config,
      log,
      keyring,
      resolver,
      analyzer: options.analyzer ?? (await analyzerFrom(config, log)),
      budget: createSharedBudget(
        db,
        'openai',
        config.analyzer === 'openai' ? config.openai.requestsPerMinute : 0,
      ),
    };

    let paused = await pausedQueues(db);
    const pauseTimer = setInterval(() => {
      pausedQueues(db)
        .then((p) => {
          paused = p;
        })
        .catch((error: unknown) => log.warn({ err: error }, 'could not read paused queues'));
    }, 3000);
    cleanup.unshift(async () => clearInterval(pauseTimer));

    const onFailure = async (job: Job<unknown>, error: Error, definition: QueueDefinition) => {
      const data = (job.data ?? {}) as { requestId?: string; promptName?: string; promptVersion?: string };
      // The last attempt: the job is dead-lettered now. Marked terminal (with the prompt, for analyses)
      // so the every-minute scan stops re-enqueueing the entry; operators re-run it on purpose.
      const terminal = job.retryCount >= definition.retryLimit;
      await recordError(db, {
        service: definition.service,
        severity: terminal ? 'error' : 'warn',
        refId: refIdOf(job.data),
        message: `${definition.name} failed: ${error.message}`,
        stack: error.stack ?? null,
        context: {
          queue: definition.name,
          job_id: job.id,
          attempt: job.retryCount + 1,
          retry_limit: definition.retryLimit,
          request_id: data.requestId ?? null,
          ...(terminal ? { terminal: true, outcome: 'dead_lettered' } : {}),
          ...(data.promptVersion ? { prompt_name: data.promptName, prompt_version: data.promptVersion } : {}),
        },
      });
    };
    const makePumps = () =>
      definitions.map(
        (definition) =>
          new QueuePump(boss, definition, HANDLERS[definition.name]!(ctx), {
            batchSize: options.batchSize ?? definition.worker.batchSize,
            concurrency: options.concurrency ?? definition.worker.concurrency,
            pollIntervalMs: options.pollIntervalMs,
            once: options.once,
            isPaused: () => paused.has(definition.name),
            log,
            onFailure,
          }),
      );
    const totals: WorkerResult['processed'] = Object.fromEntries(
      definitions.map((d) => [d.name, { completed: 0, failed: 0 }]),
    );
    const tally = (pumps: QueuePump[]) => {
      for (const p of pumps) {
        totals[p.definition.name]!.completed += p.stats.completed;
        totals[p.definition.name]!.failed += p.stats.failed;
      }
    };

    if (options.once) {
      // One tick of every scheduled queue, then rounds until nothing selected is due.
      for (const d of definitions) if (d.schedule) await boss.send(d.name, {});
      for (let round = 0; round < 20 && !options.signal.aborted; round++) {
        const pumps = makePumps();
        await Promise.all(pumps.map((p) => p.start()));
        await Promise.all(pumps.map((p) => p.drained()));
        tally(pumps);
        if (
          (await dueCount(
            db,
            definitions.map((d) => d.name),
          )) === 0
        )
          break;
      }
      log.info({ processed: totals }, 'worker --once finished');
      return { drained: true, processed: totals };
    }

    const pumps = makePumps();
    for (const p of pumps) void p.start();
    log.info(
      {
        queues: pumps.map((p) => ({
          queue: p.definition.name,
          concurrency: options.concurrency ?? p.definition.worker.concurrency,
        })),
      },
      'worker started',
    );
    const heartbeat = setInterval(() => {
      log.info(
        {
          queues: Object.fromEntries(
            pumps.map((p) => [p.definition.name, { ...p.stats, paused: paused.has(p.definition.name) }]),
          ),
          rssMb: Math.round(process.memoryUsage().rss / 1_048_576),
        },
        'heartbeat',
      );
    }, options.heartbeatMs);
    cleanup.unshift(async () => clearInterval(heartbeat));

    await new Promise<void>((resolve) => {
      if (options.signal.aborted) resolve();
      else options.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    log.info({ drainTimeoutMs: options.drainTimeoutMs }, 'stopping: no new jobs; waiting for in-flight jobs');
    for (const p of pumps) p.stop();
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all(pumps.map((p) => p.drained())).then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), options.drainTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      log.error(
        { inFlight: pumps.reduce((n, p) => n + p.stats.inFlight, 0) },
        'drain timed out; aborting in-flight jobs (they will be retried)',
      );
      for (const p of pumps) p.abort();
      // Aborted calls end at once: let their batches hand the jobs back (retry) and record the
      // failures before the connections close — else they stay active until they expire.
      await Promise.race([
        Promise.all(pumps.map((p) => p.drained())),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ABORT_GRACE_MS);
        }),
      ]);
      clearTimeout(timer);
    }
    tally(pumps);
    log.info({ processed: totals, drained }, 'worker stopped');
    return { drained, processed: totals };
  } finally {
    for (const fn of cleanup)
      await fn().catch((error: unknown) => log.warn({ err: error }, 'worker cleanup failed'));
  }
}
