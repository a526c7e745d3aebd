/**
 * sumda.analysis_failures: entries whose analysis under a prompt failed for good — a model outcome
 * that a repair could not fix, or a job dead-lettered past its retries. The every-minute scan passes
 * over them (each retry is a paid model call); `analysis enqueue` re-runs them on purpose. What the
 * scan decides by lives here, not in admin.error_logs, which stays a log (and may be trimmed).
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';

export interface AnalysisFailure {
  diaryId: string;
  promptName: string;
  promptVersion: string;
  /** The model outcome (refused, invalid_output, …) or `dead_lettered`. */
  outcome: string;
  jobId: string | null;
}

/** Records failures (the latest outcome wins); run it in the transaction that records the error. */
export async function recordAnalysisFailures(
  db: Kysely<Database>,
  failures: AnalysisFailure[],
): Promise<void> {
  if (failures.length === 0) return;
  await sql`
    insert into sumda.analysis_failures (diary_id, prompt_name, prompt_version, outcome, job_id)
    select * from unnest(${failures.map((f) => f.diaryId)}::uuid[], ${failures.map((f) => f.promptName)}::text[],
                         ${failures.map((f) => f.promptVersion)}::text[], ${failures.map((f) => f.outcome)}::text[],
                         ${failures.map((f) => f.jobId)}::uuid[])
    on conflict (diary_id, prompt_name, prompt_version)
    do update set outcome = excluded.outcome, job_id = excluded.job_id, failed_at = now()`.execute(db);
}

/** For a scan over `diary_entries as d`: the entry has not failed for good under this prompt. */
export function notFailedUnder(prompt: { promptName: string; promptVersion: string }) {
  return sql<boolean>`not exists (
    select 1 from sumda.analysis_failures f
    where f.diary_id = d.id and f.prompt_name = ${prompt.promptName} and f.prompt_version = ${prompt.promptVersion})`;
}
