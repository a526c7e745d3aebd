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
import { createDb } from '../src/db/connect.ts';
import { assertSchemaCurrent } from '../src/db/schema-version.ts';
import type { Database } from '../src/db/types.ts';
import { recordError } from '../src/errorlog.ts';
import { UsageError } from '../src/errors.ts';
import { loadCheckedKeyring } from '../src/keys/checks.ts';
import type { Logger } from '../src/log.ts';
import type { WorkerMetrics } from '../src/metrics/worker.ts';
import { PolicyResolver } from '../src/policy/resolver.ts';
import {
  createBoss,
  enqueueTick,
  expediteOrphans,
  installQueues,
  type PgBoss,
  pausedQueues,
  SUPERVISE_SECONDS,
} from '../src/queue/boss.ts';
import { createSharedBudget } from '../src/queue/budget.ts';
import { ALL_QUEUES, type QueueDefinition } from '../src/queue/catalog.ts';
import { QUERIES } from '../src/queue/plans.ts';
import { QueuePump, type SettledBatch } from '../src/queue/pump.ts';
import type { JobContext } from './context.ts';
import { handlerOf } from './index.ts';

/** Connections per pool; a worker has two (sumda's and pg-boss's). */
export const DEFAULT_POOL_SIZE = 10;

/** After a drain timeout, how long aborted jobs get to be handed back before the connections close. */
const ABORT_GRACE_MS = 2000;
/**
 * `once`: rounds at most. A round works what is due until the queues look empty; what became due
 * meanwhile (a retry, or a retry waited for within the horizon) is the next round's. A queue that
 * keeps refilling itself, or a paused queue with due jobs, stops here: `drained: false`.
 */
const ONCE_MAX_ROUNDS = 20;

export interface WorkerOptions {
  url: string;
  config: Config;
  log: Logger;
  /** Queue names to work; default every queue of the catalog. */
  queues?: string[];
  /** Jobs in flight per queue; default the catalog's. */
  concurrency?: number;
  batchSize?: number;
  once: boolean;
  drainTimeoutMs: number;
  heartbeatMs: number;
  pollIntervalMs: number;
  /** `--once`: wait for retries due within this many milliseconds (default 0); report the rest. */
  retryHorizonMs?: number;
  /** Aborted on the first stop signal. */
  signal: AbortSignal;
  /** Serve /metrics, /healthz and /readyz on this port (0 = any free port; undefined = none). */
  metricsPort?: number;
  metricsHost?: string;
  /** Connections in each of the worker's two pools; default DEFAULT_POOL_SIZE. */
  poolSize?: number;
  /** Inject an analyzer (tests, benchmarks); default from configuration. */
  analyzer?: Analyzer;
}

