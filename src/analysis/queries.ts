/** Reading analyses for operators: results of one entry, and statistics by prompt version. */
import { type Kysely, sql } from 'kysely';
import type { Database } from '../db/types.ts';
import { NotFoundError } from '../errors.ts';

export async function analysesOf(db: Kysely<Database>, diaryId: string, options: { internal: boolean }) {
  const entry = await db
    .selectFrom('diary_entries')
    .select([
      'id',
      'user_id',
      'created_at',
      'moderation_state',
      'content_key_id',
      'flagged_at',
      'flag_reason',
    ])
    .where('id', '=', diaryId)
    .executeTakeFirst();
  if (!entry) throw new NotFoundError(`no diary entry ${diaryId}`);
  const results = await db
    .selectFrom('analysis_results')
    .select([
      'id',
      'prompt_name',
      'prompt_version',
      'summary',
      'emotion_flow',
      'reflection_question',
      'interpretation',
      'keywords',
      'created_at',
      ...(options.internal ? (['metadata'] as const) : []),
    ])
    .where('diary_id', '=', diaryId)
    .orderBy('created_at')
    .execute();
  const failures = await db
    .selectFrom('admin.error_logs')
    .select(['created_at', 'severity', 'message', 'context'])
    .where('service', '=', 'analysis')
    .where('ref_id', '=', diaryId)
    .orderBy('created_at')
    .execute();
  return {
    entry,
    results,
    failures: failures.map((f) => ({
      at: f.created_at,
      severity: f.severity,
      message: f.message,
      ...(options.internal ? { context: f.context } : {}),
    })),
  };
}

export interface AnalysisStatsRow {
  prompt_name: string;
  prompt_version: string;
  model_version: string | null;
  analyses: number;
  failures: number;
  repaired: number;
  crisis: number;
  avg_latency_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  avg_tier_a: number | null;
}

export async function analysisStats(db: Kysely<Database>, since: Date): Promise<AnalysisStatsRow[]> {
  const rows = await sql<AnalysisStatsRow>`
    with ok as (
      select prompt_name, prompt_version, metadata->>'model_version' as model_version,
             count(*)::int as analyses,
             count(*) filter (where (metadata->>'repair_attempted')::boolean)::int as repaired,
             count(*) filter (where (metadata->>'output_replaced')::boolean)::int as crisis,
             round(avg((metadata->>'latency_ms')::numeric), 1)::float8 as avg_latency_ms,
             coalesce(sum((metadata->'tokens'->>'input')::bigint), 0)::bigint as input_tokens,
             coalesce(sum((metadata->'tokens'->>'output')::bigint), 0)::bigint as output_tokens,
             coalesce(sum((metadata->>'cost_usd')::numeric), 0)::float8 as cost_usd,
             round(avg((metadata->>'tier_a')::numeric), 2)::float8 as avg_tier_a
      from public.analysis_results
      where created_at >= ${since}
      group by 1, 2, 3
    ), failed as (
      select prompt_name, prompt_version, model_version, count(*)::int as failures,
             coalesce(sum(input_tokens), 0)::bigint as input_tokens,
             coalesce(sum(output_tokens), 0)::bigint as output_tokens,
             coalesce(sum(cost_usd), 0)::float8 as cost_usd
      from sumda.analysis_failures
      where failed_at >= ${since}
      group by 1, 2, 3
    )
    select coalesce(ok.prompt_name, failed.prompt_name) as prompt_name,
           coalesce(ok.prompt_version, failed.prompt_version) as prompt_version,
           coalesce(ok.model_version, failed.model_version) as model_version,
           coalesce(ok.analyses, 0) as analyses, coalesce(failed.failures, 0) as failures,
           coalesce(ok.repaired, 0) as repaired, coalesce(ok.crisis, 0) as crisis, ok.avg_latency_ms,
           coalesce(ok.input_tokens, 0) + coalesce(failed.input_tokens, 0) as input_tokens,
           coalesce(ok.output_tokens, 0) + coalesce(failed.output_tokens, 0) as output_tokens,
           coalesce(ok.cost_usd, 0) + coalesce(failed.cost_usd, 0) as cost_usd,
           ok.avg_tier_a
    from ok full join failed
      on ok.prompt_name = failed.prompt_name and ok.prompt_version = failed.prompt_version
     and ok.model_version is not distinct from failed.model_version
    order by 1, 2, 3`.execute(db);
  return rows.rows;
}

/** Failures by outcome (refused, truncated, invalid_output, dead_lettered, …) since a time. */
export async function failureOutcomes(db: Kysely<Database>, since: Date) {
  const rows = await sql<{ outcome: string; n: number }>`
    select outcome, count(*)::int as n
    from sumda.analysis_failures
    where failed_at >= ${since}
    group by 1 order by 2 desc, 1`.execute(db);
  return rows.rows;
}
