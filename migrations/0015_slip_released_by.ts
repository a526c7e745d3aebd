import { type Kysely, sql } from 'kysely';

// Who ended a warning or slip by hand. Until now an operator's release wrote its actor and reason
// into override_by / override_reason, overwriting the reason a `slip override` had put there; the
// first reason survived only in the audit log. A release now has its own actor column beside
// release_reason, and override_* keep what the override said.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table admin.slip_conditions
      add column released_by uuid null constraint slip_conditions_released_by_fkey references admin.admins (id) on delete restrict,
      add constraint slip_conditions_released_by_check check (released_by is null or released_at is not null);
    comment on column admin.slip_conditions.released_by is 'The operator who ended it by hand (release or a later override); null when it ran its course';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table admin.slip_conditions drop column released_by`.execute(db);
}
