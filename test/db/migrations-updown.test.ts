/**
 * Every migration's down() exactly undoes its up(): on an empty database, apply everything, revert
 * one step at a time to zero (checking after each step that the step's own objects are gone and
 * nobody else's), then apply everything again and compare the whole catalog with the first time.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MIGRATIONS_TABLE } from '../../src/db/migration-files.ts';
import { listMigrationFiles, migrate, migrateDown } from '../../src/db/migrator.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

/** What each migration creates: tables by qualified name, functions by qualified name. */
const CREATES: Record<string, { tables: string[]; functions: string[] }> = {
  '0001_schemas': { tables: [], functions: [] },
  '0002_functions': { tables: [], functions: ['public.set_updated_at', 'admin.refuse_change'] },
  '0003_admins_and_audit': {
    tables: ['admin.admins', 'admin.audit_log'],
    functions: ['admin.audit_row_hash', 'admin.audit_log_chain'],
  },
  '0004_users_and_diaries': {
    tables: [
      'public.users',
      'public.diary_entries',
      'public.analysis_results',
      'public.reports',
      'admin.user_status_logs',
      'admin.content_moderation_logs',
    ],
    functions: [],
  },
  '0005_billing': { tables: ['public.plans', 'public.subscriptions', 'public.payments'], functions: [] },
  '0006_engagement': {
    tables: [
      'admin.events',
      'public.announcements',
      'public.notifications',
      'public.event_attendance',
      'public.user_points_ledger',
    ],
    functions: ['public.user_points_ledger_apply', 'public.user_points_ledger_guard_delete'],
  },
  '0007_support_and_logs': {
    tables: [
      'public.support_faq',
      'admin.support_inquiries',
      'admin.support_responses',
      'admin.api_logs',
      'admin.error_logs',
      'admin.login_logs',
    ],
    functions: [],
  },
  '0008_slips_and_policies': {
    tables: [
      'admin.slip_conditions',
      'admin.ai_policy_versions',
      'admin.ai_policy_active',
      'admin.ai_overrides',
      'admin.prompt_registry',
    ],
    functions: [],
  },
  // Its tables live in the sumda schema (worker bookkeeping), outside the service catalog.
  '0009_worker_state': { tables: [], functions: [] },
  '0010_notifications_per_recipient': { tables: [], functions: [] },
  '0011_billing_renewals': {
    tables: [
      'public.payment_attempts',
      'public.subscription_history',
      'public.billing_consents',
      'public.payment_refunds',
    ],
    functions: ['public.payments_detach_user', 'public.payments_guard_retention'],
  },
  // Tables and functions in the sumda schema (report bookkeeping); its triggers sit on public tables.
  '0012_reports': { tables: [], functions: [] },
  '0013_service_operations': {
    tables: ['admin.event_rewards'],
    functions: ['admin.support_responses_first_response'],
  },
  // Roles, ownership and grants; the moderation and status logs' append-only triggers.
  '0014_roles': { tables: [], functions: ['admin.guard_history_delete'] },
  '0015_slip_released_by': { tables: [], functions: [] },
  // Its tables live in the sumda schema (what the analysis scan and key rotations skip).
  '0016_failure_state': { tables: [], functions: [] },
  // The audit log's MAC, its key id and how the actor was established.
  '0017_audit_mac': { tables: [], functions: [] },
  '0018_service_grants': { tables: [], functions: [] },
  // admins.db_login: the database login an operator connects as.
  '0019_operator_logins': { tables: [], functions: [] },
  // Operator tokens for shared logins, checked by the database when an audit row names an operator.
  '0020_operator_tokens': {
    tables: ['admin.operator_tokens'],
    functions: [
      'admin.audit_log_actor_proof',
      'admin.issue_operator_token',
      'admin.revoke_operator_token',
      'admin.session_is_privileged',
      'admin.session_operator',
    ],
  },
  // sumda.mark_reports_stale upserts in a fixed order (no deadlocks between concurrent markers).
  '0021_report_stale_lock_order': { tables: [], functions: [] },
  // Columns on sumda.analysis_failures: what the last failed call used (analysis stats).
  '0022_analysis_failure_spend': { tables: [], functions: [] },
  // Its table lives in the sumda schema (a key check value per encryption key id).
  '0023_key_checks': { tables: [], functions: [] },
  // Grants: a manager's inline report backfill writes reports.
  '0024_report_backfill_grants': { tables: [], functions: [] },
  // A column on sumda.report_backfills: the last period of the window a run is building.
  '0025_report_backfill_span': { tables: [], functions: [] },
};

