/**
 * Transaction-scoped advisory locks named by text: held until the transaction ends, so work on one
 * subject (a user's slip state, a policy pointer) serialises across every process, including the
 * first write, when there is no row yet to lock.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './types.ts';

export const lockNames = {
  userSlip: (userId: string) => `slip:${userId}`,
  policyPointer: (policy: string, scope: string) => `policy-pointer:${policy}|${scope}`,
};

export async function lockFor(trx: Kysely<Database>, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`.execute(trx);
}
