import { type Kysely, sql } from 'kysely';

// A backfill chunk builds a span of consecutive periods for its users in one statement (one read of
// their entries serves every period of the span) instead of one period. The span of the window in
// progress is decided when the window starts — up to a length, stopping before a period an older
// run covers — and recorded here, so every chunk of the window, and a resume after a crash or a
// deploy, builds exactly the same periods for its users. Null between windows (cursor_user null).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    alter table sumda.report_backfills add column cursor_last_period date null;
    alter table sumda.report_backfills add constraint report_backfills_cursor_last_period_check
      check (cursor_last_period is null or cursor_last_period between cursor_period and last_period);
    comment on column sumda.report_backfills.cursor_last_period is 'Last period_start of the span being built (cursor_period … this); null between spans';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table sumda.report_backfills drop column cursor_last_period`.execute(db);
}
