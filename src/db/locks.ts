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

/**
 * The instant of a change made under a lock, and of what a user is told about it. Not now(): that is
 * the transaction's start, which can precede the commit of a row another transaction wrote while
 * this one waited for the lock — a release dated before its start, notes out of order.
 */
export const lockedNow = sql<Date>`clock_timestamp()`;

export async function lockFor(trx: Kysely<Database>, name: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${name}, 0))`.execute(trx);
}
