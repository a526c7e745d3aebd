/** What every job handler gets: the long-lived resources of one worker process. */
import type { Kysely } from 'kysely';
import type { Job, PgBoss } from 'pg-boss';
import type { z } from 'zod';
import type { Analyzer } from '../src/analysis/analyzer.ts';
import type { TossClient } from '../src/billing/toss.ts';
import type { Config } from '../src/config/index.ts';
import type { Keyring } from '../src/crypto/index.ts';
import type { Database } from '../src/db/types.ts';
import type { Logger } from '../src/log.ts';
import type { PolicyResolver } from '../src/policy/resolver.ts';
import type { Budget } from '../src/queue/budget.ts';
import { type QueueDefinition, readerSchema } from '../src/queue/catalog.ts';
import type { BatchHandler, JobOutcome } from '../src/queue/pump.ts';

export interface JobContext {
  db: Kysely<Database>;
  boss: PgBoss;
  config: Config;
  log: Logger;
  keyring: Keyring;
  resolver: PolicyResolver;
  analyzer: Analyzer;
  budget: Budget;
  /** Wraps each Toss client billing builds (the worker's metrics observe its latency); default none. */
  instrumentToss?: ((toss: TossClient) => TossClient) | undefined;
}

/** A handler over the worker's context, built once per worker process (it may keep state between batches). */
export type HandlerFactory = (ctx: JobContext) => BatchHandler;

/** One queue's handler: the catalog definition it works and the factory of its batch handler. */
export interface JobHandler<N extends string = string> {
  readonly queue: QueueDefinition<z.ZodType, N>;
  readonly create: HandlerFactory;
}

/**
 * The one way to write a job handler: `defineHandler(QUEUES.x, (ctx) => async (jobs, signal) => …)`.
 * Every payload is parsed with the queue's schema first, so the handler gets `jobs` whose `data`
 * is the schema's output type. A payload that does not parse will never parse: the job is failed
 * at once, without retries, into the queue's dead-letter queue (the worker records it in
 * admin.error_logs under the queue's service); the handler never sees it.
 */
export function defineHandler<P extends z.ZodType, N extends string>(
  queue: QueueDefinition<P, N>,
  factory: (ctx: JobContext) => (jobs: Job<z.output<P>>[], signal: AbortSignal) => Promise<JobOutcome[]>,
): JobHandler<N> {
  return {
    queue,
    create: (ctx) => {
      const handle = factory(ctx);
      return async (jobs, signal) => {
        const valid: Job<z.output<P>>[] = [];
        const invalid: JobOutcome[] = [];
        for (const job of jobs) {
          const parsed = readerSchema(queue).safeParse(job.data);
          if (parsed.success) valid.push({ ...job, data: parsed.data });
          else invalid.push({ id: job.id, status: 'dead', error: invalidPayload(parsed.error) });
        }
        return valid.length > 0 ? [...invalid, ...(await handle(valid, signal))] : invalid;
      };
    },
  };
}

function invalidPayload(error: z.ZodError): Error {
  const problems = error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  const invalid = new Error(`invalid payload: ${problems}`);
  invalid.name = 'InvalidPayload';
  return invalid;
}
