/** What every job handler gets: the long-lived resources of one worker process. */
import type { Kysely } from 'kysely';
import type { Job, PgBoss } from 'pg-boss';
import type { Analyzer } from '../src/analysis/analyzer.ts';
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
}

export type HandlerFactory = (ctx: JobContext) => BatchHandler;

/**
 * Parses every payload with the queue's schema (unknown fields ignored: see readerSchema). A payload that does not parse will never parse:
 * it is completed with a `rejected` output (and recorded by the caller), not retried.
 */
export function parsePayloads<T>(
  definition: QueueDefinition,
  jobs: Job<unknown>[],
): {
  valid: { job: Job<unknown>; data: T }[];
  rejected: JobOutcome[];
  problems: { job: Job<unknown>; message: string }[];
} {
  const valid: { job: Job<unknown>; data: T }[] = [];
  const rejected: JobOutcome[] = [];
  const problems: { job: Job<unknown>; message: string }[] = [];
  for (const job of jobs) {
    const parsed = readerSchema(definition).safeParse(job.data);
    if (parsed.success) valid.push({ job, data: parsed.data as T });
    else {
      const message = parsed.error.issues
        .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        .join('; ');
      rejected.push({
        id: job.id,
        status: 'completed',
        output: { rejected: 'invalid payload', problems: message },
      });
      problems.push({ job, message });
    }
  }
  return { valid, rejected, problems };
}
