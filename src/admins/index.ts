/**
 * Operator accounts (admin.admins). The first admin is bootstrapped explicitly and only while
 * there is none; after that, admins create operators. Accounts are disabled, never deleted, so
 * the audit trail keeps pointing at real people. The last active admin cannot be demoted or disabled.
 */
import { type Kysely, sql } from 'kysely';
import { type Operation, writeAudit } from '../audit/index.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError, PgCode, pgCode, UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { type Actor, ROLES, type Role } from './actor.ts';
import { hashPassword } from './password.ts';
import { mutate } from './permissions.ts';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function parseRole(text: string): Role {
  if (!(ROLES as readonly string[]).includes(text))
    throw new UsageError(`role ${quote(text)}: use ${ROLES.join(', ')}`);
  return text as Role;
}

export interface CreateAdminInput {
  email: string;
  role: Role;
  displayName?: string | null;
  password?: string | null;
}

async function insertAdmin(trx: Kysely<Database>, input: CreateAdminInput, createdBy: string | null) {
  if (!EMAIL.test(input.email))
    throw new UsageError(`${JSON.stringify(input.email)} is not an e-mail address`);
  try {
    return await trx
      .insertInto('admin.admins')
      .values({
        email: input.email.toLowerCase(),
        role: input.role,
        display_name: input.displayName ?? null,
        password_hash: input.password ? await hashPassword(input.password) : null,
        created_by: createdBy,
      })
      .returning(['id', 'email', 'role', 'created_at'])
      .executeTakeFirstOrThrow();
  } catch (error) {
    if (pgCode(error) === PgCode.uniqueViolation)
      throw new UsageError(`an operator account ${input.email} already exists`);
    throw error;
  }
}

/** The first admin. Allowed only while admin.admins has no admin at all; needs no actor. */
export async function bootstrapAdmin(
  db: Kysely<Database>,
  op: Operation,
  input: Omit<CreateAdminInput, 'role'>,
) {
  return db.transaction().execute(async (trx) => {
    // Serialise concurrent bootstraps: exactly one can win.
    await sql`lock table admin.admins in share row exclusive mode`.execute(trx);
    const existing = await trx
      .selectFrom('admin.admins')
      .select('email')
      .where('role', '=', 'admin')
      .executeTakeFirst();
    if (existing) {
      throw new UsageError('sumda already has an admin; --bootstrap only creates the first one', {
        hint: `ask an admin (e.g. ${existing.email}) to run \`sumda admin create\``,
      });
    }
    const row = await insertAdmin(trx, { ...input, role: 'admin' }, null);
    const actor: Actor = { id: row.id, email: row.email, role: 'admin' };
    await writeAudit(
      trx,
      { ...op, actor },
      {
        action: 'admin.bootstrap',
        targetType: 'admin',
        targetId: row.id,
        after: { email: row.email, role: 'admin', password: input.password ? 'set' : 'none' },
      },
    );
    return row;
  });
}

export async function createAdmin(db: Kysely<Database>, op: Operation, input: CreateAdminInput) {
  return mutate(db, op, 'admin.create', async (trx, op) => {
    const row = await insertAdmin(trx, input, op.actor.id);
    await writeAudit(trx, op, {
      action: 'admin.create',
      targetType: 'admin',
      targetId: row.id,
      after: { email: row.email, role: row.role, password: input.password ? 'set' : 'none' },
    });
    return row;
  });
}

export async function listAdmins(db: Kysely<Database>, options: { includeDisabled?: boolean } = {}) {
  let query = db
    .selectFrom('admin.admins as a')
    .leftJoin('admin.admins as c', 'c.id', 'a.created_by')
    .select([
      'a.id',
      'a.email',
      'a.role',
      'a.display_name',
      'a.disabled_at',
      'a.created_at',
      'c.email as created_by',
      sql<boolean>`a.password_hash is not null`.as('has_password'),
    ])
    .orderBy('a.created_at');
  if (!options.includeDisabled) query = query.where('a.disabled_at', 'is', null);
  return query.execute();
}

async function lockTarget(trx: Kysely<Database>, email: string) {
  const row = await trx
    .selectFrom('admin.admins')
    .select(['id', 'email', 'role', 'disabled_at'])
    .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`no operator account ${email}`);
  return row;
}

