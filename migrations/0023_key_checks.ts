import { type Kysely, sql } from 'kysely';

// A key check value per encryption key id (README "Rotating keys"): HMAC-SHA256 of a fixed label
// under the key, first 16 bytes — it says whether a configured key is the one an id stood for,
// and nothing about the key. Written the first time a process with write access (a worker, an
// admin command) sees the id; from then on a different key under that id is refused before
// anything is opened or sealed with it (exit 4, naming the id). Rows are never updated: a key id
// names one key for ever (a new key gets a new id).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table sumda.key_checks (
      key_id text primary key constraint key_checks_key_id_check check (key_id ~ '^[A-Za-z0-9_-]{1,32}$'),
      check_value bytea not null constraint key_checks_check_value_check check (octet_length(check_value) = 16),
      created_at timestamptz not null default now()
    );
    comment on table sumda.key_checks is 'Key check value per SUMDA_ENCRYPTION_KEYS id: a wrong key under a known id is refused';
    create trigger key_checks_immutable before update or delete on sumda.key_checks
      for each row execute function admin.refuse_change('immutable');
    -- Operators read them (keys status); only the roles that seal and re-seal record new ids:
    -- an operator able to insert one could make the right key look wrong.
    grant select on sumda.key_checks to sumda_operator, sumda_worker;
    grant insert on sumda.key_checks to sumda_worker, sumda_admin;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table sumda.key_checks`.execute(db);
}
