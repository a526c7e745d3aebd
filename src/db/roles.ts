/**
 * The database roles that make the trust boundary (migrations/0014_roles.ts): which group roles
 * exist, which logins belong to them, what each may do to each table, and who this connection is.
 * Read-only; `sumda db roles` prints it.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './types.ts';

/** The group roles sumda creates, lowest privilege first among the operators. */
export const GROUP_ROLES = [
  'sumda_owner',
  'sumda_worker',
  'sumda_operator',
  'sumda_manager',
  'sumda_admin',
] as const;
export type GroupRole = (typeof GROUP_ROLES)[number];

export interface RoleInfo {
  role: GroupRole;
  exists: boolean;
  /** Group roles this one inherits from (operator < manager < admin). */
  inherits: string[];
  /** Logins (and other roles) that are members of it. */
  members: string[];
}

export interface TableGrant {
  table: string;
  role: string;
  /** Table-wide privileges, e.g. SELECT, INSERT. */
  privileges: string[];
  /** Column-level privileges, e.g. `SELECT (id, email)`. */
  columns: string[];
}

export interface SessionIdentity {
  user: string;
  superuser: boolean;
  /** A member of sumda_owner: may alter tables and disable triggers, so its actor is self-declared. */
  owner: boolean;
  /** The group roles this login belongs to. */
  groups: string[];
}

export interface RolesReport {
  session: SessionIdentity;
  roles: RoleInfo[];
  grants: TableGrant[];
}

export async function sessionIdentity(db: Kysely<Database>): Promise<SessionIdentity> {
  const res = await sql<{ user: string; superuser: boolean; owner: boolean; groups: string[] }>`
    select session_user::text as user, r.rolsuper as superuser,
           coalesce(to_regrole('sumda_owner') is not null and pg_has_role(session_user, 'sumda_owner', 'MEMBER'), false) as owner,
           case when r.rolsuper then '{}'::text[]
                else coalesce(array(select g from unnest(${[...GROUP_ROLES]}::text[]) g
                          where to_regrole(g) is not null and pg_has_role(session_user, g, 'MEMBER') order by g), '{}')
           end as groups
    from pg_roles r where r.rolname = session_user`.execute(db);
  return res.rows[0]!;
}

export async function describeRoles(db: Kysely<Database>): Promise<RolesReport> {
  const roles = await sql<{ role: GroupRole; exists: boolean; inherits: string[]; members: string[] }>`
    select g as role, r.oid is not null as exists,
           coalesce(array(select p.rolname::text from pg_auth_members m join pg_roles p on p.oid = m.roleid
                          where m.member = r.oid order by 1), '{}') as inherits,
           coalesce(array(select c.rolname::text from pg_auth_members m join pg_roles c on c.oid = m.member
                          where m.roleid = r.oid order by 1), '{}') as members
    from unnest(${[...GROUP_ROLES]}::text[]) with ordinality as t(g, i)
    left join pg_roles r on r.rolname = t.g
    order by t.i`.execute(db);
  const grants = await sql<{ table: string; role: string; privileges: string[]; columns: string[] }>`
    with tables as (
      select c.oid, n.nspname || '.' || c.relname as name, c.relacl, c.relowner
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and not c.relispartition
        and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
    ), whole as (
      select t.name, r.rolname::text as role, a.privilege_type as privilege
      from tables t, aclexplode(t.relacl) a join pg_roles r on r.oid = a.grantee
      where r.rolname = any(${[...GROUP_ROLES]}) and a.grantee <> t.relowner
    ), cols as (
      select t.name, r.rolname::text as role, a.privilege_type || ' (' || string_agg(att.attname, ', ' order by att.attnum) || ')' as privilege
      from tables t join pg_attribute att on att.attrelid = t.oid and att.attacl is not null,
           aclexplode(att.attacl) a join pg_roles r on r.oid = a.grantee
      where r.rolname = any(${[...GROUP_ROLES]})
      group by t.name, r.rolname, a.privilege_type
    )
    select name as table, role,
           coalesce(array(select w.privilege from whole w where w.name = k.name and w.role = k.role order by 1), '{}') as privileges,
           coalesce(array(select c.privilege from cols c where c.name = k.name and c.role = k.role order by 1), '{}') as columns
    from (select name, role from whole union select name, role from cols) k
    order by name, array_position(${[...GROUP_ROLES]}::text[], role)`.execute(db);
  return { session: await sessionIdentity(db), roles: roles.rows, grants: grants.rows };
}