const SNAPSHOT_QUERIES: Record<string, string> = {
  schemas: `select nspname as v from pg_namespace where nspname in ('public', 'admin')`,
  tables: `select n.nspname || '.' || c.relname || ' ' || c.relkind::text ||
                  coalesce(' -- ' || obj_description(c.oid, 'pg_class'), '') as v
           from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname in ('public', 'admin') and c.relkind in ('r', 'p', 'v', 'm', 'S')`,
  columns: `select table_schema || '.' || table_name || '.' || column_name || ' ' || data_type || ' ' ||
                   udt_name || ' null=' || is_nullable || ' default=' || coalesce(column_default, '-') ||
                   ' identity=' || coalesce(identity_generation, '-') || ' generated=' ||
                   coalesce(generation_expression, '-') || ' #' || ordinal_position as v
            from information_schema.columns where table_schema in ('public', 'admin')`,
  constraints: `select n.nspname || '.' || r.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid) ||
                       coalesce(' -- ' || obj_description(con.oid, 'pg_constraint'), '') as v
                from pg_constraint con join pg_class r on r.oid = con.conrelid
                join pg_namespace n on n.oid = r.relnamespace where n.nspname in ('public', 'admin')`,
  indexes: `select schemaname || '.' || indexname || ' ' || indexdef as v
            from pg_indexes where schemaname in ('public', 'admin')`,
  triggers: `select pg_get_triggerdef(t.oid) as v from pg_trigger t
             join pg_class r on r.oid = t.tgrelid join pg_namespace n on n.oid = r.relnamespace
             where n.nspname in ('public', 'admin') and not t.tgisinternal`,
  // Who owns each table and who may do what to it: down and up again must restore the same grants.
  acl: `select c.oid::regclass::text || ' ' || pg_get_userbyid(c.relowner) || ' ' || coalesce(c.relacl::text, '-') as v
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('public', 'admin', 'sumda') and c.relkind in ('r', 'p', 'v', 'm', 'S')`,
  functions: `select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' ||
                     md5(pg_get_functiondef(p.oid)) || coalesce(' -- ' || obj_description(p.oid, 'pg_proc'), '') as v
              from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('public', 'admin')`,
};

type Snapshot = Record<string, string[]>;

let database: TestDatabase;
let client: pg.Client;

async function snapshot(): Promise<Snapshot> {
  const result: Snapshot = {};
  for (const [name, text] of Object.entries(SNAPSHOT_QUERIES)) {
    const rows = await client.query<{ v: string }>(text);
    result[name] = rows.rows.map((r) => r.v).sort();
  }
  return result;
}

async function tables(): Promise<string[]> {
  const rows = await client.query<{ t: string }>(
    `select table_schema || '.' || table_name as t from information_schema.tables
     where table_schema in ('public', 'admin') order by 1`,
  );
  return rows.rows.map((r) => r.t);
}

async function functions(): Promise<string[]> {
  const rows = await client.query<{ f: string }>(
    `select n.nspname || '.' || p.proname as f from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'admin') order by 1`,
  );
  return rows.rows.map((r) => r.f);
}

