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
import { type Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AnalyzeResult, Analyzer } from '../analysis/analyzer.ts';
import { costOf } from '../analysis/pricing.ts';
import type { Database } from '../db/types.ts';
import type { Budget } from '../queue/budget.ts';
import { deadLetterName, type QueueDefinition } from '../queue/catalog.ts';
import { QUERIES } from '../queue/plans.ts';
import { type BillingMetrics, createBillingMetrics } from './billing.ts';
import { counterIn } from './families.ts';

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
  /** Renewals, charges, dunning, the reconciler and Toss latency (see ./billing.ts). */
  readonly billing: BillingMetrics;
  /** Wraps an analyzer so every call is counted (outcome, tokens, cost, 429s). */
  instrumentAnalyzer(analyzer: Analyzer): Analyzer;
  /** Wraps a budget so waits for the next window are counted. */
  instrumentBudget(budget: Budget, name: string): Budget;
  /** Registers `sumda_worker_ready` (1 when every readiness check passes), evaluated per scrape. */
  readyGauge(isReady: () => Promise<boolean>): void;
  /** Reads the output a settled job left, for the metrics that live in outputs (slip decisions, billing). */
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
  const counter = counterIn(registry);
  /** A gauge filled per scrape from pg-boss's cached queue counters (one shared read). */
  const queueGauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (gauge: Gauge<L>, q: QueueSnapshot) => void,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        for (const q of await snapshots()) fill(this, q);
      },
    });

  const jobsCompleted = counter('sumda_jobs_completed_total', 'Jobs completed by this worker', ['queue']);
  const jobsRetried = counter(
    'sumda_jobs_retried_total',
    'Job attempts that failed and went back to the queue for a retry',
    ['queue'],
  );
  const jobsDeadLettered = counter(
    'sumda_jobs_dead_lettered_total',
    'Jobs that failed their last attempt (moved to <queue>.dead where the queue has one)',
    ['queue'],
  );
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

  queueGauge(
    'sumda_queue_jobs',
    "Jobs per queue and state (pg-boss's cached counters: ready = due now, deferred = start time ahead, active = held by a worker)",
    ['queue', 'state'],
    (gauge, q) => {
      if (deadLetters.has(q.name)) return;
      gauge.set({ queue: q.name, state: 'ready' }, q.ready);
      gauge.set({ queue: q.name, state: 'deferred' }, q.deferred);
      gauge.set({ queue: q.name, state: 'active' }, q.active);
    },
  );
  queueGauge(
    'sumda_queue_oldest_ready_seconds',
    'Age of the oldest job that is due and not yet taken, per queue (0 when none)',
    ['queue'],
    (gauge, q) => {
      if (!deadLetters.has(q.name)) gauge.set({ queue: q.name }, q.oldestReadySeconds ?? 0);
    },
  );
  queueGauge(
    'sumda_dead_letters',
    'Jobs waiting in each queue’s dead-letter queue (<queue>.dead) for an operator',
    ['queue'],
    (gauge, q) => {
      const source = deadLetters.get(q.name);
      if (source) gauge.set({ queue: source }, q.queued + q.active);
    },
  );
  queueGauge(
    'sumda_queue_stats_age_seconds',
    'How old pg-boss’s cached queue counters are (they refresh with the supervisor of a running worker)',
    ['queue'],
    (gauge, q) => {
      if (q.refreshedAt) {
        gauge.set({ queue: q.name }, Math.max(0, (Date.now() - q.refreshedAt.getTime()) / 1000));
      }
    },
  );

  const modelCalls = counter(
    'sumda_model_calls_total',
    'Analyzer calls by model snapshot and outcome (ok, refusal, invalid_output, …, rate_limited, server_error)',
    ['model', 'outcome'],
  );
  const modelTokens = counter(
    'sumda_model_tokens_total',
    'Model tokens by kind (input, output, cached, reasoning)',
    ['model', 'kind'],
  );
  const modelCost = counter(
    'sumda_model_cost_usd_total',
    'Model cost in US dollars, from the versioned price table',
    ['model'],
  );
  const modelRateLimited = counter(
    'sumda_model_rate_limited_total',
    "Model calls refused with 429 after the SDK's own retries",
  );
  const budgetWaits = counter(
    'sumda_budget_waits_total',
    'Times a call waited for the next window of a shared per-minute budget',
    ['budget'],
  );
  const budgetWaitSeconds = counter(
    'sumda_budget_wait_seconds_total',
    'Time spent waiting for a shared per-minute budget',
    ['budget'],
  );
  const slipDecisions = counter(
    'sumda_slip_decisions_total',
    'Slip checks by decision (normal, warning, slipped) and whether crisis resources were shown',
    ['decision', 'crisis'],
  );
  const billing = createBillingMetrics(registry);

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
    billing,
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
      if (queue.startsWith('billing.')) return billing.observeOutput(queue, output);
      if (queue !== 'slip.check' || !output || typeof output !== 'object') return;
      const o = output as { status?: unknown; decision?: unknown; crisis?: unknown };
      if (o.status !== 'checked' || typeof o.decision !== 'string') return;
      slipDecisions.inc({ decision: o.decision, crisis: o.crisis === true ? 'true' : 'false' });
    },
  };
}
