import { type Kysely, sql } from 'kysely';

// `report backfill --inline` (permission report.backfill: manager) builds the reports in the
// command, as the report.backfill job does on a worker: the manager's login writes public.reports
// the way the worker's does (0014 + 0019), and clears the staleness marks of what it built. Found by running it as a manager login
// (test/roles/runtime.test.ts) rather than as the superuser.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    grant insert, update, delete on public.reports to sumda_manager;
    grant delete on sumda.report_stale to sumda_manager;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    revoke delete on sumda.report_stale from sumda_manager;
    revoke insert, update, delete on public.reports from sumda_manager;
  `.execute(db);
}
