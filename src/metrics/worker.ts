/**
 * The worker's Prometheus metrics (prom-client): one registry per worker process, the default
 * process metrics, and sumda's own. Labels are bounded sets — queue names, model snapshots,
 * outcomes, decisions — never user ids, entry ids or text.
 *
 * Queue depth, oldest-waiting age and dead letters come from pg-boss's own per-queue counters in
 * `pgboss.queue` (refreshed by the supervisor of any running worker), read once per scrape from
 * that small table — never by counting job rows.
 */
import type { Kysely } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AnalyzeResult, Analyzer } from '../analysis/analyzer.ts';
import { costOf } from '../analysis/pricing.ts';
import type { Database } from '../db/types.ts';
import type { Budget } from '../queue/budget.ts';
import { deadLetterName, type QueueDefinition } from '../queue/catalog.ts';
import { QUERIES } from '../queue/plans.ts';

/** A budget acquire slower than this waited for the next window. */
const BUDGET_WAIT_MS = 50;

export interface QueueSnapshot {
  name: string;
  queued: number;
  ready: number;
  deferred: number;
  active: number;
  oldestReadySeconds: number | null;
  /** When pg-boss last refreshed these counters. */
  refreshedAt: Date | null;
}

/** pg-boss's cached counters for the given queues: one small read of `pgboss.queue`. */
export async function queueSnapshots(db: Kysely<Database>, names: string[]): Promise<QueueSnapshot[]> {
  const rows = await QUERIES.queueCache(names).execute(db);
  return rows.rows.map((r) => ({
    name: r.name,
    queued: r.queued_count,
    ready: r.ready_count,
    deferred: r.deferred_count,
    active: r.active_count,
    oldestReadySeconds: r.ready_oldest_seconds,
    refreshedAt: r.monitor_on,
  }));
}

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly jobsCompleted: Counter<'queue'>;
  readonly jobsRetried: Counter<'queue'>;
  readonly jobsDeadLettered: Counter<'queue'>;
  readonly jobDuration: Histogram<'queue' | 'status'>;
  readonly jobsInFlight: Gauge<'queue'>;
  readonly modelCalls: Counter<'model' | 'outcome'>;
  readonly modelTokens: Counter<'model' | 'kind'>;
  readonly modelCost: Counter<'model'>;
  readonly modelRateLimited: Counter;
  readonly budgetWaits: Counter<'budget'>;
  readonly budgetWaitSeconds: Counter<'budget'>;
  readonly slipDecisions: Counter<'decision' | 'crisis'>;
  /** Wraps an analyzer so every call is counted (outcome, tokens, cost, 429s). */
  instrumentAnalyzer(analyzer: Analyzer): Analyzer;
  /** Wraps a budget so waits for the next window are counted. */
  instrumentBudget(budget: Budget, name: string): Budget;
  /** Registers `sumda_worker_ready` (1 when every readiness check passes), evaluated per scrape. */
  readyGauge(isReady: () => Promise<boolean>): void;
  /** Reads the output a settled job left, for the metrics that live in outputs (slip decisions). */
  observeOutput(queue: string, output: unknown): void;
}

/** How a failed model call is labelled: bounded, from the error's class and status, never its text. */
export function modelErrorOutcome(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const status = /^OpenAI (\d{3})\b/.exec(message)?.[1];
  if (status === '429') return 'rate_limited';
  if (status) return status.startsWith('5') ? 'server_error' : `http_${status}`;
  if (/aborted/.test(message)) return 'aborted';
  if (/unreachable|timed? ?out/i.test(message)) return 'unreachable';
  return 'error';
}

