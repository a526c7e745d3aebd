/**
 * Every sumda command module, in one visible place, in the order `sumda --help` lists them. Modules
 * load lazily: `sumda policy list` loads policy.ts only, and `sumda --help` lists every command from
 * the manifest (manifest.ts, generated and checked by test/cli/manifest.test.ts) without loading any.
 * A new module: add it here, then `UPDATE_CLI_MANIFEST=1 npm run test:only -- test/cli/manifest.test.ts`.
 */
import type { Command } from 'commander';

export interface CommandModule {
  /** The file under src/cli/commands/, the manifest's key. */
  file: string;
  load(): Promise<(program: Command) => void>;
}

export const COMMANDS: CommandModule[] = [
  // getting started and the schema
  { file: 'demo.ts', load: async () => (await import('./demo.ts')).registerDemo },
  { file: 'db.ts', load: async () => (await import('./db.ts')).registerDb },
  { file: 'config.ts', load: async () => (await import('./config.ts')).registerConfig },
  { file: 'seed.ts', load: async () => (await import('./seed.ts')).registerSeed },
  // the job runner
  { file: 'worker.ts', load: async () => (await import('./worker.ts')).registerWorker },
  { file: 'jobs.ts', load: async () => (await import('./jobs.ts')).registerJobs },
  { file: 'queues.ts', load: async () => (await import('./queues.ts')).registerQueues },
  { file: 'schedules.ts', load: async () => (await import('./schedules.ts')).registerSchedules },
  { file: 'top.ts', load: async () => (await import('./top.ts')).registerTop },
  // the service: analyses, safety, moderation, accounts
  { file: 'analysis.ts', load: async () => (await import('./analysis.ts')).registerAnalysis },
  { file: 'slip.ts', load: async () => (await import('./slip.ts')).registerSlip },
  { file: 'moderation.ts', load: async () => (await import('./moderation.ts')).registerModeration },
  { file: 'user.ts', load: async () => (await import('./user.ts')).registerUser },
  // billing: plans, subscriptions, renewals through Toss
  { file: 'plan.ts', load: async () => (await import('./plan.ts')).registerPlan },
  { file: 'subscription.ts', load: async () => (await import('./subscription.ts')).registerSubscription },
  { file: 'billing.ts', load: async () => (await import('./billing.ts')).registerBilling },
  { file: 'report.ts', load: async () => (await import('./report.ts')).registerReport },
  // service operations: points, events, support, announcements, logs
  { file: 'points.ts', load: async () => (await import('./points.ts')).registerPoints },
  { file: 'event.ts', load: async () => (await import('./event.ts')).registerEvent },
  { file: 'support.ts', load: async () => (await import('./support.ts')).registerSupport },
  { file: 'faq.ts', load: async () => (await import('./faq.ts')).registerFaq },
  { file: 'announce.ts', load: async () => (await import('./announce.ts')).registerAnnounce },
  { file: 'notify.ts', load: async () => (await import('./notify.ts')).registerNotify },
  { file: 'logs.ts', load: async () => (await import('./logs.ts')).registerLogs },
  { file: 'security.ts', load: async () => (await import('./security.ts')).registerSecurity },
  { file: 'errors.ts', load: async () => (await import('./errors.ts')).registerErrors },
  { file: 'api.ts', load: async () => (await import('./api.ts')).registerApi },
  // AI policies and prompts
  { file: 'policy.ts', load: async () => (await import('./policy.ts')).registerPolicy },
  { file: 'override.ts', load: async () => (await import('./override.ts')).registerOverride },
  { file: 'prompt.ts', load: async () => (await import('./prompt.ts')).registerPrompt },
  // operators, the audit trail, keys
  { file: 'admin.ts', load: async () => (await import('./admin.ts')).registerAdmin },
  { file: 'audit.ts', load: async () => (await import('./audit.ts')).registerAudit },
  { file: 'keys.ts', load: async () => (await import('./keys.ts')).registerKeys },
];