beforeAll(async () => {
  database = await createTestDatabase({ empty: true });
  client = new pg.Client({ connectionString: database.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await database?.drop();
});

it('the expectations name every migration file', async () => {
  expect((await listMigrationFiles()).map((f) => f.name)).toEqual(Object.keys(CREATES));
});

it('migrates up, down one step at a time to zero, and up again to the identical catalog', async () => {
  const options = { url: database.url, appliedBy: 'migrations-updown-test' };
  const up = await migrate(options);
  expect(up.applied).toEqual(Object.keys(CREATES));
  const first = await snapshot();
  const allTables = Object.values(CREATES).flatMap((c) => c.tables);
  expect(await tables()).toEqual([`public.${MIGRATIONS_TABLE}`, ...allTables].sort());
  expect(first.tables!.filter((t) => / r( |$)/.test(t)).length).toBe(33 + 1);

  const names = Object.keys(CREATES).reverse();
  for (const [i, name] of names.entries()) {
    const before = await tables();
    const result = await migrateDown(options);
    expect(result.reverted).toEqual([name]);
    const after = await tables();
    const { tables: created, functions: createdFunctions } = CREATES[name]!;
    // This step's tables are gone; everything else is still there.
    expect(after).toEqual(before.filter((t) => !created.includes(t)));
    if (created.length > 0) expect(after.length).toBeLessThan(before.length);
    const remainingFunctions = await functions();
    for (const f of createdFunctions) expect(remainingFunctions).not.toContain(f);
    const stillApplied = names.slice(i + 1);
    const expectedFunctions = stillApplied.flatMap((n) => CREATES[n]!.functions).sort();
    expect(remainingFunctions).toEqual(expectedFunctions);
    const applied = await client.query<{ name: string }>(
      `select name from public.${MIGRATIONS_TABLE} order by name`,
    );
    expect(applied.rows.map((r) => r.name)).toEqual([...stillApplied].reverse());
  }

  // At zero: only the bookkeeping table in public, and no admin schema at all.
  expect(await tables()).toEqual([`public.${MIGRATIONS_TABLE}`]);
  const admin = await client.query(`select 1 from pg_namespace where nspname = 'admin'`);
  expect(admin.rowCount).toBe(0);
  const leftovers = await snapshot();
  expect(leftovers.functions).toEqual([]);
  expect(leftovers.triggers).toEqual([]);
  expect(leftovers.indexes).toEqual([`public.${MIGRATIONS_TABLE}_pkey ${indexDefOfMigrationsPk()}`]);

  const again = await migrate(options);
  expect(again.applied).toEqual(Object.keys(CREATES));
  expect(await snapshot()).toEqual(first);
});

function indexDefOfMigrationsPk(): string {
  return `CREATE UNIQUE INDEX ${MIGRATIONS_TABLE}_pkey ON public.${MIGRATIONS_TABLE} USING btree (name)`;
}

it('reverting the roles forgets them in this database only: another database of the cluster keeps its grants', async () => {
  const here = await createTestDatabase({ empty: true });
  const other = await createTestDatabase({ empty: true });
  const c = new pg.Client({ connectionString: here.url });
  await c.connect();
  try {
    await migrate({ url: here.url });
    await migrate({ url: other.url });
    const otherName = new URL(other.url).pathname.slice(1);
    const otherAcl = async () =>
      (
        await c.query<{ acl: string }>(`select datacl::text as acl from pg_database where datname = $1`, [
          otherName,
        ])
      ).rows[0]!.acl;
    const before = await otherAcl();
    expect(before).toContain('sumda_worker=c/');
    const reverted = (await migrateDown({ url: here.url, to: '0013_service_operations' })).reverted;
    expect(reverted.at(-1)).toBe('0014_roles');
    expect(await otherAcl()).toBe(before);
    // Nothing here is owned by, granted to or defaulted for a sumda role any more.
    const held = await c.query(
      `select classid::regclass::text, objid, deptype from pg_shdepend s join pg_roles r on r.oid = s.refobjid
       where r.rolname like 'sumda\\_%' and (s.dbid = (select oid from pg_database where datname = current_database())
             or (s.classid = 'pg_database'::regclass and s.objid = (select oid from pg_database where datname = current_database())))`,
    );
    expect(held.rows).toEqual([]);
  } finally {
    await c.end();
    await here.drop();
    await other.drop();
  }
});
