/**
 * Every table has a grant decision, sumda's objects belong to sumda_owner, and no runtime role can
 * do what only an owner can (alter a table, disable a trigger, truncate). Reads the catalog of the
 * migrated template (pg-boss installed), so a migration that adds a table without deciding who may
 * touch it fails here with the lines to add.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const RUNTIME = ['sumda_worker', 'sumda_operator', 'sumda_manager', 'sumda_admin'];
const USER_SCHEMAS = sql`n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg\\_temp%' and n.nspname not like 'pg\\_toast%'`;

describe('grant decisions', () => {
  it('every table of every schema grants something to at least one runtime role', async () => {
    const rows = await sql<{ table: string }>`
      select n.nspname || '.' || c.relname as table
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and ${USER_SCHEMAS} and not c.relispartition
        and not exists (
          select 1 from aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a
          join pg_roles r on r.oid = a.grantee
          where r.rolname = any(${RUNTIME}))
        and not exists (
          select 1 from pg_attribute att, aclexplode(att.attacl) a join pg_roles r on r.oid = a.grantee
          where att.attrelid = c.oid and att.attacl is not null and r.rolname = any(${RUNTIME}))
      order by 1`.execute(database.db);
    const missing = rows.rows.map((r) => r.table);
    const advice = missing.map(
      (t) =>
        `  ${t}: in the migration that creates it, add e.g.\n` +
        `    grant select on ${t} to sumda_operator;   -- who reads it\n` +
        `    grant insert, update on ${t} to sumda_worker;   -- or sumda_manager / sumda_admin: who writes it\n` +
        '  (roles: sumda_worker, sumda_operator < sumda_manager < sumda_admin, mirroring src/admins/permissions.ts;\n' +
        '   see migrations/0014_roles.ts and README "Adding a table")',
    );
    expect(missing, `tables without a grant decision:\n${advice.join('\n')}`).toEqual([]);
  });

  it("sumda's tables, views, sequences and functions belong to sumda_owner", async () => {
    const rows = await sql<{ object: string; owner: string }>`
      select n.nspname || '.' || c.relname as object, pg_get_userbyid(c.relowner) as owner
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('admin', 'public', 'sumda') and c.relkind in ('r', 'p', 'v', 'm', 'S')
        and pg_get_userbyid(c.relowner) <> 'sumda_owner'
      union all
      select n.nspname || '.' || p.proname, pg_get_userbyid(p.proowner)
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('admin', 'public', 'sumda') and pg_get_userbyid(p.proowner) <> 'sumda_owner'
      order by 1`.execute(database.db);
    expect(
      rows.rows,
      'objects not owned by sumda_owner (migrations run as sumda_owner; an object created outside a migration, or after `reset role`, needs `alter … owner to sumda_owner`)',
    ).toEqual([]);
  });

  it('no runtime role owns anything, holds TRUNCATE/TRIGGER/REFERENCES, or is a member of the owner', async () => {
    const owned = await sql<{ object: string }>`
      select c.oid::regclass::text as object from pg_class c
      where pg_get_userbyid(c.relowner) = any(${RUNTIME})
      union all select n.nspname from pg_namespace n where pg_get_userbyid(n.nspowner) = any(${RUNTIME})
      union all select p.oid::regprocedure::text from pg_proc p where pg_get_userbyid(p.proowner) = any(${RUNTIME})`.execute(
      database.db,
    );
    expect(owned.rows).toEqual([]);
    const dangerous = await sql<{ grant: string }>`
      select r.rolname || ' ' || a.privilege_type || ' on ' || c.oid::regclass::text as grant
      from pg_class c join pg_namespace n on n.oid = c.relnamespace,
           aclexplode(c.relacl) a join pg_roles r on r.oid = a.grantee
      where r.rolname = any(${RUNTIME}) and a.privilege_type in ('TRUNCATE', 'TRIGGER', 'REFERENCES')
      order by 1`.execute(database.db);
    expect(dangerous.rows).toEqual([]);
    const roles = await sql<{ rolname: string; owner: boolean; superuser: boolean; createrole: boolean }>`
      select rolname, pg_has_role(rolname, 'sumda_owner', 'MEMBER') as owner, rolsuper as superuser,
             rolcreaterole or rolcreatedb or rolbypassrls or rolreplication as createrole
      from pg_roles where rolname = any(${RUNTIME}) order by rolname`.execute(database.db);
    expect(roles.rows).toEqual(
      [...RUNTIME].sort().map((rolname) => ({ rolname, owner: false, superuser: false, createrole: false })),
    );
  });

  it('roles nest operator < manager < admin; the worker is apart', async () => {
    const member = async (role: string, of: string) =>
      (await sql<{ m: boolean }>`select pg_has_role(${role}, ${of}, 'MEMBER') as m`.execute(database.db))
        .rows[0]!.m;
    expect(await member('sumda_admin', 'sumda_manager')).toBe(true);
    expect(await member('sumda_manager', 'sumda_operator')).toBe(true);
    expect(await member('sumda_operator', 'sumda_manager')).toBe(false);
    expect(await member('sumda_worker', 'sumda_operator')).toBe(false);
    expect(await member('sumda_admin', 'sumda_worker')).toBe(false);
  });
});
