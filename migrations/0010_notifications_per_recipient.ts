import { type Kysely, sql } from 'kysely';

// Notifications: one row per recipient, so every recipient has its own read state. A broadcast row
// (user_id null) shared one `read` flag among all users — the first reader marked it read for
// everyone and read rates were meaningless. Messages to many users are now fanned out set-based
// (src/notifications/: one INSERT … SELECT over the audience), each recipient's row read on its own.
//
// Existing broadcast rows are expanded to every active user, unread (their shared flag said
// nothing about any one user), then removed; user_id becomes NOT NULL. A dedupe key is now unique
// per recipient — (user_id, dedupe_key) — so one key can name a message sent once to each of many.
//
// Two indexes for reads by time: notifications by (type, created_at) for `slip stats`' count of
// crisis notes per day, and admin.login_logs on created_at for scans over a period of every account.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    drop index public.notifications_dedupe_key_key;
    create unique index notifications_user_id_dedupe_key_key on public.notifications (user_id, dedupe_key)
      where dedupe_key is not null;
    insert into public.notifications
      (user_id, type, title, message, visible_from, visible_to, announcement_id, event_id, dedupe_key, created_at)
    select u.id, n.type, n.title, n.message, n.visible_from, n.visible_to, n.announcement_id, n.event_id,
           n.dedupe_key, n.created_at
    from public.notifications n cross join public.users u
    where n.user_id is null and u.state = 'active';
    delete from public.notifications where user_id is null;
    drop index public.notifications_broadcast_visible_from_idx;
    alter table public.notifications alter column user_id set not null;
    create index notifications_type_created_at_idx on public.notifications (type, created_at);
    comment on table public.notifications is 'In-app notifications, one row per recipient (a message to many is fanned out), each with its own read state';
    comment on column public.notifications.dedupe_key is 'Set by the sender so a message reaches each recipient at most once';
    comment on index public.notifications_user_id_dedupe_key_key is 'A message with a dedupe key is written once per recipient, even when sent again';

    create index login_logs_created_at_idx on admin.login_logs (created_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // Rows stay per recipient (which user read what cannot be folded back into one flag); only the
  // schema returns. Keys shared by several recipients get the recipient appended to stay unique.
  await sql`
    drop index admin.login_logs_created_at_idx;
    drop index public.notifications_type_created_at_idx;
    drop index public.notifications_user_id_dedupe_key_key;
    update public.notifications n set dedupe_key = n.dedupe_key || ':' || n.user_id
    where n.dedupe_key in (select dedupe_key from public.notifications where dedupe_key is not null
                           group by dedupe_key having count(*) > 1);
    create unique index notifications_dedupe_key_key on public.notifications (dedupe_key) where dedupe_key is not null;
    alter table public.notifications alter column user_id drop not null;
    create index notifications_broadcast_visible_from_idx on public.notifications (visible_from) where user_id is null;
    comment on table public.notifications is 'In-app notifications to one user, or to everyone when user_id is null';
    comment on column public.notifications.dedupe_key is 'Set by jobs so a notification is sent exactly once';
  `.execute(db);
}
