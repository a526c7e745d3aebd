/**
 * The worker engine: for each queue, keep up to `concurrency` jobs in flight, fetched from pg-boss
 * in batches of up to `batchSize` and refilled the moment capacity frees up (so slow LLM calls
 * overlap instead of queueing behind a polling interval). pg-boss keeps the guarantees — a job is
 * claimed by one worker at a time (SKIP LOCKED), expires back to the queue if its worker dies,
 * retries with backoff and lands in the dead-letter queue past its retry limit; the pump adds
 * batching of completions, pausing, graceful drain and the accounting the heartbeat reports.
 */
import type { Job, PgBoss } from 'pg-boss';
import type { Logger } from '../log.ts';
import { completeWithOutputs, deadLetter, deferRetries, HEARTBEAT_SECONDS } from './boss.ts';
import type { QueueDefinition } from './catalog.ts';

/** What a handler says about one job of its batch. */
export type JobOutcome =
  | { id: string; status: 'completed'; output?: object }
  /**
   * Retry later (pg-boss counts the attempt; past the limit it dead-letters). An error carrying a
   * `retryAfterMs` (a server's `retry-after`) delays the retry at least that long.
   */
  | { id: string; status: 'retry'; error: Error }
  /** Never retry: the job can never succeed (an invalid payload); straight to the dead-letter queue. */
  | { id: string; status: 'dead'; error: Error };

