import { type Kysely, sql } from 'kysely';

// The service core: users, their encrypted diaries, the LLM analyses of those diaries, period
// reports, and the two admin logs that hang off users and diaries (account state changes,
// content moderation).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table public.users (
      id uuid primary key default gen_random_uuid(),
      email text null,
      password_hash text null,
      nickname text not null,
      profile_image text null,
      state text not null default 'active' constraint users_state_check check (state in ('active', 'inactive', 'resigned', 'banned')),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create unique index users_email_lower_key on public.users (lower(email)) where email is not null;
    create index users_created_at_idx on public.users (created_at);
    create trigger set_updated_at before update on public.users
      for each row execute function public.set_updated_at();
    comment on table public.users is 'Service accounts; the root that every user-owned row hangs off';
    comment on column public.users.email is 'Null for social accounts; unique case-insensitively';
    comment on column public.users.password_hash is 'Null for social accounts';

    -- content_enc header (src/crypto/index.ts): [0] format version 0x01, [1] n = key id length (1-32),
    -- [2, 2+n) key id (ASCII), then a 12-byte IV, a 16-byte GCM tag and the ciphertext.
    create table public.diary_entries (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint diary_entries_user_id_fkey references public.users (id) on delete cascade,
      title text null,
      content_enc bytea not null constraint diary_entries_content_enc_check check (
        case when octet_length(content_enc) < 2 then false
        else get_byte(content_enc, 0) = 1
          and get_byte(content_enc, 1) between 1 and 32
          and octet_length(content_enc) >= 2 + get_byte(content_enc, 1) + 12 + 16
        end),
      content_key_id text not null generated always as (
        case when octet_length(content_enc) >= 2
          then encode(substring(content_enc from 3 for get_byte(content_enc, 1)), 'escape')
        end) stored,
      moderation_state text not null default 'visible' constraint diary_entries_moderation_state_check check (moderation_state in ('visible', 'blocked', 'deleted')),
      flagged_at timestamptz null,
      flag_reason text null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint diary_entries_id_user_id_key unique (id, user_id),
      constraint diary_entries_flag_reason_check check (flag_reason is null or flagged_at is not null)
    );
    create index diary_entries_user_id_created_at_idx on public.diary_entries (user_id, created_at desc);
    create index diary_entries_created_at_idx on public.diary_entries (created_at);
    create index diary_entries_content_key_id_idx on public.diary_entries (content_key_id);
    create index diary_entries_flagged_at_idx on public.diary_entries (flagged_at) where flagged_at is not null;
    create trigger set_updated_at before update on public.diary_entries
      for each row execute function public.set_updated_at();
    comment on table public.diary_entries is 'Diary entries; the text is AES-256-GCM ciphertext sealed in the application';
    comment on column public.diary_entries.content_enc is 'Authenticated ciphertext with a header naming its key (layout in src/crypto/index.ts)';
    comment on column public.diary_entries.content_key_id is 'Id of the key that sealed content_enc, read from its header (for key rotation)';
    comment on column public.diary_entries.flagged_at is 'Set while the entry waits in the moderation queue for an operator';

    create table public.analysis_results (
      id uuid primary key default gen_random_uuid(),
      diary_id uuid not null,
      user_id uuid not null,
      summary text not null,
      emotion_flow jsonb not null constraint analysis_results_emotion_flow_check check (jsonb_typeof(emotion_flow) = 'array'),
      reflection_question text not null,
      interpretation text not null,
      keywords text[] not null default '{}',
      metadata jsonb not null default '{}' constraint analysis_results_metadata_check check (jsonb_typeof(metadata) = 'object'),
      prompt_name text not null,
      prompt_version text not null,
      created_at timestamptz not null default now(),
      -- (diary_id, user_id) together: an analysis belongs to the author of its diary. This also
      -- enforces user_id -> users (diary_entries.user_id references users) and cascades with the
      -- diary, and so with the user; a separate user_id foreign key would be redundant.
      constraint analysis_results_diary_fkey foreign key (diary_id, user_id)
        references public.diary_entries (id, user_id) on delete cascade,
      constraint analysis_results_diary_prompt_key unique (diary_id, prompt_name, prompt_version)
    );
    create index analysis_results_user_id_created_at_idx on public.analysis_results (user_id, created_at desc);
    create index analysis_results_created_at_idx on public.analysis_results (created_at);
    comment on table public.analysis_results is 'LLM analyses of diary entries (summary, emotion flow, question, interpretation, private metadata)';
    comment on column public.analysis_results.metadata is 'Private (scores, ethics tags, model, tokens): never printed by default, never returned to end users';
    comment on column public.analysis_results.keywords is 'The 3-5 words reports rank as representative keywords';

    create table public.reports (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint reports_user_id_fkey references public.users (id) on delete cascade,
      period_type text not null constraint reports_period_type_check check (period_type in ('daily', 'weekly', 'monthly', 'yearly')),
      period_start date not null,
      period_end date not null,
      summary jsonb not null constraint reports_summary_check check (jsonb_typeof(summary) = 'object'),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      constraint reports_period_check check (period_start < period_end),
      -- Asia/Seoul calendar periods: a day; an ISO week from Monday; a month; a year.
      constraint reports_period_shape_check check (case period_type
        when 'daily' then period_end = period_start + 1
        when 'weekly' then extract(isodow from period_start) = 1 and period_end = period_start + 7
        when 'monthly' then extract(day from period_start) = 1 and period_end = (period_start + interval '1 month')::date
        when 'yearly' then extract(doy from period_start) = 1 and period_end = (period_start + interval '1 year')::date
      end),
      constraint reports_user_period_key unique (user_id, period_type, period_start)
    );
    create trigger set_updated_at before update on public.reports
      for each row execute function public.set_updated_at();
    comment on table public.reports is 'Per-user period reports (daily, weekly, monthly, yearly) aggregated from analyses';
    comment on column public.reports.period_start is 'Inclusive, Asia/Seoul calendar day';
    comment on column public.reports.period_end is 'Exclusive, Asia/Seoul calendar day';

    create table admin.user_status_logs (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint user_status_logs_user_id_fkey references public.users (id) on delete cascade,
      old_state text null constraint user_status_logs_old_state_check check (old_state in ('active', 'inactive', 'resigned', 'banned')),
      new_state text not null constraint user_status_logs_new_state_check check (new_state in ('active', 'inactive', 'resigned', 'banned')),
      changed_by uuid null constraint user_status_logs_changed_by_fkey references admin.admins (id) on delete restrict,
      reason text null,
      changed_at timestamptz not null default now(),
      constraint user_status_logs_change_check check (old_state is distinct from new_state)
    );
    create index user_status_logs_user_id_changed_at_idx on admin.user_status_logs (user_id, changed_at desc);
    create index user_status_logs_changed_by_idx on admin.user_status_logs (changed_by, changed_at) where changed_by is not null;
    comment on table admin.user_status_logs is 'History of account state changes (old_state null = account creation; changed_by null = system)';

    create table admin.content_moderation_logs (
      id uuid primary key default gen_random_uuid(),
      diary_id uuid not null constraint content_moderation_logs_diary_id_fkey references public.diary_entries (id) on delete cascade,
      action text not null constraint content_moderation_logs_action_check check (action in ('flag', 'unflag', 'block', 'delete', 'restore')),
      reason text not null,
      admin_id uuid null constraint content_moderation_logs_admin_id_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now()
    );
    create index content_moderation_logs_diary_id_created_at_idx on admin.content_moderation_logs (diary_id, created_at);
    create index content_moderation_logs_admin_id_idx on admin.content_moderation_logs (admin_id, created_at) where admin_id is not null;
    comment on table admin.content_moderation_logs is 'Every moderation action on a diary entry (admin_id null = automated), written with the state change';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table admin.content_moderation_logs;
    drop table admin.user_status_logs;
    drop table public.reports;
    drop table public.analysis_results;
    drop table public.diary_entries;
    drop table public.users;
  `.execute(db);
}
