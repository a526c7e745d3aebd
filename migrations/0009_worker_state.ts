import { type Kysely, sql } from 'kysely';

// sumda's own bookkeeping, apart from the service's tables: what worker processes share besides
// the jobs themselves (pg-boss keeps those in its schema) — a paused flag per queue, and
// fixed-window counters of budgets every worker draws from (e.g. OpenAI requests per minute).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create schema sumda;
    comment on schema sumda is 'sumda bookkeeping shared by worker processes (not service data)';

    create table sumda.queue_state (
      queue text primary key,
      paused_at timestamptz not null default now(),
      paused_by uuid null constraint queue_state_paused_by_fkey references admin.admins (id) on delete restrict,
      reason text not null
    );
    comment on table sumda.queue_state is 'Queues paused by an operator; workers stop fetching from them';

    create table sumda.rate_windows (
      budget text not null,
      window_start timestamptz not null,
      used integer not null default 0 constraint rate_windows_used_check check (used >= 0),
      primary key (budget, window_start)
    );
    comment on table sumda.rate_windows is 'Fixed-window counters of budgets shared by all workers (requests per minute)';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop schema sumda cascade`.execute(db);
}
