import { type Kysely, sql } from 'kysely';

// public holds the service tables (1–12), admin the operations tables (13–26) and the audit log.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create schema if not exists admin`.execute(db);
  await sql`comment on schema admin is 'sumda operations: operators, logs, policies, prompts, audit trail'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema if exists admin cascade`.execute(db);
}
