/**
 * Catalog key → handler: every queue of the catalog has exactly one, checked by the compiler (a
 * queue added to `QUEUES` without a handler here, or a handler under another queue's key, does not
 * compile), so no queue is silently never worked.
 */
import type { QueueKey, QueueName } from '../src/queue/catalog.ts';
import { analysisRun } from './analysis-run.ts';
import { analysisScan } from './analysis-scan.ts';
import { billingReconcile, billingRenew, billingScan } from './billing.ts';
import type { JobHandler } from './context.ts';
import { eventsAttendance } from './events-attendance.ts';
import { housekeeping } from './housekeeping.ts';
import { keysReencrypt } from './keys-reencrypt.ts';
import { logsRetention } from './logs-retention.ts';
import { pointsExpire } from './points-expire.ts';
import { reportBackfill } from './report-backfill.ts';
import { reportScheduled } from './report-scheduled.ts';
import { reportStale } from './report-stale.ts';
import { slipCheck } from './slip-check.ts';
import { slipRelease } from './slip-release.ts';

export const HANDLERS = {
  analysisScan,
  analysisRun,
  slipCheck,
  slipRelease,
  housekeeping,
  keysReencrypt,
  pointsExpire,
  eventsAttendance,
  logsRetention,
  billingScan,
  billingRenew,
  billingReconcile,
  reportBackfill,
  reportScheduled,
  reportStale,
} satisfies { readonly [K in QueueKey]: JobHandler<QueueName<K>> };

const BY_NAME: ReadonlyMap<string, JobHandler> = new Map(
  Object.values(HANDLERS).map((h): [string, JobHandler] => [h.queue.name, h]),
);

/** The handler of a catalog queue, by its name. */
export function handlerOf(name: string): JobHandler | undefined {
  return BY_NAME.get(name);
}