export function createWorkerMetrics(options: {
  db: Kysely<Database>;
  definitions: readonly QueueDefinition[];
  /** Freshness of the per-scrape queue read; several gauges share one read. */
  snapshotTtlMs?: number;
}): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = options.definitions.flatMap((d) =>
    d.deadLetter ? [d.name, deadLetterName(d.name)] : [d.name],
  );
  const deadLetters = new Map(
    options.definitions.filter((d) => d.deadLetter).map((d) => [deadLetterName(d.name), d.name]),
  );
  let cached: { at: number; rows: Promise<QueueSnapshot[]> } | undefined;
  const snapshots = () => {
    const ttl = options.snapshotTtlMs ?? 2000;
    if (!cached || Date.now() - cached.at > ttl) {
      const rows = queueSnapshots(options.db, names);
      cached = { at: Date.now(), rows };
      // A failed read is not cached: the next scrape tries again.
      rows.catch(() => {
        cached = undefined;
      });
    }
    return cached.rows;
  };

  const registers = [registry];
  const jobsCompleted = new Counter({
    name: 'sumda_jobs_completed_total',
    help: 'Jobs completed by this worker',
    labelNames: ['queue'] as const,
    registers,
  });
  const jobsRetried = new Counter({
    name: 'sumda_jobs_retried_total',
    help: 'Job attempts that failed and went back to the queue for a retry',
    labelNames: ['queue'] as const,
    registers,
  });
  const jobsDeadLettered = new Counter({
    name: 'sumda_jobs_dead_lettered_total',
    help: 'Jobs that failed their last attempt (moved to <queue>.dead where the queue has one)',
    labelNames: ['queue'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: 'sumda_job_duration_seconds',
    help: 'Handler time of each job (its batch call), by outcome',
    labelNames: ['queue', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers,
  });
  const jobsInFlight = new Gauge({
    name: 'sumda_jobs_in_flight',
    help: 'Jobs this worker holds right now',
    labelNames: ['queue'] as const,
    registers,
  });
  for (const d of options.definitions) {
    jobsInFlight.set({ queue: d.name }, 0);
    jobsCompleted.inc({ queue: d.name }, 0);
    jobsRetried.inc({ queue: d.name }, 0);
    jobsDeadLettered.inc({ queue: d.name }, 0);
  }

  new Gauge({
    name: 'sumda_queue_jobs',
    help: "Jobs per queue and state (pg-boss's cached counters: ready = due now, deferred = start time ahead, active = held by a worker)",
    labelNames: ['queue', 'state'] as const,
    registers,
    async collect() {
      this.reset();
      for (const q of await snapshots()) {
        if (deadLetters.has(q.name)) continue;
        this.set({ queue: q.name, state: 'ready' }, q.ready);
        this.set({ queue: q.name, state: 'deferred' }, q.deferred);
        this.set({ queue: q.name, state: 'active' }, q.active);
      }
    },
  });
  new Gauge({
    name: 'sumda_queue_oldest_ready_seconds',
    help: 'Age of the oldest job that is due and not yet taken, per queue (0 when none)',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const q of await snapshots()) {
        if (!deadLetters.has(q.name)) this.set({ queue: q.name }, q.oldestReadySeconds ?? 0);
      }
    },
  });
  new Gauge({
    name: 'sumda_dead_letters',
    help: 'Jobs waiting in each queue’s dead-letter queue (<queue>.dead) for an operator',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      this.reset();
      for (const q of await snapshots()) {
        const source = deadLetters.get(q.name);
        if (source) this.set({ queue: source }, q.queued + q.active);
      }
    },
  });
  new Gauge({
    name: 'sumda_queue_stats_age_seconds',
    help: 'How old pg-boss’s cached queue counters are (they refresh with the supervisor of a running worker)',
    labelNames: ['queue'] as const,
    registers,
    async collect() {
      this.reset();
      const now = Date.now();
      for (const q of await snapshots()) {
        if (q.refreshedAt) this.set({ queue: q.name }, Math.max(0, (now - q.refreshedAt.getTime()) / 1000));
      }
    },
  });

  const modelCalls = new Counter({
    name: 'sumda_model_calls_total',
    help: 'Analyzer calls by model snapshot and outcome (ok, refusal, invalid_output, …, rate_limited, server_error)',
    labelNames: ['model', 'outcome'] as const,
    registers,
  });
  const modelTokens = new Counter({
    name: 'sumda_model_tokens_total',
    help: 'Model tokens by kind (input, output, cached, reasoning)',
    labelNames: ['model', 'kind'] as const,
    registers,
  });
  const modelCost = new Counter({
    name: 'sumda_model_cost_usd_total',
    help: 'Model cost in US dollars, from the versioned price table',
    labelNames: ['model'] as const,
    registers,
  });
  const modelRateLimited = new Counter({
    name: 'sumda_model_rate_limited_total',
    help: "Model calls refused with 429 after the SDK's own retries",
    registers,
  });
  const budgetWaits = new Counter({
    name: 'sumda_budget_waits_total',
    help: 'Times a call waited for the next window of a shared per-minute budget',
    labelNames: ['budget'] as const,
    registers,
  });
  const budgetWaitSeconds = new Counter({
    name: 'sumda_budget_wait_seconds_total',
    help: 'Time spent waiting for a shared per-minute budget',
    labelNames: ['budget'] as const,
    registers,
  });
  const slipDecisions = new Counter({
    name: 'sumda_slip_decisions_total',
    help: 'Slip checks by decision (normal, warning, slipped) and whether crisis resources were shown',
    labelNames: ['decision', 'crisis'] as const,
    registers,
  });

  return {
    registry,
    jobsCompleted,
    jobsRetried,
    jobsDeadLettered,
    jobDuration,
    jobsInFlight,
    modelCalls,
    modelTokens,
    modelCost,
    modelRateLimited,
    budgetWaits,
    budgetWaitSeconds,
    slipDecisions,
    instrumentAnalyzer(analyzer) {
      return {
        name: analyzer.name,
        async analyze(request) {
          let result: AnalyzeResult;
          try {
            result = await analyzer.analyze(request);
          } catch (error) {
            const outcome = modelErrorOutcome(error);
            modelCalls.inc({ model: request.model, outcome });
            if (outcome === 'rate_limited') modelRateLimited.inc();
            throw error;
          }
          const model = result.call.model || request.model;
          modelCalls.inc({ model, outcome: result.outcome });
          const t = result.call.tokens;
          modelTokens.inc({ model, kind: 'input' }, t.input);
          modelTokens.inc({ model, kind: 'output' }, t.output);
          modelTokens.inc({ model, kind: 'cached' }, t.cached);
          modelTokens.inc({ model, kind: 'reasoning' }, t.reasoning);
          const cost = costOf(model, t);
          if (cost) modelCost.inc({ model }, cost.usd);
          return result;
        },
      };
    },
    instrumentBudget(budget, name) {
      return {
        async acquire(signal) {
          const started = performance.now();
          try {
            await budget.acquire(signal);
          } finally {
            const ms = performance.now() - started;
            if (ms >= BUDGET_WAIT_MS) {
              budgetWaits.inc({ budget: name });
              budgetWaitSeconds.inc({ budget: name }, ms / 1000);
            }
          }
        },
      };
    },
    readyGauge(isReady) {
      new Gauge({
        name: 'sumda_worker_ready',
        help: 'Whether this worker is ready (database reachable, schema current, running and not draining)',
        registers,
        async collect() {
          this.set((await isReady().catch(() => false)) ? 1 : 0);
        },
      });
    },
    observeOutput(queue, output) {
      if (queue !== 'slip.check' || !output || typeof output !== 'object') return;
      const o = output as { status?: unknown; decision?: unknown; crisis?: unknown };
      if (o.status !== 'checked' || typeof o.decision !== 'string') return;
      slipDecisions.inc({ decision: o.decision, crisis: o.crisis === true ? 'true' : 'false' });
    },
  };
}
