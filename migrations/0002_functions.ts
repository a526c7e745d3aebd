import { type Kysely, sql } from 'kysely';

// Trigger functions shared by the tables of the following migrations.
// - public.set_updated_at(): BEFORE UPDATE, stamps updated_at with the transaction time, so no
//   writer can forget it or set it to something else.
// - admin.refuse_change(kind): BEFORE UPDATE/DELETE (row) and BEFORE TRUNCATE (statement) on the
//   append-only and immutable tables; raises P0001 naming the table and the refused operation.
//   TG_ARGV[0] says which kind of table it is ('append-only' or 'immutable').
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function public.set_updated_at() returns trigger
    language plpgsql as $$
    begin
      new.updated_at := now();
      return new;
    end
    $$;
    comment on function public.set_updated_at() is
      'BEFORE UPDATE trigger: sets updated_at to the transaction time';

    create function admin.refuse_change() returns trigger
    language plpgsql as $$
    declare
      kind text := coalesce(tg_argv[0], 'immutable');
    begin
      raise exception '%.% is %: % refused', tg_table_schema, tg_table_name, kind, tg_op
        using errcode = 'P0001',
              hint = case kind
                when 'append-only' then 'rows of this table are only ever inserted; write a new row instead'
                else 'rows of this table never change once written; insert a new version instead'
              end;
    end
    $$;
    comment on function admin.refuse_change() is
      'BEFORE UPDATE/DELETE/TRUNCATE trigger of append-only and immutable tables: refuses with P0001';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop function admin.refuse_change();
    drop function public.set_updated_at();
  `.execute(db);
}
