import { type Kysely, sql } from 'kysely';

// sumda:earlier-checksum 083f53bcb78e6dd045233f485ecaeddf51906113dec9c898ae2f82b65911d3cf down() rewritten: `drop owned by` revoked the roles' CONNECT on every database of the cluster; up() unchanged

// Database roles as the trust boundary (README "Trust model"). Group roles (NOLOGIN), shared by
// every database of the cluster; logins are created by whoever runs the database and made members:
//   sumda_owner     owns every sumda object; `sumda db migrate` runs each migration as it (SET ROLE).
//                   The only role that can ALTER a table or disable its triggers.
//   sumda_worker    the worker daemons: exactly the DML their queues need (and pg-boss's tables).
//   sumda_operator  < sumda_manager < sumda_admin: the CLI's operators, each role a member of the one
//                   below it, granted what src/admins/permissions.ts allows that role.
// No runtime role owns anything or holds TRUNCATE, TRIGGER or REFERENCES, so none can disable a
// trigger, alter a table or bypass an append-only log, whatever SQL it sends.
//
// Every table has a grant decision: GRANTS below for the tables of 0001–0013; a later migration that
// creates a table writes its own `grant … to sumda_…` lines (test/db/roles.test.ts checks every table
// of every schema). pg-boss's tables are granted by `ensureQueueSchema` (src/queue/boss.ts), which
// installs them after the migrations.

const RUNTIME = ['sumda_worker', 'sumda_operator', 'sumda_manager', 'sumda_admin'] as const;
type Runtime = 'worker' | 'operator' | 'manager' | 'admin';

/**
 * What each runtime role may do to each table. A role inherits everything of the roles below it
 * (operator < manager < admin), so only what a role adds is listed. Column lists keep secrets
 * (admins.password_hash, analysis_results.metadata) and diary ciphertext out of reach of the roles
 * whose permissions do not include them.
 */
const GRANTS: Record<string, Partial<Record<Runtime, string>>> = {
  'admin.admins': {
    worker: 'select (id, email, role, display_name, disabled_at)',
    operator: 'select (id, email, role, display_name, disabled_at, created_by, created_at, updated_at)',
    admin: 'select, insert, update',
  },
  'admin.audit_log': { worker: 'select, insert', operator: 'select, insert' },
  'admin.ai_policy_versions': { worker: 'select', operator: 'select', admin: 'insert' },
  'admin.ai_policy_active': { worker: 'select', operator: 'select', admin: 'insert, update' },
  'admin.ai_overrides': {
    worker: 'select, update (expired_at)',
    operator: 'select',
    manager: 'insert, update (expired_at, expires_at)',
  },
  'admin.prompt_registry': { worker: 'select', operator: 'select', admin: 'insert' },
  'admin.slip_conditions': { worker: 'select, insert, update', operator: 'select', manager: 'insert, update' },
  'admin.content_moderation_logs': { worker: 'select, insert', operator: 'select, insert' },
  'admin.user_status_logs': { worker: 'select', operator: 'select', manager: 'insert' },
  'admin.error_logs': { worker: 'select, insert, delete', operator: 'select', admin: 'insert, delete' },
  'admin.api_logs': { worker: 'delete', operator: 'select', admin: 'insert, delete' },
  'admin.login_logs': { worker: 'delete', operator: 'select', admin: 'insert, delete' },
  'admin.events': { worker: 'select', operator: 'select', manager: 'insert, update' },
  'admin.event_rewards': { worker: 'select', operator: 'select', manager: 'insert, update, delete' },
  'admin.support_inquiries': { operator: 'select, update (status, assignee_id, first_response_at, closed_at)' },
  'admin.support_responses': { operator: 'select, insert' },
  'public.users': { worker: 'select', operator: 'select', manager: 'update (state)', admin: 'insert' },
  'public.diary_entries': {
    worker: 'select, update (content_enc, flagged_at, flag_reason)',
    operator:
      'select (id, user_id, content_key_id, moderation_state, flagged_at, flag_reason, created_at, updated_at), update (moderation_state, flagged_at, flag_reason)',
    admin: 'select, insert, update (content_enc)',
  },
  'public.analysis_results': {
    worker: 'select, insert',
    operator:
      'select (id, diary_id, user_id, summary, emotion_flow, reflection_question, interpretation, keywords, prompt_name, prompt_version, created_at)',
    manager: 'select',
  },
  'public.reports': { worker: 'select, insert, update', operator: 'select' },
  'public.plans': { worker: 'select', operator: 'select', admin: 'insert, update' },
  'public.subscriptions': { worker: 'select, insert, update', operator: 'select', manager: 'update', admin: 'insert' },
  'public.payments': { worker: 'select, insert, update', operator: 'select', manager: 'update', admin: 'insert' },
  'public.payment_attempts': { worker: 'select, insert', operator: 'select', manager: 'insert' },
  'public.subscription_history': { worker: 'select, insert', operator: 'select', manager: 'insert' },
  'public.billing_consents': { worker: 'select, insert', operator: 'select', manager: 'insert' },
  'public.payment_refunds': { worker: 'select, insert, update', operator: 'select', manager: 'insert, update' },
  'public.notifications': { worker: 'select, insert', operator: 'select', manager: 'insert' },
  'public.announcements': { worker: 'select', operator: 'select', manager: 'insert, update' },
  'public.event_attendance': { worker: 'select, update (streak, reward_code)', operator: 'select', admin: 'insert' },
  'public.user_points_ledger': { worker: 'select, insert', operator: 'select', manager: 'insert' },
  'public.support_faq': { operator: 'select', manager: 'insert, update' },
  'public.sumda_migrations': { worker: 'select', operator: 'select' },
  'sumda.queue_state': { worker: 'select', operator: 'select', manager: 'insert, delete' },
  'sumda.rate_windows': { worker: 'select, insert, update, delete', operator: 'select' },
  'sumda.report_backfills': { worker: 'select, insert, update', operator: 'select', manager: 'insert, update' },
  'sumda.report_stale': { worker: 'select, insert, update, delete', operator: 'select' },
};

