/** Queue name → handler: every queue of the catalog that a worker can run. */
import { QUEUES } from '../src/queue/catalog.ts';
import { analysisRun } from './analysis-run.ts';
import { analysisScan } from './analysis-scan.ts';
import { billingReconcile, billingRenew, billingScan } from './billing.ts';
import type { HandlerFactory } from './context.ts';
import { eventsAttendance } from './events-attendance.ts';
import { housekeeping } from './housekeeping.ts';
import { keysReencrypt } from './keys-reencrypt.ts';
import { pointsExpire } from './points-expire.ts';
import { slipCheck } from './slip-check.ts';
import { slipRelease } from './slip-release.ts';

export const HANDLERS: Record<string, HandlerFactory> = {
  [QUEUES.analysisScan.name]: analysisScan,
  [QUEUES.analysisRun.name]: analysisRun,
  [QUEUES.slipCheck.name]: slipCheck,
  [QUEUES.slipRelease.name]: slipRelease,
  [QUEUES.housekeeping.name]: housekeeping,
  [QUEUES.keysReencrypt.name]: keysReencrypt,
  [QUEUES.pointsExpire.name]: pointsExpire,
  [QUEUES.eventsAttendance.name]: eventsAttendance,
  [QUEUES.billingScan.name]: billingScan,
  [QUEUES.billingRenew.name]: billingRenew,
  [QUEUES.billingReconcile.name]: billingReconcile,
};
