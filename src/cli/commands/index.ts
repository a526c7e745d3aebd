/** Every sumda command, registered in one visible place, in the order `sumda --help` lists them. */
import type { Command } from 'commander';
import { registerAdmin } from './admin.ts';
import { registerAnalysis } from './analysis.ts';
import { registerAnnounce } from './announce.ts';
import { registerApi } from './api.ts';
import { registerAudit } from './audit.ts';
import { registerBillingCommands } from './billing.ts';
import { registerConfig } from './config.ts';
import { registerDb } from './db.ts';
import { registerDemo } from './demo.ts';
import { registerErrors } from './errors.ts';
import { registerEvent } from './event.ts';
import { registerFaq } from './faq.ts';
import { registerJobs } from './jobs.ts';
import { registerKeys } from './keys.ts';
import { registerLogs } from './logs.ts';
import { registerModeration } from './moderation.ts';
import { registerNotify } from './notify.ts';
import { registerOverride } from './override.ts';
import { registerPoints } from './points.ts';
import { registerPolicy } from './policy.ts';
import { registerPrompt } from './prompt.ts';
import { registerQueues } from './queues.ts';
import { registerReport } from './report.ts';
import { registerSchedules } from './schedules.ts';
import { registerSecurity } from './security.ts';
import { registerSeed } from './seed.ts';
import { registerSlip } from './slip.ts';
import { registerSupport } from './support.ts';
import { registerUser } from './user.ts';
import { registerWorker } from './worker.ts';

export const COMMANDS: ((program: Command) => void)[] = [
  // getting started and the schema
  registerDemo,
  registerDb,
  registerConfig,
  registerSeed,
  // the job runner
  registerWorker,
  registerJobs,
  registerQueues,
  registerSchedules,
  // the service: analyses, safety, moderation, accounts
  registerAnalysis,
  registerSlip,
  registerModeration,
  registerUser,
  // billing: plans, subscriptions, renewals through Toss
  registerBillingCommands,
  registerReport,
  // service operations: points, events, support, announcements, logs
  registerPoints,
  registerEvent,
  registerSupport,
  registerFaq,
  registerAnnounce,
  registerNotify,
  registerLogs,
  registerSecurity,
  registerErrors,
  registerApi,
  // AI policies and prompts
  registerPolicy,
  registerOverride,
  registerPrompt,
  // operators, the audit trail, keys
  registerAdmin,
  registerAudit,
  registerKeys,
];
