/** Billing's dependencies from configuration: what the worker's jobs and the CLI's commands both build. */
import type { Kysely } from 'kysely';
import type { Config } from '../config/index.ts';
import type { Keyring } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { SumdaError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Gate } from '../util/gate.ts';
import type { BillingDeps } from './renewal.ts';
import { createTossClient } from './toss.ts';

export function createBillingDeps(parts: {
  db: Kysely<Database>;
  keyring: Keyring;
  config: Config;
  log?: Logger | undefined;
  signal?: AbortSignal | undefined;
  /** Shared by every batch of one worker process: bounds its Toss calls in flight. */
  gate?: Gate | undefined;
}): BillingDeps {
  const { billing } = parts.config;
  if (!billing.tossSecretKey) {
    throw new SumdaError('TOSS_SECRET_KEY is not set: billing cannot talk to Toss', {
      hint: 'set TOSS_SECRET_KEY (test_sk_… or live_sk_…) and TOSS_API_URL',
    });
  }
  return {
    db: parts.db,
    keyring: parts.keyring,
    config: billing,
    log: parts.log,
    signal: parts.signal,
    toss: createTossClient({
      secretKey: billing.tossSecretKey,
      baseUrl: billing.tossApiUrl,
      timeoutMs: billing.tossTimeoutMs,
      gate: parts.gate,
    }),
  };
}
