import { type Kysely, sql } from 'kysely';

// `analysis stats` counted terminal failures, and what the failed calls cost, from admin.error_logs;
// once logs are trimmed a window older than their retention would have shown no failures and no
// spend. The failure record keeps what its last failed call used: the model, tokens and cost.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table sumda.analysis_failures
      add column model_version text null,
      add column input_tokens bigint not null default 0
        constraint analysis_failures_input_tokens_check check (input_tokens >= 0),
      add column output_tokens bigint not null default 0
        constraint analysis_failures_output_tokens_check check (output_tokens >= 0),
      add column cost_usd numeric null constraint analysis_failures_cost_usd_check check (cost_usd >= 0);
    comment on column sumda.analysis_failures.model_version is 'The model of the failed call; null when none answered (dead-lettered)';
    comment on column sumda.analysis_failures.cost_usd is 'What the failed call cost by the price table; null when its model has no price';

    -- What the error logs still say about the recorded failures (the latest log row of each).
    update sumda.analysis_failures f
       set model_version = e.context->>'model_version',
           input_tokens = greatest(coalesce((e.context->'tokens'->>'input')::bigint, 0), 0),
           output_tokens = greatest(coalesce((e.context->'tokens'->>'output')::bigint, 0), 0),
           cost_usd = greatest((e.context->>'cost_usd')::numeric, 0)
      from (
        select distinct on (ref_id, context->>'prompt_name', context->>'prompt_version')
               ref_id, context
        from admin.error_logs
        where service = 'analysis' and context->>'terminal' = 'true'
        order by ref_id, context->>'prompt_name', context->>'prompt_version', created_at desc
      ) e
     where e.ref_id = f.diary_id and e.context->>'prompt_name' = f.prompt_name
       and e.context->>'prompt_version' = f.prompt_version;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table sumda.analysis_failures
      drop column model_version, drop column input_tokens, drop column output_tokens, drop column cost_usd;
  `.execute(db);
}
