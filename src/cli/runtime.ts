/**
 * The one door from the command line into the job runtime (`jobs/`): `sumda worker` runs through
 * it, and so does the demo's single drain. Loaded lazily, so no other command pays for pg-boss and
 * the handlers. Commands never import `jobs/` themselves.
 */
import type { WorkerOptions, WorkerResult } from '../../jobs/runtime.ts';

export type { WorkerOptions, WorkerResult };

export async function runJobRuntime(options: WorkerOptions): Promise<WorkerResult> {
  const { runWorker } = await import('../../jobs/runtime.ts');
  return runWorker(options);
}
