import { type Kysely, sql } from 'kysely';

// A keyed audit chain. row_hash (0003) chains every row to the one before it, but anyone who can
// write the table with its triggers off (the owner) can recompute that chain after an edit. `mac`
// is an HMAC-SHA256 of row_hash under a key the database never sees (SUMDA_AUDIT_KEY, held by the
// CLI): the writer computes it under the chain lock, so an edited or forged row cannot carry a
// valid one. `mac_key_id` names the key, so keys can be rotated and old rows still checked.
// Rows written without a key (before one was configured) have neither.
// `actor_identity` says how the actor was established (README "Trust model"): `login` (the database
// login maps to the operator), `password` or `token` (proved), `declared` (SUMDA_ACTOR over an
// owner or shared connection: nothing proved). The MAC covers it with row_hash.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table admin.audit_log
      add column mac bytea null,
      add column mac_key_id text null,
      add column actor_identity text null
        constraint audit_log_actor_identity_check check (actor_identity in ('login', 'password', 'token', 'declared')),
      add constraint audit_log_mac_check check ((mac is null) = (mac_key_id is null));
    comment on column admin.audit_log.mac is 'HMAC-SHA256 of row_hash and actor_identity under the audit key mac_key_id (SUMDA_AUDIT_KEY); null = written without a key';
    comment on column admin.audit_log.actor_identity is 'How the actor was established: login, password, token, or declared (self-declared; nothing proved)';
    comment on column admin.audit_log.mac_key_id is 'Which SUMDA_AUDIT_KEY entry signed this row';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table admin.audit_log drop constraint audit_log_mac_check, drop column actor_identity, drop column mac_key_id, drop column mac;
  `.execute(db);
}