/** The server-given delay an error carries (e.g. RetryableAnalysisError after a 429), if any. */
export function retryAfterOf(error: Error): number | undefined {
  const ms = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export type BatchHandler = (jobs: Job<unknown>[], signal: AbortSignal) => Promise<JobOutcome[]>;

export interface PumpOptions {
  batchSize: number;
  concurrency: number;
  /** Milliseconds between fetches while the queue is empty. */
  pollIntervalMs: number;
  /** Drain once and stop: resolve `finished` when nothing is due and nothing is in flight. */
  once: boolean;
  /**
   * `once`: whether another pump of the same run is busy (see `QueuePump.busy`). An empty queue
   * ends a one-shot pump only when the whole run is idle, since a busy pump may be enqueuing its
   * work (a billing scan's renewals, an analysis's slip check): they run in the same round.
   */
  othersBusy?: () => boolean;
  isPaused: () => boolean;
  log: Logger;
  /**
   * Called for every job that fails (after the outcome is settled), e.g. to write admin.error_logs;
   * `terminal` when the job will not be retried (dead-lettered, or failed for good).
   */
  onFailure?: (
    job: Job<unknown>,
    error: Error,
    definition: QueueDefinition,
    terminal: boolean,
  ) => Promise<void>;
  /** Called once per settled batch (metrics). */
  onSettled?: (settled: SettledBatch) => void;
  /** Called when jobs are taken (+n) and when their batch ends (-n). */
  onInFlight?: (queue: string, delta: number) => void;
}

/** What one batch came to, for metrics: handler seconds, and each job's fate. */
export interface SettledBatch {
  queue: string;
  seconds: number;
  completed: { job: Job<unknown>; output: object | undefined }[];
  /** Failed attempts going back for a retry. */
  retried: Job<unknown>[];
  /** Failed on their last attempt (dead-lettered where the queue has a dead-letter queue). */
  deadLettered: Job<unknown>[];
}

/** The request id a job carries (the operator command or job that caused it), for its log lines. */
function requestIdOf(job: Job<unknown>): string | undefined {
  const id = (job.data as { requestId?: unknown } | null)?.requestId;
  return typeof id === 'string' ? id : undefined;
}

export interface PumpStats {
  fetched: number;
  completed: number;
  failed: number;
  inFlight: number;
}

/** `once`: consecutive failed fetches after which a one-shot pump gives up. */
const ONCE_FETCH_ATTEMPTS = 5;

export class QueuePump {
  readonly definition: QueueDefinition;
  readonly stats: PumpStats = { fetched: 0, completed: 0, failed: 0, inFlight: 0 };
  readonly #boss: PgBoss;
  readonly #handler: BatchHandler;
  readonly #options: PumpOptions;
  readonly #controller = new AbortController();
  #stopping = false;
  /** `once`: the error that made fetching give up (the database stayed unreachable). */
  fetchError: Error | undefined;
  #fetchFailures = 0;
  /** Whether the last fetch found nothing (false before the first). */
  #foundNothing = false;
  #ended = false;
  #wake: (() => void) | undefined;
  #batches = new Set<Promise<void>>();
  #loop: Promise<void> | undefined;
  /** Jobs held now, for the heartbeat. */
  #held = new Map<string, Job<unknown>>();
  #heartbeat: NodeJS.Timeout | undefined;

  constructor(boss: PgBoss, definition: QueueDefinition, handler: BatchHandler, options: PumpOptions) {
    this.#boss = boss;
    this.definition = definition;
    this.#handler = handler;
    this.#options = options;
  }

  /**
   * Holds jobs, or has not yet found its queue empty: it may still enqueue work for the other
   * queues of its run. A pump that has not fetched yet counts as busy, so a sibling does not end
   * before it has looked.
   */
  get busy(): boolean {
    return this.stats.inFlight > 0 || (!this.#ended && !this.#foundNothing);
  }

  start(): Promise<void> {
    this.#loop ??= this.#run().finally(() => {
      this.#ended = true;
    });
    if (!this.#heartbeat) {
      this.#heartbeat = setInterval(() => void this.#beat(), (HEARTBEAT_SECONDS * 1000) / 2);
      this.#heartbeat.unref();
    }
    return this.#loop;
  }

  /**
   * Refreshes the heartbeat of every job held, fenced to the fetched attempt: pg-boss's supervisor
   * (in any worker) retries a job whose heartbeat went quiet, i.e. whose worker died.
   */
  async #beat(): Promise<void> {
    if (this.#held.size === 0) return;
    const jobs = [...this.#held.values()];
    try {
      const result = await this.#boss.touch(
        this.definition.name,
        jobs.map((j) => ({ id: j.id, retryCount: j.retryCount })),
      );
      // The declared type is empty; the object carries `affected` (pg-boss mapCommandResponse).
      const affected = (result as { affected?: number }).affected ?? jobs.length;
      const lost = jobs.length - affected;
      if (lost > 0) {
        // Settled meanwhile (normal), or taken back after this process stalled past the heartbeat:
        // the fenced completion will then not apply, and handlers are idempotent.
        this.#options.log.debug(
          { queue: this.definition.name, lost },
          'heartbeat: some jobs are no longer held',
        );
      }
    } catch (error) {
      this.#options.log.warn({ err: error, queue: this.definition.name }, 'heartbeat failed');
    }
  }

  /** Stop fetching; in-flight jobs keep running. `drained()` resolves when they are done. */
  stop(): void {
    this.#stopping = true;
    this.#wake?.();
  }

  /** Aborts in-flight handlers (the second signal, or a drain timeout). */
  abort(): void {
    this.#controller.abort();
  }

  async drained(): Promise<void> {
    await this.#loop;
    while (this.#batches.size > 0) await Promise.allSettled([...this.#batches]);
    clearInterval(this.#heartbeat);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #run(): Promise<void> {
    const { batchSize, concurrency, pollIntervalMs, once, log } = this.#options;
    const name = this.definition.name;
    while (!this.#stopping) {
      if (this.#options.isPaused()) {
        if (once) break;
        await this.#sleep(pollIntervalMs);
        continue;
      }
      const free = concurrency - this.stats.inFlight;
      if (free <= 0) {
        await this.#sleep(pollIntervalMs);
        continue;
      }
      let jobs: Job<unknown>[];
      try {
        // All the free room in one fetch, cut into batches below: one fetch per batch would make the
        // fetch round trip the ceiling (batchSize jobs per round trip) whenever handlers are quick.
        jobs = await this.#boss.fetch<unknown>(name, { batchSize: free });
      } catch (error) {
        log.error({ err: error, queue: name }, 'fetch failed; retrying after the poll interval');
        // A daemon keeps trying (and reports not ready); a one-shot run must end, not retry forever.
        if (once && ++this.#fetchFailures >= ONCE_FETCH_ATTEMPTS) {
          this.fetchError = error as Error;
          break;
        }
        await this.#sleep(pollIntervalMs);
        continue;
      }
      this.#fetchFailures = 0;
      this.#foundNothing = jobs.length === 0;
      if (jobs.length === 0) {
        if (once && this.stats.inFlight === 0 && !this.#options.othersBusy?.()) break;
        // Nothing due: wait for the poll interval, or for a batch to finish (it may have enqueued more).
        await this.#sleep(once ? 50 : pollIntervalMs);
        continue;
      }
      this.stats.fetched += jobs.length;
      for (let i = 0; i < jobs.length; i += batchSize) this.#launch(jobs.slice(i, i + batchSize));
      // No sleep here: while there is room, fetch again at once (a short fetch ends in the empty branch).
    }
  }

  #launch(jobs: Job<unknown>[]): void {
    this.stats.inFlight += jobs.length;
    for (const job of jobs) this.#held.set(job.id, job);
    this.#options.onInFlight?.(this.definition.name, jobs.length);
    const batch = this.#process(jobs).finally(() => {
      this.stats.inFlight -= jobs.length;
      for (const job of jobs) this.#held.delete(job.id);
      this.#options.onInFlight?.(this.definition.name, -jobs.length);
      this.#batches.delete(batch);
      this.#wake?.();
    });
    this.#batches.add(batch);
  }

  async #process(jobs: Job<unknown>[]): Promise<void> {
    const { log } = this.#options;
    const name = this.definition.name;
    for (const job of jobs) {
      log.debug(
        { queue: name, jobId: job.id, attempt: job.retryCount + 1, reqId: requestIdOf(job) },
        'job started',
      );
    }
    const started = performance.now();
    let outcomes: JobOutcome[];
    try {
      outcomes = await this.#handler(jobs, this.#controller.signal);
    } catch (error) {
      // A handler that throws fails the whole batch: every job is retried.
      outcomes = jobs.map((j) => ({ id: j.id, status: 'retry' as const, error: error as Error }));
    }
    const ms = Math.round(performance.now() - started);
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    const limit = this.definition.retryLimit;
    const completed: Job<unknown>[] = [];
    const failed: { job: Job<unknown>; error: Error; terminal: boolean }[] = [];
    const dead: { id: string; retryCount: number; error: Error }[] = [];
    for (const job of jobs) {
      const outcome = byId.get(job.id);
      if (outcome?.status === 'completed') completed.push(job);
      else if (outcome?.status === 'dead') {
        dead.push({ id: job.id, retryCount: job.retryCount, error: outcome.error });
        failed.push({ job, error: outcome.error, terminal: true });
      } else
        failed.push({
          job,
          error: outcome?.status === 'retry' ? outcome.error : new Error('the handler gave no outcome'),
          terminal: job.retryCount >= limit,
        });
    }
    try {
      if (completed.length > 0) {
        const outputs = completed.map((j) => (byId.get(j.id) as { output?: object }).output);
        if (outputs.every((o) => o === undefined)) {
          await this.#boss.complete(
            name,
            completed.map((j) => ({ id: j.id, retryCount: j.retryCount })),
          );
        } else {
          // One statement for the batch, not one per job (each its own commit).
          await completeWithOutputs(
            this.#boss,
            name,
            completed.map((job, i) => ({
              id: job.id,
              retryCount: job.retryCount,
              output: outputs[i] ?? null,
            })),
          );
        }
      }
      await deadLetter(this.#boss, name, dead);
      for (const { job, error } of failed) {
        if (byId.get(job.id)?.status === 'dead') continue;
        await this.#boss.fail(
          name,
          { id: job.id, retryCount: job.retryCount },
          { message: error.message, name: error.name },
        );
      }
      const deferred = failed.flatMap(({ job, error }) => {
        const retryAfterMs = retryAfterOf(error);
        return retryAfterMs === undefined ? [] : [{ id: job.id, retryAfterMs }];
      });
      await deferRetries(this.#boss, name, deferred);
    } catch (error) {
      // The claim expires and pg-boss retries the jobs; handlers are idempotent.
      log.error(
        { err: error, queue: name, jobs: jobs.length },
        'could not settle jobs; they will be retried after expiry',
      );
    }
    this.stats.completed += completed.length;
    this.stats.failed += failed.length;
    for (const job of completed) {
      log.debug(
        { queue: name, jobId: job.id, attempt: job.retryCount + 1, ms, reqId: requestIdOf(job) },
        'job completed',
      );
    }
    for (const { job, error, terminal } of failed) {
      // The last attempt is an error (the job is dead now); an attempt that will be retried, a warning.
      log[terminal ? 'error' : 'warn'](
        {
          queue: name,
          jobId: job.id,
          attempt: job.retryCount + 1,
          retryLimit: limit,
          ms,
          reqId: requestIdOf(job),
          err: error,
        },
        terminal ? 'job failed on its last attempt' : 'job failed; it will be retried',
      );
      await this.#options.onFailure?.(job, error, this.definition, terminal).catch((e: unknown) => {
        log.error({ err: e, queue: name, jobId: job.id }, 'could not record the failure in error_logs');
      });
    }
    this.#options.onSettled?.({
      queue: name,
      seconds: ms / 1000,
      completed: completed.map((job) => ({
        job,
        output: (byId.get(job.id) as { output?: object } | undefined)?.output,
      })),
      retried: failed.filter((f) => !f.terminal).map(({ job }) => job),
      deadLettered: failed.filter((f) => f.terminal).map(({ job }) => job),
    });
    if (jobs.length > 1 || failed.length > 0) {
      log.debug(
        { queue: name, jobs: jobs.length, completed: completed.length, failed: failed.length, ms },
        'batch done',
      );
    }
  }
}
