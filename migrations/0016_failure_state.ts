import { type Kysely, sql } from 'kysely';

// What the scans decide by, in tables of their own: until now the analysis scan skipped entries
// whose analysis had failed for good, and a key rotation the entries it could not open, by reading
// admin.error_logs rows. Logs get a retention job; a deleted log row would then have re-enqueued a
// paid model call every minute. Error logs stay logs (still written, for operators).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table sumda.analysis_failures (
      diary_id uuid not null constraint analysis_failures_diary_id_fkey references public.diary_entries (id) on delete cascade,
      prompt_name text not null,
      prompt_version text not null,
      outcome text not null,
      job_id uuid null,
      failed_at timestamptz not null default now(),
      primary key (diary_id, prompt_name, prompt_version)
    );
    comment on table sumda.analysis_failures is 'Analyses that failed for good (model outcome, or dead-lettered) under a prompt: the analysis scan does not re-enqueue them; operators re-run them with analysis enqueue';

    create table sumda.rotation_skips (
      rotation_id bigint not null,
      diary_id uuid not null constraint rotation_skips_diary_id_fkey references public.diary_entries (id) on delete cascade,
      key_id text not null,
      skipped_at timestamptz not null default now(),
      primary key (rotation_id, diary_id)
    );
    comment on table sumda.rotation_skips is 'Entries a key rotation (its audit row id; 0 = before any rotation) could not open: its batches pass over them';

    grant select, insert, update on sumda.analysis_failures to sumda_worker;
    grant select on sumda.analysis_failures to sumda_operator;
    grant select, insert on sumda.rotation_skips to sumda_worker;
    grant select on sumda.rotation_skips to sumda_operator;
    grant insert on sumda.rotation_skips to sumda_admin;
  `.execute(db);
  // What the error logs said so far, so an upgrade does not retry what had already failed for good.
  await sql`
    insert into sumda.analysis_failures (diary_id, prompt_name, prompt_version, outcome, job_id, failed_at)
    select distinct on (e.ref_id, e.context->>'prompt_name', e.context->>'prompt_version')
           e.ref_id, e.context->>'prompt_name', e.context->>'prompt_version',
           coalesce(e.context->>'outcome', 'failed'),
           case when e.context->>'job_id' ~* '^[0-9a-f-]{36}$' then (e.context->>'job_id')::uuid end,
           e.created_at
    from admin.error_logs e join public.diary_entries d on d.id = e.ref_id
    where e.service = 'analysis' and e.context->>'terminal' = 'true'
      and e.context->>'prompt_name' is not null and e.context->>'prompt_version' is not null
    order by e.ref_id, e.context->>'prompt_name', e.context->>'prompt_version', e.created_at desc;

    insert into sumda.rotation_skips (rotation_id, diary_id, key_id, skipped_at)
    select distinct on ((e.context->>'rotation')::bigint, e.ref_id)
           (e.context->>'rotation')::bigint, e.ref_id, coalesce(e.context->>'key_id', ''), e.created_at
    from admin.error_logs e join public.diary_entries d on d.id = e.ref_id
    where e.service = 'diary' and e.context->>'rotation' ~ '^[0-9]+$'
    order by (e.context->>'rotation')::bigint, e.ref_id, e.created_at;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table sumda.rotation_skips; drop table sumda.analysis_failures;`.execute(db);
}
