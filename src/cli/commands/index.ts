/** Every sumda command, registered in one visible place, in the order `sumda --help` lists them. */
import type { Command } from 'commander';
import { registerAdmin } from './admin.ts';
import { registerAnalysis } from './analysis.ts';
import { registerAudit } from './audit.ts';
import { registerDb } from './db.ts';
import { registerDemo } from './demo.ts';
import { registerJobs } from './jobs.ts';
import { registerKeys } from './keys.ts';
import { registerOverride } from './override.ts';
import { registerPolicy } from './policy.ts';
import { registerPrompt } from './prompt.ts';
import { registerQueues } from './queues.ts';
import { registerSchedules } from './schedules.ts';
import { registerSeed } from './seed.ts';
import { registerSlip } from './slip.ts';
import { registerWorker } from './worker.ts';

export const COMMANDS: ((program: Command) => void)[] = [
  registerDemo,
  registerDb,
  registerAdmin,
  registerPolicy,
  registerOverride,
  registerPrompt,
  registerAudit,
  registerSeed,
  registerWorker,
  registerKeys,
  registerJobs,
  registerQueues,
  registerSchedules,
  registerAnalysis,
  registerSlip,
];
