import { type Kysely, sql } from 'kysely';

// Operators (admin.admins) and the append-only, hash-chained audit trail (admin.audit_log).
// The chain: every row stores the hash of the row before it (prev_hash; 32 zero bytes for the
// first) and its own hash over prev_hash and every field (row_hash), so a removed or altered row
// breaks every hash after it. The BEFORE INSERT trigger owns chain_seq, at, prev_hash and row_hash:
// whatever a client sends for them is replaced. Writers are serialised by one transaction-scoped
// advisory lock (AUDIT_CHAIN_LOCK), so two concurrent inserts can never claim the same predecessor.
// Under REPEATABLE READ/SERIALIZABLE a stale snapshot would compute an already-used chain_seq; the
// UNIQUE on chain_seq then rejects the insert (retryable) rather than forking the chain.

/** pg_advisory_xact_lock key of the audit chain (0x5ad6_a0d1_7c4a_1000): fixed so every version agrees. */
const AUDIT_CHAIN_LOCK = '6545595930023432192';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table admin.admins (
      id uuid primary key default gen_random_uuid(),
      email text not null constraint admins_email_check check (email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
      password_hash text null,
      role text not null default 'operator' constraint admins_role_check check (role in ('operator', 'manager', 'admin')),
      display_name text null,
      disabled_at timestamptz null,
      created_by uuid null constraint admins_created_by_fkey references admin.admins (id) on delete restrict,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    create unique index admins_email_lower_key on admin.admins (lower(email));
    create trigger set_updated_at before update on admin.admins
      for each row execute function public.set_updated_at();
    comment on table admin.admins is 'Operator accounts of the sumda CLI; disabled (disabled_at), never deleted';
    comment on column admin.admins.role is 'operator < manager < admin';

    create table admin.audit_log (
      id bigint generated always as identity primary key,
      chain_seq bigint not null constraint audit_log_chain_seq_key unique,
      at timestamptz not null default now(),
      actor_id uuid null constraint audit_log_actor_id_fkey references admin.admins (id) on delete restrict,
      actor_email text null,
      actor_role text null,
      action text not null constraint audit_log_action_check check (action ~ '^[a-z_]+([.][a-z_]+)+$'),
      target_type text null,
      target_id text null,
      before jsonb null,
      after jsonb null,
      reason text null,
      outcome text not null default 'success' constraint audit_log_outcome_check check (outcome in ('success', 'denied', 'failed')),
      request_id uuid null,
      command text null,
      prev_hash bytea not null,
      row_hash bytea not null
    );
    create index audit_log_actor_id_at_idx on admin.audit_log (actor_id, at);
    create index audit_log_action_at_idx on admin.audit_log (action, at);
    create index audit_log_target_idx on admin.audit_log (target_type, target_id);
    create index audit_log_at_idx on admin.audit_log (at);
    comment on table admin.audit_log is 'Append-only, hash-chained trail of every mutating CLI command (one row per command, same transaction)';
    comment on column admin.audit_log.chain_seq is 'Position in the hash chain, 1, 2, 3, ... without gaps; set by the insert trigger';
    comment on column admin.audit_log.at is 'Database time of the insert (now()); set by the insert trigger';
    comment on column admin.audit_log.row_hash is 'admin.audit_row_hash(prev_hash, chain_seq, at, ...): sha256 over the previous hash and every field';

    create function admin.audit_row_hash(
      prev_hash bytea, chain_seq bigint, at timestamptz, actor_id uuid, actor_email text, actor_role text,
      action text, target_type text, target_id text, before jsonb, after jsonb, reason text, outcome text,
      request_id uuid, command text
    ) returns bytea
    language sql immutable parallel safe
    return sha256(prev_hash || convert_to(
      quote_nullable(chain_seq::text) || ',' ||
      quote_nullable(extract(epoch from at)::text) || ',' ||
      quote_nullable(actor_id::text) || ',' ||
      quote_nullable(actor_email) || ',' ||
      quote_nullable(actor_role) || ',' ||
      quote_nullable(action) || ',' ||
      quote_nullable(target_type) || ',' ||
      quote_nullable(target_id) || ',' ||
      quote_nullable(before::text) || ',' ||
      quote_nullable(after::text) || ',' ||
      quote_nullable(reason) || ',' ||
      quote_nullable(outcome) || ',' ||
      quote_nullable(request_id::text) || ',' ||
      quote_nullable(command),
      'UTF8'));
    comment on function admin.audit_row_hash(bytea, bigint, timestamptz, uuid, text, text, text, text, text, jsonb, jsonb, text, text, uuid, text) is
      'Hash of one audit row: sha256(prev_hash || every field quoted and comma-joined; at as epoch seconds, independent of TimeZone)';

    create function admin.audit_log_chain() returns trigger
    language plpgsql as $$
    declare
      last_seq bigint;
      last_hash bytea;
    begin
      perform pg_advisory_xact_lock(${sql.raw(AUDIT_CHAIN_LOCK)});
      new.at := now();
      select a.chain_seq, a.row_hash into last_seq, last_hash
        from admin.audit_log a order by a.chain_seq desc limit 1;
      new.chain_seq := coalesce(last_seq, 0) + 1;
      new.prev_hash := coalesce(last_hash, decode(repeat('00', 32), 'hex'));
      new.row_hash := admin.audit_row_hash(
        new.prev_hash, new.chain_seq, new.at, new.actor_id, new.actor_email, new.actor_role, new.action,
        new.target_type, new.target_id, new.before, new.after, new.reason, new.outcome, new.request_id,
        new.command);
      return new;
    end
    $$;
    comment on function admin.audit_log_chain() is
      'BEFORE INSERT trigger of admin.audit_log: serialises writers and sets at, chain_seq, prev_hash, row_hash';

    create trigger audit_log_chain before insert on admin.audit_log
      for each row execute function admin.audit_log_chain();
    create trigger audit_log_append_only before update or delete on admin.audit_log
      for each row execute function admin.refuse_change('append-only');
    create trigger audit_log_no_truncate before truncate on admin.audit_log
      for each statement execute function admin.refuse_change('append-only');
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table admin.audit_log;
    drop function admin.audit_log_chain();
    drop function admin.audit_row_hash(bytea, bigint, timestamptz, uuid, text, text, text, text, text, jsonb, jsonb, text, text, uuid, text);
    drop table admin.admins;
  `.execute(db);
}
