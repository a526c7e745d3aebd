/**
 * sumda.analysis_failures: entries whose analysis under a prompt failed for good — a model outcome
 * that a repair could not fix, or a job dead-lettered past its retries. The every-minute scan passes
 * over them (each retry is a paid model call); `analysis enqueue` re-runs them on purpose. What the
 * scan decides by, and what `analysis stats` counts (the outcome and what the last failed call used),
 * lives here, not in admin.error_logs, which stays a log (and may be trimmed).
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
  /** What the failed call used (`analysis stats`); absent when no model answered (dead-lettered). */
  spend?: { modelVersion: string; inputTokens: number; outputTokens: number; costUsd: number | null };
}

/** Records failures (the latest outcome wins); run it in the transaction that records the error. */
export async function recordAnalysisFailures(
  db: Kysely<Database>,
  failures: AnalysisFailure[],
): Promise<void> {
  if (failures.length === 0) return;
  await sql`
    insert into sumda.analysis_failures
      (diary_id, prompt_name, prompt_version, outcome, job_id, model_version, input_tokens, output_tokens, cost_usd)
    select * from unnest(${failures.map((f) => f.diaryId)}::uuid[], ${failures.map((f) => f.promptName)}::text[],
                         ${failures.map((f) => f.promptVersion)}::text[], ${failures.map((f) => f.outcome)}::text[],
                         ${failures.map((f) => f.jobId)}::uuid[], ${failures.map((f) => f.spend?.modelVersion ?? null)}::text[],
                         ${failures.map((f) => f.spend?.inputTokens ?? 0)}::bigint[],
                         ${failures.map((f) => f.spend?.outputTokens ?? 0)}::bigint[],
                         ${failures.map((f) => f.spend?.costUsd ?? null)}::numeric[])
    on conflict (diary_id, prompt_name, prompt_version)
    do update set outcome = excluded.outcome, job_id = excluded.job_id, model_version = excluded.model_version,
                  input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens,
                  cost_usd = excluded.cost_usd, failed_at = now()`.execute(db);
}

/** For a scan over `diary_entries as d`: the entry has not failed for good under this prompt. */
export function notFailedUnder(prompt: { promptName: string; promptVersion: string }) {
  return sql<boolean>`not exists (
    select 1 from sumda.analysis_failures f
    where f.diary_id = d.id and f.prompt_name = ${prompt.promptName} and f.prompt_version = ${prompt.promptVersion})`;
}
