import { type Kysely, sql } from 'kysely';

// Operators who share a database login prove who they are with a token (README "Trust model").
// `sumda admin token issue` makes a random token, shows it once and stores only its SHA-256 (a
// 256-bit random secret needs no slow hash: there is nothing to guess). The CLI puts the token in
// the session setting `sumda.operator_token` of each of its connections; the database, not the
// client, checks it: admin.session_operator() says which operator this session is proven to be
// (its mapped login, else a live token of an enabled account), and a BEFORE INSERT trigger on the
// audit log refuses a row that names any other operator. So whoever holds the shared URL can still
// connect, but cannot sign the audit trail with another operator's name.
//
// Superusers and members of sumda_owner (who can disable any trigger) and sumda_worker (whose rows
// name the operator who asked for the job) are not checked; rows naming no operator (refusals of an
// unknown identity) neither. Tokens are written only through the SECURITY DEFINER functions below:
// no runtime role can insert, update or read a token hash.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table admin.operator_tokens (
      id uuid primary key default gen_random_uuid(),
      admin_id uuid not null constraint operator_tokens_admin_id_fkey references admin.admins (id) on delete restrict,
      token_hash bytea not null constraint operator_tokens_token_hash_key unique
        constraint operator_tokens_token_hash_check check (octet_length(token_hash) = 32),
      label text null constraint operator_tokens_label_check check (char_length(label) between 1 and 100),
      created_by uuid null constraint operator_tokens_created_by_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      revoked_at timestamptz null,
      revoked_by uuid null constraint operator_tokens_revoked_by_fkey references admin.admins (id) on delete restrict,
      last_used_at timestamptz null,
      constraint operator_tokens_lifetime_check
        check (expires_at > created_at and expires_at <= created_at + interval '366 days'),
      constraint operator_tokens_revoked_check check (revoked_by is null or revoked_at is not null)
    );
    create index operator_tokens_admin_id_idx on admin.operator_tokens (admin_id, expires_at);
    -- created_by / revoked_by are "who did it" references to operators, never deleted: not indexed.
    comment on table admin.operator_tokens is 'Per-operator tokens for shared database logins (sumda admin token); only the SHA-256 of each is stored';
    comment on column admin.operator_tokens.token_hash is 'sha256 of the token text; the token itself is shown once, when issued';

    grant select (id, admin_id, label, created_by, created_at, expires_at, revoked_at, revoked_by, last_used_at)
      on admin.operator_tokens to sumda_operator;

    -- Which operator this session is proven to be: its mapped login, else the token in the
    -- session's sumda.operator_token setting (live, its account enabled). No row = not proven.
    create function admin.session_operator()
      returns table (admin_id uuid, identity text, token_id uuid)
      language plpgsql stable security definer set search_path = pg_catalog, pg_temp as $$
    declare
      token text := nullif(current_setting('sumda.operator_token', true), '');
    begin
      return query
        select a.id, 'login'::text, null::uuid from admin.admins a
        where a.db_login = session_user::text and a.disabled_at is null;
      if found then return; end if;
      if token is null then return; end if;
      return query
        select t.admin_id, 'token'::text, t.id
        from admin.operator_tokens t join admin.admins a on a.id = t.admin_id
        where t.token_hash = sha256(convert_to(token, 'UTF8'))
          and t.revoked_at is null and t.expires_at > now() and a.disabled_at is null;
    end
    $$;

    -- Superusers and owners can rewrite anything (the self-declared mode); nothing to prove.
    create function admin.session_is_privileged() returns boolean
      language sql stable security definer set search_path = pg_catalog, pg_temp as $$
      select r.rolsuper or pg_has_role(session_user, 'sumda_owner', 'MEMBER')
      from pg_roles r where r.rolname = session_user
    $$;

    create function admin.audit_log_actor_proof() returns trigger
      language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
    declare
      proven record;
      account record;
    begin
      if new.actor_id is null then return new; end if;
      if admin.session_is_privileged() or pg_has_role(session_user, 'sumda_worker', 'MEMBER') then
        return new;
      end if;
      select * into proven from admin.session_operator() limit 1;
      if proven.admin_id is null then
        raise exception 'database login % is shared and nothing proves that this is %', session_user, new.actor_email
          using errcode = '42501',
                hint = 'set SUMDA_TOKEN to a token from ''sumda admin token issue'', or connect as a login mapped with ''sumda admin grant-login''';
      end if;
      select email, role into account from admin.admins where id = new.actor_id;
      if proven.admin_id <> new.actor_id
         or new.actor_email is distinct from account.email or new.actor_role is distinct from account.role then
        raise exception 'this session is proven as another operator than %', new.actor_email
          using errcode = '42501';
      end if;
      if new.actor_identity is distinct from proven.identity then
        raise exception 'actor_identity % does not match how this session was proven (%)', new.actor_identity, proven.identity
          using errcode = '42501';
      end if;
      if proven.token_id is not null then
        update admin.operator_tokens set last_used_at = now()
        where id = proven.token_id and (last_used_at is null or last_used_at < now() - interval '1 minute');
      end if;
      return new;
    end
    $$;
    create trigger audit_log_actor_proof before insert on admin.audit_log
      for each row execute function admin.audit_log_actor_proof();

    -- Issue: an admin for anyone, any operator for themselves (a proven session), or the owner.
    create function admin.issue_operator_token(
      p_admin uuid, p_hash bytea, p_expires timestamptz, p_label text, p_created_by uuid
    ) returns uuid
      language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
    declare
      caller uuid;
      issued uuid;
    begin
      if admin.session_is_privileged() then
        caller := p_created_by;
      else
        select s.admin_id into caller from admin.session_operator() s limit 1;
        if caller is null then
          raise exception 'issuing a token needs a proven operator' using errcode = '42501';
        end if;
        if caller <> p_admin and not exists (select 1 from admin.admins where id = caller and role = 'admin') then
          raise exception 'only an admin issues tokens for another operator' using errcode = '42501';
        end if;
      end if;
      if not exists (select 1 from admin.admins where id = p_admin and disabled_at is null) then
        raise exception 'no enabled operator %', p_admin using errcode = 'P0002';
      end if;
      insert into admin.operator_tokens (admin_id, token_hash, label, expires_at, created_by)
      values (p_admin, p_hash, p_label, p_expires, caller)
      returning id into issued;
      return issued;
    end
    $$;

    -- Revoke: an admin, the token's own operator, or the owner. Returns false when already revoked.
    create function admin.revoke_operator_token(p_id uuid, p_revoked_by uuid) returns boolean
      language plpgsql volatile security definer set search_path = pg_catalog, pg_temp as $$
    declare
      caller uuid;
      holder uuid;
      done boolean;
    begin
      select admin_id into holder from admin.operator_tokens where id = p_id for update;
      if holder is null then
        raise exception 'no operator token %', p_id using errcode = 'P0002';
      end if;
      if admin.session_is_privileged() then
        caller := p_revoked_by;
      else
        select s.admin_id into caller from admin.session_operator() s limit 1;
        if caller is null or (caller <> holder and not exists (
             select 1 from admin.admins where id = caller and role = 'admin')) then
          raise exception 'only an admin or the token''s operator revokes it' using errcode = '42501';
        end if;
      end if;
      update admin.operator_tokens set revoked_at = now(), revoked_by = caller
      where id = p_id and revoked_at is null;
      get diagnostics done = row_count;
      return done;
    end
    $$;

    do $$
    declare
      f text;
    begin
      foreach f in array array[
        'admin.session_operator()', 'admin.session_is_privileged()', 'admin.audit_log_actor_proof()',
        'admin.issue_operator_token(uuid, bytea, timestamptz, text, uuid)',
        'admin.revoke_operator_token(uuid, uuid)'
      ] loop
        execute format('alter function %s owner to sumda_owner', f);
        execute format('revoke execute on function %s from public', f);
      end loop;
    end
    $$;
    grant execute on function admin.session_operator(), admin.session_is_privileged(),
      admin.issue_operator_token(uuid, bytea, timestamptz, text, uuid), admin.revoke_operator_token(uuid, uuid)
      to sumda_operator, sumda_worker;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger audit_log_actor_proof on admin.audit_log;
    drop function admin.audit_log_actor_proof();
    drop function admin.revoke_operator_token(uuid, uuid);
    drop function admin.issue_operator_token(uuid, bytea, timestamptz, text, uuid);
    drop function admin.session_is_privileged();
    drop function admin.session_operator();
    drop table admin.operator_tokens;
  `.execute(db);
}