export interface WorkerResult {
  /**
   * False when in-flight jobs had to be aborted at the drain timeout, or when `--once` stopped at its
   * round limit with jobs still due (a queue that keeps refilling itself, or a paused one).
   */
  drained: boolean;
  /** `--once` stopped by a signal before it ran out of due jobs. */
  interrupted: boolean;
  processed: Record<string, { completed: number; failed: number }>;
  /** `--once`: jobs of the selected queues still waiting (start time ahead) when it returned. */
  left: { waiting: number; nextAt: string | null } | null;
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

export function selectQueues(names: string[] | undefined): readonly QueueDefinition[] {
  if (!names || names.length === 0) return ALL_QUEUES;
  const unknown = names.filter((n) => !ALL_QUEUES.some((q) => q.name === n));
  if (unknown.length > 0) {
    throw new UsageError(`--queues: unknown queue ${unknown.join(', ')}`, {
      hint: `queues: ${ALL_QUEUES.map((q) => q.name).join(', ')}`,
    });
  }
  return ALL_QUEUES.filter((q) => names.includes(q.name));
}

/** Due jobs (created or retry, start time passed) across the given queues. */
async function dueCount(db: Kysely<Database>, names: string[]): Promise<number> {
  const result = await QUERIES.dueCount(names).execute(db);
  return result.rows[0]?.n ?? 0;
}

export async function runWorker(options: WorkerOptions): Promise<WorkerResult> {
  const { log, config } = options;
  const definitions = selectQueues(options.queues);
  // Two pools per worker: sumda's queries (handlers, budgets) and pg-boss's (fetch, settle, supervise).
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const db = createDb(options.url, { max: poolSize, applicationName: 'sumda-worker' });
  const boss: PgBoss = createBoss(options.url, { active: !options.once, log, max: poolSize });
  const cleanup: (() => Promise<void>)[] = [async () => db.destroy()];
  /** Set once the pumps run: before that, readiness says "starting". */
  let running = false;
  try {
    // Before the first job: a schema this build does not know (ahead or behind) is refused, exit 3.
    await assertSchemaCurrent(db);
    const metrics =
      options.metricsPort === undefined
        ? undefined
        : await startMetrics(
            options,
            db,
            definitions,
            () => running,
            (fn) => cleanup.unshift(fn),
          );
    await boss.start();
    cleanup.unshift(async () => boss.stop({ graceful: false, close: true }));
    await installQueues(boss);
    // A wrong key under a known id stops the worker here (exit 4), before any job opens a thing.
    const { keyring } = await loadCheckedKeyring(config, log, db);
    const resolver = new PolicyResolver(db, { ttlMs: 10_000, log });
    const analyzer = options.analyzer ?? (await analyzerFrom(config, log));
    const budget = createSharedBudget(
      db,
      'openai',
      config.analyzer === 'openai' ? config.openai.requestsPerMinute : 0,
    );
    const ctx: JobContext = {
      db,
      boss,
      config,
      log,
      keyring,
      resolver,
      analyzer: metrics ? metrics.instrumentAnalyzer(analyzer) : analyzer,
      budget: metrics ? metrics.instrumentBudget(budget, 'openai') : budget,
      instrumentToss: metrics?.billing.instrumentToss,
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

    const onFailure = async (
      job: Job<unknown>,
      error: Error,
      definition: QueueDefinition,
      terminal: boolean,
    ) => {
      const data = (job.data ?? {}) as { requestId?: string; promptName?: string; promptVersion?: string };
      // For operators: `terminal` when the job is dead-lettered now (its last attempt, or a payload
      // that can never parse). A log, nothing decides by it: what the scans skip is kept in tables
      // of its own (sumda.analysis_failures, written by the analysis.run handler).
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
    const makePumps = () => {
      const pumps: QueuePump[] = definitions.map(
        (definition) =>
          new QueuePump(boss, definition, handlerOf(definition.name)!.create(ctx), {
            batchSize: options.batchSize ?? definition.worker.batchSize,
            concurrency: options.concurrency ?? definition.worker.concurrency,
            pollIntervalMs: options.pollIntervalMs,
            once: options.once,
            othersBusy: () => pumps.some((p) => p.busy),
            isPaused: () => paused.has(definition.name),
            log,
            onFailure,
            ...(metrics
              ? {
                  onInFlight: (queue: string, delta: number) => metrics.jobsInFlight.inc({ queue }, delta),
                  onSettled: (batch: SettledBatch) => observeBatch(metrics, batch),
                }
              : {}),
          }),
      );
      return pumps;
    };
    const totals: WorkerResult['processed'] = Object.fromEntries(
      definitions.map((d) => [d.name, { completed: 0, failed: 0 }]),
    );
    const tally = (pumps: QueuePump[]) => {
      for (const p of pumps) {
        totals[p.definition.name]!.completed += p.stats.completed;
        totals[p.definition.name]!.failed += p.stats.failed;
      }
    };

    running = options.once;
    if (options.once) return await runOnce(options, db, boss, definitions, makePumps, tally, totals);

    const pumps = makePumps();
    for (const p of pumps) void p.start();
    running = true;
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
    // The jobs of a worker that died come back without the failure backoff (see expediteOrphans).
    const names = definitions.map((d) => d.name);
    const orphans = setInterval(() => {
      expediteOrphans(boss, names)
        .then((n) => {
          if (n > 0) log.warn({ jobs: n }, 'retrying at once the jobs of a worker whose heartbeat stopped');
        })
        .catch((error: unknown) => log.warn({ err: error }, 'could not look for orphaned jobs'));
    }, SUPERVISE_SECONDS * 1000);
    cleanup.unshift(async () => clearInterval(orphans));

    await aborted(options.signal);
    const drained = await drain(pumps, options.drainTimeoutMs, log);
    tally(pumps);
    log.info({ processed: totals, drained }, 'worker stopped');
    return { drained, interrupted: false, processed: totals, left: null };
  } finally {
    for (const fn of cleanup)
      await fn().catch((error: unknown) => log.warn({ err: error }, 'worker cleanup failed'));
  }
}

/** Resolves when the signal is aborted (at once if it already is). */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The graceful stop shared by the daemon and `--once`: no new fetches, in-flight jobs finish within
 * the drain timeout; past it they are aborted and handed back for a retry. True when all finished.
 */
async function drain(pumps: QueuePump[], drainTimeoutMs: number, log: Logger): Promise<boolean> {
  log.info({ drainTimeoutMs }, 'stopping: no new jobs; waiting for in-flight jobs');
  for (const p of pumps) p.stop();
  let timer: NodeJS.Timeout | undefined;
  const drained = await Promise.race([
    Promise.all(pumps.map((p) => p.drained())).then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), drainTimeoutMs);
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
  return drained;
}

/** Jobs of the given queues waiting (created or retry) with a start time still ahead. */
async function waiting(
  db: Kysely<Database>,
  names: string[],
): Promise<{ count: number; next: Date | null; nextInMs: number | null }> {
  const result = await QUERIES.waitingCount(names).execute(db);
  const row = result.rows[0];
  return { count: row?.n ?? 0, next: row?.next ?? null, nextInMs: row?.next_in_ms ?? null };
}

/**
 * `--once`: one tick of every scheduled queue, then rounds until nothing selected is due. Retries
 * due within the horizon are waited for; what waits longer is counted and reported. The first stop
 * signal drains exactly like the daemon (stop fetching, finish in-flight jobs, abort past the drain
 * timeout): a cron or CI job stays stoppable.
 */
async function runOnce(
  options: WorkerOptions,
  db: Kysely<Database>,
  boss: PgBoss,
  definitions: readonly QueueDefinition[],
  makePumps: () => QueuePump[],
  tally: (pumps: QueuePump[]) => void,
  totals: WorkerResult['processed'],
): Promise<WorkerResult> {
  const { log, signal } = options;
  const names = definitions.map((d) => d.name);
  for (const d of definitions) if (d.schedule) await enqueueTick(boss, d);
  const stopSignal = aborted(signal).then(() => 'signal' as const);
  let drained = true;
  for (let round = 0; !signal.aborted; round++) {
    if (round === ONCE_MAX_ROUNDS) {
      drained = false;
      log.warn(
        { maxRounds: ONCE_MAX_ROUNDS, due: await dueCount(db, names) },
        'worker --once stopped at its round limit with jobs still due',
      );
      break;
    }
    const pumps = makePumps();
    for (const p of pumps) void p.start();
    const first = await Promise.race([
      Promise.all(pumps.map((p) => p.drained())).then(() => 'done' as const),
      stopSignal,
    ]);
    if (first === 'signal') {
      drained = await drain(pumps, options.drainTimeoutMs, log);
      tally(pumps);
      break;
    }
    tally(pumps);
    const broken = pumps.find((p) => p.fetchError);
    if (broken) {
      throw new Error(
        `worker --once: could not fetch from ${broken.definition.name}: ${broken.fetchError!.message}`,
        {
          cause: broken.fetchError,
        },
      );
    }
    if ((await dueCount(db, names)) > 0) continue;
    const ahead = await waiting(db, names);
    if (ahead.count === 0 || ahead.nextInMs === null || ahead.nextInMs > (options.retryHorizonMs ?? 0)) break;
    log.info(
      { waiting: ahead.count, nextInMs: ahead.nextInMs },
      'worker --once: waiting for retries due within the horizon',
    );
    await delay(Math.max(ahead.nextInMs, 0) + 50, signal);
  }
  const interrupted = signal.aborted;
  const ahead = await waiting(db, names);
  const left = ahead.count > 0 ? { waiting: ahead.count, nextAt: ahead.next?.toISOString() ?? null } : null;
  if (left) {
    log.warn(
      { ...left, retryHorizonMs: options.retryHorizonMs ?? 0 },
      interrupted
        ? 'worker --once interrupted; jobs still wait'
        : 'worker --once finished; jobs wait for a retry beyond the horizon',
    );
  }
  log.info({ processed: totals, drained, interrupted }, 'worker --once finished');
  return { drained, interrupted, processed: totals, left };
}

/** How long a readiness check may take before it counts as failed. */
const READY_CHECK_TIMEOUT_MS = 2000;

function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Starts the metrics registry and the probe server; the server closes with the worker. */
async function startMetrics(
  options: WorkerOptions,
  db: Kysely<Database>,
  definitions: readonly QueueDefinition[],
  isRunning: () => boolean,
  onCleanup: (fn: () => Promise<void>) => void,
): Promise<WorkerMetrics> {
  const { createWorkerMetrics } = await import('../src/metrics/worker.ts');
  const { startProbeServer } = await import('../src/metrics/server.ts');
  const { sql } = await import('kysely');
  const { schemaVersion, isCurrent } = await import('../src/db/schema-version.ts');
  const metrics = createWorkerMetrics({ db, definitions });
  const readiness = async () => {
    const draining = options.signal.aborted;
    const database = await within(READY_CHECK_TIMEOUT_MS, sql`select 1`.execute(db), 'the database check')
      .then(() => ({ ok: true }))
      .catch((error: unknown) => ({ ok: false, detail: `unreachable: ${(error as Error).message}` }));
    const schema = database.ok
      ? await within(READY_CHECK_TIMEOUT_MS, schemaVersion(db), 'the schema check')
          .then((v) =>
            isCurrent(v)
              ? { ok: true, detail: v.applied ?? '' }
              : { ok: false, detail: `pending ${v.pending.length}, unknown ${v.unknown.length}` },
          )
          .catch((error: unknown) => ({ ok: false, detail: (error as Error).message }))
      : { ok: false, detail: 'not checked: the database is unreachable' };
    return {
      database,
      schema,
      accepting: draining
        ? { ok: false, detail: 'draining' }
        : isRunning()
          ? { ok: true }
          : { ok: false, detail: 'starting' },
    };
  };
  // /readyz as a metric, for the "no worker ready" alert.
  metrics.readyGauge(async () => Object.values(await readiness()).every((c) => c.ok));
  const server = await startProbeServer({
    port: options.metricsPort!,
    host: options.metricsHost,
    registry: metrics.registry,
    readiness,
  });
  onCleanup(() => server.close());
  options.log.info({ port: server.port }, 'metrics and probes listening');
  return metrics;
}

function observeBatch(metrics: WorkerMetrics, batch: SettledBatch): void {
  const { queue, seconds } = batch;
  if (batch.completed.length > 0) {
    metrics.jobsCompleted.inc({ queue }, batch.completed.length);
    for (const { output } of batch.completed) {
      metrics.jobDuration.observe({ queue, status: 'completed' }, seconds);
      metrics.observeOutput(queue, output);
    }
  }
  if (batch.retried.length > 0) metrics.jobsRetried.inc({ queue }, batch.retried.length);
  if (batch.deadLettered.length > 0) metrics.jobsDeadLettered.inc({ queue }, batch.deadLettered.length);
  for (let i = 0; i < batch.retried.length + batch.deadLettered.length; i++) {
    metrics.jobDuration.observe({ queue, status: 'failed' }, seconds);
  }
}