async function assertNotLastAdmin(trx: Kysely<Database>, targetId: string): Promise<void> {
  await sql`lock table admin.admins in share row exclusive mode`.execute(trx);
  const others = await trx
    .selectFrom('admin.admins')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'admin')
    .where('disabled_at', 'is', null)
    .where('id', '<>', targetId)
    .executeTakeFirstOrThrow();
  if (Number(others.n) === 0) throw new UsageError('refusing: this is the last active admin');
}

export async function setRole(
  db: Kysely<Database>,
  op: Operation,
  email: string,
  role: Role,
  reason: string | null,
) {
  return mutate(db, op, 'admin.set_role', async (trx) => {
    const target = await lockTarget(trx, email);
    if (target.role === role) return { ...target, changed: false };
    if (target.role === 'admin') await assertNotLastAdmin(trx, target.id);
    await trx.updateTable('admin.admins').set({ role }).where('id', '=', target.id).execute();
    await writeAudit(trx, op, {
      action: 'admin.set_role',
      targetType: 'admin',
      targetId: target.id,
      before: { role: target.role },
      after: { role },
      reason,
    });
    return { ...target, role, changed: true };
  });
}

/**
 * Maps an operator to a database login: when the CLI connects as `login`, the actor is this
 * operator whatever SUMDA_ACTOR/--as say. The login must exist and be a member of the group role of
 * the operator's role (sumda_operator/manager/admin), so the database enforces what the account may do.
 */
export async function grantLogin(
  db: Kysely<Database>,
  op: Operation,
  email: string,
  login: string,
  reason: string | null,
) {
  return mutate(db, op, 'admin.grant_login', async (trx) => {
    const target = await lockTarget(trx, email);
    const role = await sql<{ exists: boolean; member: boolean; owner: boolean; superuser: boolean }>`
      select true as exists, pg_has_role(r.rolname, ${`sumda_${target.role}`}, 'MEMBER') as member,
             pg_has_role(r.rolname, 'sumda_owner', 'MEMBER') as owner, r.rolsuper as superuser
      from pg_roles r where r.rolname = ${login}`.execute(trx);
    const info = role.rows[0];
    if (!info)
      throw new UsageError(`no database login ${login}`, {
        hint: `create it first: create role "${login}" login password '…' in role sumda_${target.role}`,
      });
    if (info.superuser || info.owner) {
      throw new UsageError(
        `${login} is a superuser or a member of sumda_owner: it can rewrite anything, so it cannot prove an operator`,
      );
    }
    if (!info.member) {
      throw new UsageError(
        `${login} is not a member of sumda_${target.role}, the group of ${target.email}'s role`,
        {
          hint: `grant sumda_${target.role} to "${login}"`,
        },
      );
    }
    const before = await trx
      .selectFrom('admin.admins')
      .select('db_login')
      .where('id', '=', target.id)
      .executeTakeFirstOrThrow();
    try {
      await trx.updateTable('admin.admins').set({ db_login: login }).where('id', '=', target.id).execute();
    } catch (error) {
      if (pgCode(error) === PgCode.uniqueViolation)
        throw new UsageError(`${login} is already mapped to another operator`);
      throw error;
    }
    await writeAudit(trx, op, {
      action: 'admin.grant_login',
      targetType: 'admin',
      targetId: target.id,
      before: { db_login: before.db_login },
      after: { db_login: login },
      reason,
    });
    return { email: target.email, role: target.role, login };
  });
}

export async function disableAdmin(
  db: Kysely<Database>,
  op: Operation,
  email: string,
  reason: string | null,
) {
  return mutate(db, op, 'admin.disable', async (trx, op) => {
    const target = await lockTarget(trx, email);
    if (target.disabled_at) throw new UsageError(`${email} is already disabled`);
    if (target.id === op.actor.id) throw new UsageError('refusing to disable your own account');
    if (target.role === 'admin') await assertNotLastAdmin(trx, target.id);
    const row = await trx
      .updateTable('admin.admins')
      .set({ disabled_at: sql<Date>`now()` })
      .where('id', '=', target.id)
      .returning('disabled_at')
      .executeTakeFirstOrThrow();
    await writeAudit(trx, op, {
      action: 'admin.disable',
      targetType: 'admin',
      targetId: target.id,
      before: { disabled_at: null },
      after: { disabled_at: row.disabled_at },
      reason,
    });
    return row;
  });
}
