import { type Kysely, sql } from 'kysely';

// Slips (the gentle pause for a user whose emotional intensity is too high) and the AI control
// plane: immutable policy versions, the active-policy pointer, overrides and the prompt registry.
// Policy versions and prompts never change once written (UPDATE, DELETE and TRUNCATE are refused);
// publishing is inserting a version, switching and rolling back is moving the pointer.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table admin.slip_conditions (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null constraint slip_conditions_user_id_fkey references public.users (id) on delete cascade,
      analysis_id uuid null constraint slip_conditions_analysis_id_fkey references public.analysis_results (id) on delete set null,
      metrics jsonb not null constraint slip_conditions_metrics_check check (jsonb_typeof(metrics) = 'object'),
      status text not null constraint slip_conditions_status_check check (status in ('normal', 'warning', 'slipped')),
      source text not null default 'auto' constraint slip_conditions_source_check check (source in ('auto', 'operator')),
      duration interval null constraint slip_conditions_duration_check check (duration > interval '0'),
      triggered_at timestamptz not null default now(),
      released_at timestamptz null,
      release_reason text null,
      override_by uuid null constraint slip_conditions_override_by_fkey references admin.admins (id) on delete restrict,
      override_reason text null,
      reviewed_by uuid null constraint slip_conditions_reviewed_by_fkey references admin.admins (id) on delete restrict,
      reviewed_at timestamptz null,
      review_outcome text null constraint slip_conditions_review_outcome_check check (review_outcome in ('confirmed', 'released')),
      constraint slip_conditions_released_at_check check (released_at is null or released_at >= triggered_at),
      constraint slip_conditions_release_reason_check check (release_reason is null or released_at is not null),
      -- An operator's override always carries a reason.
      constraint slip_conditions_override_check check (override_by is null or override_reason is not null),
      -- A review is an operator, a time and an outcome together, or nothing.
      constraint slip_conditions_review_check check (
        (reviewed_by is null) = (reviewed_at is null) and (reviewed_at is null) = (review_outcome is null))
    );
    create unique index slip_conditions_one_open_key on admin.slip_conditions (user_id) where released_at is null;
    -- Open slips due for release (triggered_at + duration <= now()): timestamptz + interval is not
    -- immutable, so the index orders the open rows by triggered_at and carries duration along.
    create index slip_conditions_open_due_idx on admin.slip_conditions (triggered_at) include (duration)
      where released_at is null;
    create index slip_conditions_user_id_triggered_at_idx on admin.slip_conditions (user_id, triggered_at desc);
    create index slip_conditions_triggered_at_idx on admin.slip_conditions (triggered_at);
    create index slip_conditions_analysis_id_idx on admin.slip_conditions (analysis_id) where analysis_id is not null;
    comment on table admin.slip_conditions is 'Warnings and slips (service pauses) per user, with their evidence, release, override and review';
    comment on column admin.slip_conditions.metrics is 'The evidence that triggered it (tier_a, tier_m, rule, ruleset version, ...)';
    comment on column admin.slip_conditions.duration is 'How long the pause lasts; null = until released by an operator';

    create table admin.ai_policy_versions (
      id uuid primary key default gen_random_uuid(),
      policy_name text not null constraint ai_policy_versions_policy_name_check check (policy_name in ('ethics', 'slip', 'tone', 'mode', 'analysis')),
      version text not null constraint ai_policy_versions_version_check check (version ~ '^v[0-9]+[.][0-9]+[.][0-9]+$'),
      scope text not null default 'global' constraint ai_policy_versions_scope_check check (scope = 'global' or scope ~ '^(tenant|user):[A-Za-z0-9_-]{1,64}$'),
      config jsonb not null constraint ai_policy_versions_config_check check (jsonb_typeof(config) = 'object'),
      content_hash text not null,
      notes text null,
      created_by uuid not null constraint ai_policy_versions_created_by_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now(),
      constraint ai_policy_versions_name_scope_version_key unique (policy_name, scope, version),
      constraint ai_policy_versions_id_name_scope_key unique (id, policy_name, scope)
    );
    create trigger ai_policy_versions_immutable before update or delete on admin.ai_policy_versions
      for each row execute function admin.refuse_change('immutable');
    create trigger ai_policy_versions_no_truncate before truncate on admin.ai_policy_versions
      for each statement execute function admin.refuse_change('immutable');
    comment on table admin.ai_policy_versions is 'Published AI policy versions (ethics, slip, tone, mode, analysis); immutable';
    comment on column admin.ai_policy_versions.scope is 'global, tenant:<id> or user:<id>';

    create table admin.ai_policy_active (
      id uuid primary key default gen_random_uuid(),
      policy_name text not null constraint ai_policy_active_policy_name_check check (policy_name in ('ethics', 'slip', 'tone', 'mode', 'analysis')),
      scope text not null default 'global' constraint ai_policy_active_scope_check check (scope = 'global' or scope ~ '^(tenant|user):[A-Za-z0-9_-]{1,64}$'),
      version_id uuid not null,
      previous_version_id uuid null,
      activated_by uuid not null constraint ai_policy_active_activated_by_fkey references admin.admins (id) on delete restrict,
      activated_at timestamptz not null default now(),
      reason text null,
      constraint ai_policy_active_policy_scope_key unique (policy_name, scope),
      -- Both references carry (policy_name, scope): the pointer, and the version a rollback returns
      -- to, can only name a version of this very policy and scope.
      constraint ai_policy_active_version_fkey foreign key (version_id, policy_name, scope)
        references admin.ai_policy_versions (id, policy_name, scope),
      constraint ai_policy_active_previous_version_fkey foreign key (previous_version_id, policy_name, scope)
        references admin.ai_policy_versions (id, policy_name, scope),
      constraint ai_policy_active_previous_check check (previous_version_id <> version_id)
    );
    comment on table admin.ai_policy_active is 'Which version of each policy and scope is live: a pointer moved by publish and rollback';

    create table admin.ai_overrides (
      id uuid primary key default gen_random_uuid(),
      target text not null constraint ai_overrides_target_check check (target = 'global' or target ~ '^(tenant|user):[A-Za-z0-9_-]{1,64}$'),
      key text not null constraint ai_overrides_key_check check (key ~ '^[a-z_]+([.][A-Za-z0-9_]+)*$'),
      value jsonb not null,
      reason text not null,
      rollout_percent smallint null constraint ai_overrides_rollout_percent_check check (rollout_percent between 0 and 100),
      expires_at timestamptz null,
      expired_at timestamptz null,
      created_by uuid not null constraint ai_overrides_created_by_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now()
    );
    create index ai_overrides_target_key_idx on admin.ai_overrides (target, key);
    create index ai_overrides_expires_at_idx on admin.ai_overrides (expires_at);
    comment on table admin.ai_overrides is 'Operator overrides of policy keys for a scope, optionally as a sticky percentage rollout, until they expire';
    comment on column admin.ai_overrides.rollout_percent is 'Applies to users whose hash bucket (0-99) is below it; null = everyone in target';
    comment on column admin.ai_overrides.expired_at is 'Set when an operator or housekeeping ends it before expires_at';

    create table admin.prompt_registry (
      id uuid primary key default gen_random_uuid(),
      name text not null constraint prompt_registry_name_check check (name ~ '^[a-z0-9_.-]+$'),
      model text not null,
      version text not null,
      template text not null,
      metadata jsonb not null default '{}' constraint prompt_registry_metadata_check check (jsonb_typeof(metadata) = 'object'),
      content_hash text not null,
      created_by uuid not null constraint prompt_registry_created_by_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now(),
      constraint prompt_registry_name_version_key unique (name, version)
    );
    create trigger prompt_registry_immutable before update or delete on admin.prompt_registry
      for each row execute function admin.refuse_change('immutable');
    create trigger prompt_registry_no_truncate before truncate on admin.prompt_registry
      for each statement execute function admin.refuse_change('immutable');
    comment on table admin.prompt_registry is 'Prompt templates by name and version with their model; immutable, chosen by the active analysis policy';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table admin.prompt_registry;
    drop table admin.ai_overrides;
    drop table admin.ai_policy_active;
    drop table admin.ai_policy_versions;
    drop table admin.slip_conditions;
  `.execute(db);
}
