import { type Kysely, sql } from 'kysely';

// An operator can be mapped to a database login (`sumda admin grant-login`). When the CLI connects
// as that login, the actor is the operator the login maps to (session_user), not what SUMDA_ACTOR or
// --as claims: the database, not the client, says who is acting. One login, one operator.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table admin.admins add column db_login text null constraint admins_db_login_key unique;
    comment on column admin.admins.db_login is 'The database login (session_user) this operator connects as; null = none mapped';
    grant select (db_login) on admin.admins to sumda_operator, sumda_worker;
    -- The report builder (0012) also removes reports whose entries were all blocked or deleted.
    grant delete on public.reports to sumda_worker;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    revoke delete on public.reports from sumda_worker;
    alter table admin.admins drop column db_login;
  `.execute(db);
}