export async function up(db: Kysely<any>): Promise<void> {
  // Roles are cluster-wide: another database (or a concurrent migration) may have made them already.
  await sql`
    do $$
    declare
      r text;
    begin
      foreach r in array array['sumda_owner', ${sql.join(RUNTIME.map((r) => sql.lit(r)))}] loop
        if not exists (select 1 from pg_roles where rolname = r) then
          begin
            execute format('create role %I nologin', r);
          exception when duplicate_object or unique_violation then null;
          end;
        end if;
      end loop;
      -- Idempotent, but two databases migrating at once can collide on the catalog row: the
      -- membership checks below say whether it holds.
      begin
        grant sumda_operator to sumda_manager;
        grant sumda_manager to sumda_admin;
        -- The migrating login becomes a member of the owner, so it can hand its objects over.
        execute format('grant sumda_owner to %I', current_user);
      exception when others then null;
      end;
      if not pg_has_role('sumda_admin', 'sumda_operator', 'member')
         or not pg_has_role(current_user, 'sumda_owner', 'member') then
        raise exception 'could not set up the membership of the sumda roles'
          using hint = 'the migrating login needs CREATEROLE (or a DBA creates the roles first)';
      end if;
    end
    $$`.execute(db);

  await sql`
    do $$
    declare
      obj record;
    begin
      execute format('grant create, connect on database %I to sumda_owner', current_database());
      execute format('grant connect on database %I to sumda_worker, sumda_operator', current_database());
      grant create on schema public to sumda_owner;
      revoke create on schema public from public;
      alter schema admin owner to sumda_owner;
      alter schema sumda owner to sumda_owner;
      -- Every table, sequence and function of sumda's schemas goes to the owner (not what an extension owns).
      for obj in
        select c.oid, n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('admin', 'public', 'sumda') and c.relkind in ('r', 'p', 'v', 'm')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')
      loop
        execute format('alter table %I.%I owner to sumda_owner', obj.nspname, obj.relname);
      end loop;
      -- Sequences of their own (those of identity and serial columns follow their table).
      for obj in
        select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('admin', 'public', 'sumda') and c.relkind = 'S'
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype in ('a', 'i', 'e'))
      loop
        execute format('alter sequence %I.%I owner to sumda_owner', obj.nspname, obj.relname);
      end loop;
      for obj in
        select p.oid::regprocedure as sig from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname in ('admin', 'public', 'sumda')
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
      loop
        execute format('alter routine %s owner to sumda_owner', obj.sig);
      end loop;
      grant usage on schema admin, sumda, public to sumda_worker, sumda_operator;
      grant usage on all sequences in schema admin, sumda, public to sumda_worker, sumda_operator;
      alter default privileges for role sumda_owner in schema admin, sumda, public
        grant usage on sequences to sumda_worker, sumda_operator;
    end
    $$`.execute(db);

  for (const [table, grants] of Object.entries(GRANTS)) {
    for (const [role, privileges] of Object.entries(grants)) {
      await sql`grant ${sql.raw(privileges)} on ${sql.raw(table)} to ${sql.raw(`sumda_${role}`)}`.execute(db);
    }
  }

  // The report staleness marks are written by triggers on diary entries and analyses, whoever
  // changes them (an operator moderating, a worker analysing): the marking function runs as its
  // owner, so those roles need no write access to sumda.report_stale.
  await sql`
    alter function sumda.mark_reports_stale(uuid[], date[]) security definer set search_path = pg_catalog, pg_temp;
    revoke execute on function sumda.mark_reports_stale(uuid[], date[]) from public;
    grant execute on function sumda.mark_reports_stale(uuid[], date[]) to sumda_worker, sumda_operator;
  `.execute(db);

  // The moderation and account-state histories are append-only like the audit log. A DELETE is
  // allowed only as the cascade of erasing the row they describe (the user, the diary entry).
  await sql`
    create function admin.guard_history_delete() returns trigger
    language plpgsql as $$
    declare
      parent_exists boolean;
    begin
      execute format('select exists (select 1 from %s where id = $1)', tg_argv[0])
        into parent_exists using (to_jsonb(old) ->> tg_argv[1])::uuid;
      if parent_exists then
        raise exception '%.% is append-only: DELETE refused', tg_table_schema, tg_table_name
          using errcode = 'P0001',
                hint = 'rows of this table are only ever inserted; they go only with the row they describe';
      end if;
      return old;
    end
    $$;
    alter function admin.guard_history_delete() owner to sumda_owner;
    comment on function admin.guard_history_delete() is
      'BEFORE DELETE trigger of history tables: refuses, except for the cascade of a deleted parent (TG_ARGV: parent table, fk column)';

    create trigger content_moderation_logs_append_only before update on admin.content_moderation_logs
      for each row execute function admin.refuse_change('append-only');
    create trigger content_moderation_logs_guard_delete before delete on admin.content_moderation_logs
      for each row execute function admin.guard_history_delete('public.diary_entries', 'diary_id');
    create trigger content_moderation_logs_no_truncate before truncate on admin.content_moderation_logs
      for each statement execute function admin.refuse_change('append-only');
    create trigger user_status_logs_append_only before update on admin.user_status_logs
      for each row execute function admin.refuse_change('append-only');
    create trigger user_status_logs_guard_delete before delete on admin.user_status_logs
      for each row execute function admin.guard_history_delete('public.users', 'user_id');
    create trigger user_status_logs_no_truncate before truncate on admin.user_status_logs
      for each statement execute function admin.refuse_change('append-only');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // The roles stay (other databases of the cluster may use them); this database forgets them.
  // Not `drop owned by`: that also revokes the roles' privileges on shared objects — CONNECT on
  // every other database of the cluster (a staging revert would lock production's workers out) —
  // and it rewrites other databases' catalog rows while they change (XX000 under load). So: what
  // the owner owns here goes back to the migrating login, and each privilege the roles hold here
  // (objects of this database, this database itself, default privileges) is revoked one by one.
  await sql`
    reset role;
    drop trigger user_status_logs_no_truncate on admin.user_status_logs;
    drop trigger user_status_logs_guard_delete on admin.user_status_logs;
    drop trigger user_status_logs_append_only on admin.user_status_logs;
    drop trigger content_moderation_logs_no_truncate on admin.content_moderation_logs;
    drop trigger content_moderation_logs_guard_delete on admin.content_moderation_logs;
    drop trigger content_moderation_logs_append_only on admin.content_moderation_logs;
    drop function admin.guard_history_delete();
    alter function sumda.mark_reports_stale(uuid[], date[]) security invoker reset search_path;
    grant execute on function sumda.mark_reports_stale(uuid[], date[]) to public;
  `.execute(db);
  await sql`
    do $$
    declare
      here oid := (select oid from pg_database where datname = current_database());
      owner_role oid := 'sumda_owner'::regrole;
      roles oid[] := array(select oid from pg_roles where rolname in ('sumda_owner', ${sql.join(RUNTIME.map((r) => sql.lit(r)))}));
      d record;
      kind "char";
    begin
      -- Ownership, in this database only (identity and serial sequences follow their table).
      for d in select classid, objid from pg_shdepend
               where dbid = here and deptype = 'o' and refobjid = owner_role
      loop
        if d.classid = 'pg_namespace'::regclass then
          execute format('alter schema %I owner to %I', (select nspname from pg_namespace where oid = d.objid), current_user);
        elsif d.classid = 'pg_proc'::regclass then
          execute format('alter routine %s owner to %I', d.objid::regprocedure, current_user);
        elsif d.classid = 'pg_type'::regclass then
          execute format('alter type %s owner to %I', d.objid::regtype, current_user);
        elsif d.classid = 'pg_class'::regclass then
          select relkind into kind from pg_class where oid = d.objid;
          if kind = 'S' then
            if not exists (select 1 from pg_depend where classid = 'pg_class'::regclass and objid = d.objid and deptype in ('a', 'i')) then
              execute format('alter sequence %s owner to %I', d.objid::regclass, current_user);
            end if;
          elsif kind in ('r', 'p', 'v', 'm', 'f') then
            execute format('alter table %s owner to %I', d.objid::regclass, current_user);
          end if;
        elsif d.classid <> 'pg_default_acl'::regclass then
          raise exception 'sumda_owner owns a % (oid %) this migration does not know how to hand back', d.classid::regclass, d.objid;
        end if;
      end loop;
      -- Privileges held by (or default privileges set for) the roles, here and on this database.
      for d in select distinct s.classid, s.objid, r.rolname
               from pg_shdepend s join pg_roles r on r.oid = s.refobjid
               where s.deptype = 'a' and s.refobjid = any (roles)
                 and (s.dbid = here or (s.dbid = 0 and s.classid = 'pg_database'::regclass and s.objid = here))
      loop
        if d.classid = 'pg_database'::regclass then
          execute format('revoke all on database %I from %I', current_database(), d.rolname);
        elsif d.classid = 'pg_namespace'::regclass then
          execute format('revoke all on schema %I from %I', (select nspname from pg_namespace where oid = d.objid), d.rolname);
        elsif d.classid = 'pg_proc'::regclass then
          execute format('revoke all on routine %s from %I', d.objid::regprocedure, d.rolname);
        elsif d.classid = 'pg_type'::regclass then
          execute format('revoke all on type %s from %I', d.objid::regtype, d.rolname);
        elsif d.classid = 'pg_class'::regclass then
          select relkind into kind from pg_class where oid = d.objid;
          execute format('revoke all on %s %s from %I', case when kind = 'S' then 'sequence' else 'table' end, d.objid::regclass, d.rolname);
        elsif d.classid = 'pg_default_acl'::regclass then
          execute (
            select format('alter default privileges for role %I %s revoke all on %s from %I',
                          pg_get_userbyid(a.defaclrole),
                          case when a.defaclnamespace = 0 then '' else format('in schema %I', n.nspname) end,
                          case a.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                               when 'T' then 'types' when 'n' then 'schemas' end,
                          d.rolname)
            from pg_default_acl a left join pg_namespace n on n.oid = a.defaclnamespace where a.oid = d.objid);
        else
          raise exception '% holds a privilege on a % (oid %) this migration does not know how to revoke', d.rolname, d.classid::regclass, d.objid;
        end if;
      end loop;
      -- Default privileges set by the owner (granting to anyone) go too.
      for d in select a.oid, n.nspname, a.defaclobjtype from pg_default_acl a left join pg_namespace n on n.oid = a.defaclnamespace
               where a.defaclrole = owner_role
      loop
        execute format('alter default privileges for role sumda_owner %s revoke all on %s from %s',
                       case when d.nspname is null then '' else format('in schema %I', d.nspname) end,
                       case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences' when 'f' then 'functions'
                                            when 'T' then 'types' when 'n' then 'schemas' end,
                       (select string_agg(quote_ident(rolname), ', ') from pg_roles where oid = any (roles)));
      end loop;
    end
    $$`.execute(db);
}
