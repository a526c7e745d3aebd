import { type Kysely, sql } from 'kysely';

// Grants the service-operation commands need beyond 0014's table (README "Trust model"):
// - an operator's support reply tells the member (insert into notifications);
// - a manager's `announce expire|delete` ends the announcement's notifications (visible_to) and
//   removes those not shown yet;
// - a manager's `event process` writes streaks and reward codes, as the attendance job does;
// - the logs.retention job finds the old rows it deletes (their id and instant, nothing else).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    grant insert on public.notifications to sumda_operator;
    grant update (visible_to), delete on public.notifications to sumda_manager;
    grant update (streak, reward_code) on public.event_attendance to sumda_manager;
    grant select (id, created_at) on admin.api_logs, admin.login_logs to sumda_worker; -- error_logs: select already
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    revoke select (id, created_at) on admin.api_logs, admin.login_logs from sumda_worker;
    revoke update (streak, reward_code) on public.event_attendance from sumda_manager;
    revoke update (visible_to), delete on public.notifications from sumda_manager;
    revoke insert on public.notifications from sumda_operator;
  `.execute(db);
}
