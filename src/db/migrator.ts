/**
 * Schema migrations, held to the bar of Flyway/graphile-migrate without their pitfalls:
 * - a session advisory lock on one direct connection, so two deploys racing each other serialise
 *   (the second waits, then finds nothing to do) — never a lock held through a pooler;
 * - one transaction per migration with a `lock_timeout`, and an explicit opt-out
 *   (`export const transactional = false`) for statements that cannot run inside one;
 * - a checksum of every applied file, so an edited migration is reported by name with both hashes;
 * - strict order: a pending file that sorts before an applied one is refused unless asked for;
 * - `down` refuses before touching anything when a step in its range has no `down`.
 *
 * Migration files live in `migrations/`, are named `NNNN_snake_case.ts`, take `Kysely<any>`
 * and import nothing from `src/` (they are frozen in time).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Kysely, PostgresDialect, sql } from 'kysely';
import type pg from 'pg';
import { DriftError, LockBusyError, MigrationFailedError, SumdaError, UsageError } from '../errors.ts';
import { retryCatalogRace } from './catalog-race.ts';
import { connectClient } from './connect.ts';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE, migrationFileNames } from './migration-files.ts';
/** pg_advisory_lock key of the migration lock; a fixed constant so every sumda version agrees on it. */
export const MIGRATION_LOCK_KEY = 0x5ad6_0a7e_1b2c_3d4en;

export interface MigrationModule {
  up(db: Kysely<any>): Promise<void>;
  down?(db: Kysely<any>): Promise<void>;
  /** Set to false for statements that cannot run in a transaction (CREATE INDEX CONCURRENTLY). */
  transactional?: boolean;
}

export interface MigrationFile {
  name: string;
  path: string;
  checksum: string;
  /**
   * Checksums of earlier texts of this file that databases may have recorded, each declared in the
   * file as `// sumda:earlier-checksum <sha256> <why>`: a file edited without changing what its up()
   * did (a corrected down()) says so, and is not drift. Anything else edited is.
   */
  earlierChecksums: string[];
}

const EARLIER_CHECKSUM = /^\/\/ sumda:earlier-checksum ([0-9a-f]{64})\b/gm;

export interface AppliedMigration {
  name: string;
  checksum: string;
  appliedAt: Date;
  executionMs: number;
  appliedBy: string;
}

export type MigrationState = 'applied' | 'pending' | 'changed' | 'missing' | 'out-of-order';

export interface MigrationStatus {
  name: string;
  state: MigrationState;
  /** Checksum of the file on disk, if there is one. */
  checksum: string | null;
  /** Checksum recorded when it was applied, if it was. */
  appliedChecksum: string | null;
  appliedAt: Date | null;
}

export type MigratorEvent =
  | { type: 'waiting-for-lock'; timeoutMs: number }
  | { type: 'locked' }
  | { type: 'start'; name: string; direction: 'up' | 'down' }
  | { type: 'done'; name: string; direction: 'up' | 'down'; ms: number };

export interface MigratorOptions {
  url: string;
  dir?: string;
  /** How long to wait for another runner's lock before giving up (exit 5). */
  lockWaitMs?: number;
  /** `lock_timeout` inside each migration, so a migration never queues behind live traffic for long. */
  statementLockTimeoutMs?: number;
  allowUnordered?: boolean;
  appliedBy?: string;
  onEvent?: (event: MigratorEvent) => void;
}

export function checksumOf(text: string): string {
  // CRLF and LF checkouts of the same file must agree (a classic Flyway complaint).
  return createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex');
}

/** The steps for an error line: listed when few, else a range (the line is bounded at 500 characters). */
function describeSteps(steps: readonly string[]): string {
  if (steps.length <= 3) return steps.join(', ');
  return `${steps.length} migrations (${steps[0]} back to ${steps[steps.length - 1]})`;
}

export async function listMigrationFiles(dir = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = await migrationFileNames(dir);
  return Promise.all(
    names.map(async (file) => {
      const path = join(dir, file);
      const text = await readFile(path, 'utf8');
      return {
        name: file.replace(/\.ts$/, ''),
        path,
        checksum: checksumOf(text),
        earlierChecksums: [...text.matchAll(EARLIER_CHECKSUM)].map((m) => m[1]!),
      };
    }),
  );
}

async function loadModule(file: MigrationFile): Promise<MigrationModule> {
  const mod = (await import(pathToFileURL(file.path).href)) as Partial<MigrationModule>;
  if (typeof mod.up !== 'function') throw new SumdaError(`migration ${file.name} exports no up()`);
  return mod as MigrationModule;
}

/** A Kysely bound to one pg client, so every statement runs in the session that holds the lock. */
function kyselyOn(client: pg.Client): Kysely<any> {
  const pool = {
    connect: async () => Object.assign(client, { release: () => {} }),
    end: async () => {},
  };
  return new Kysely<any>({ dialect: new PostgresDialect({ pool: pool as never }) });
}

/** The group role that owns sumda's objects (migrations/0014_roles.ts). */
export const OWNER_ROLE = 'sumda_owner';

/**
 * Runs what follows as the owner role when this database has one and the login may use it, so
 * every object a migration creates is owned by `sumda_owner`, never by whichever login migrated.
 * Before the roles migration (or on a database without it) the login itself runs the migration.
 */
async function actAsOwner(db: Kysely<any>, local: boolean): Promise<boolean> {
  const res = await sql<{ ok: boolean }>`
    select case when to_regrole(${OWNER_ROLE}) is null then false
           else has_database_privilege(${OWNER_ROLE}, current_database(), 'CREATE')
                and pg_has_role(session_user, ${OWNER_ROLE}, 'MEMBER') end as ok`.execute(db);
  if (!res.rows[0]?.ok) return false;
  await sql`select set_config('role', ${OWNER_ROLE}, ${local})`.execute(db);
  return true;
}

/**
 * Runs one migration step as the schema owner: in a transaction with a lock timeout, or — for a
 * migration that opts out (`transactional = false`) — on the session, resetting the role after.
 */
async function asOwner(
  db: Kysely<any>,
  mod: { transactional?: boolean },
  options: { statementLockTimeoutMs?: number },
  step: (executor: Kysely<any>) => Promise<void>,
): Promise<void> {
  if (mod.transactional === false) {
    const owner = await actAsOwner(db, false);
    try {
      await step(db);
    } finally {
      if (owner) await sql`reset role`.execute(db);
    }
    return;
  }
  await retryCatalogRace(() =>
    db.transaction().execute(async (trx) => {
      await sql`select set_config('lock_timeout', ${`${options.statementLockTimeoutMs ?? 10_000}ms`}, true)`.execute(
        trx,
      );
      await actAsOwner(trx, true);
      await step(trx);
    }),
  );
}

/** A failing migration names itself: the error says which file and which direction. */
async function runStep(name: string, direction: 'up' | 'down', fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const e = error as { message?: string; code?: string };
    throw new MigrationFailedError(
      `migration ${name} failed (${direction}): ${e?.message ?? String(error)}${e?.code ? ` [${e.code}]` : ''}`,
      { cause: error },
    );
  }
}

async function ensureTable(db: Kysely<any>): Promise<void> {
  await sql`
    create table if not exists public.${sql.raw(MIGRATIONS_TABLE)} (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now(),
      execution_ms integer not null,
      applied_by text not null
    )`.execute(db);
}

async function readApplied(db: Kysely<any>): Promise<AppliedMigration[]> {
  const exists = await sql<{
    t: string | null;
  }>`select to_regclass(${`public.${MIGRATIONS_TABLE}`}) as t`.execute(db);
  if (!exists.rows[0]?.t) return [];
  const rows = await sql<{
    name: string;
    checksum: string;
    applied_at: Date;
    execution_ms: number;
    applied_by: string;
  }>`select name, checksum, applied_at, execution_ms, applied_by from public.${sql.raw(MIGRATIONS_TABLE)} order by name`.execute(
    db,
  );
  return rows.rows.map((r) => ({
    name: r.name,
    checksum: r.checksum,
    appliedAt: r.applied_at,
    executionMs: r.execution_ms,
    appliedBy: r.applied_by,
  }));
}

export function computeStatus(files: MigrationFile[], applied: AppliedMigration[]): MigrationStatus[] {
  const byName = new Map(applied.map((a) => [a.name, a]));
  const lastApplied = applied
    .map((a) => a.name)
    .sort()
    .at(-1);
  const statuses: MigrationStatus[] = files.map((file) => {
    const done = byName.get(file.name);
    if (done) {
      return {
        name: file.name,
        state:
          done.checksum === file.checksum || file.earlierChecksums.includes(done.checksum)
            ? 'applied'
            : 'changed',
        checksum: file.checksum,
        appliedChecksum: done.checksum,
        appliedAt: done.appliedAt,
      };
    }
    return {
      name: file.name,
      state: lastApplied !== undefined && file.name < lastApplied ? 'out-of-order' : 'pending',
      checksum: file.checksum,
      appliedChecksum: null,
      appliedAt: null,
    };
  });
  const onDisk = new Set(files.map((f) => f.name));
  for (const a of applied) {
    if (!onDisk.has(a.name)) {
      statuses.push({
        name: a.name,
        state: 'missing',
        checksum: null,
        appliedChecksum: a.checksum,
        appliedAt: a.appliedAt,
      });
    }
  }
  return statuses.sort((a, b) => a.name.localeCompare(b.name));
}

/** Drift: every applied migration whose file changed or vanished, named with both hashes. */
export function driftProblems(statuses: MigrationStatus[]): string[] {
  return statuses.flatMap((s) => {
    if (s.state === 'changed') {
      return [
        `${s.name}: file changed since it was applied (applied ${s.appliedChecksum}, file ${s.checksum})`,
      ];
    }
    if (s.state === 'missing') return [`${s.name}: applied (${s.appliedChecksum}) but its file is gone`];
    return [];
  });
}

async function withClient<T>(
  url: string,
  fn: (client: pg.Client, db: Kysely<any>) => Promise<T>,
): Promise<T> {
  const client = await connectClient(url, 'sumda-migrate');
  const db = kyselyOn(client);
  try {
    return await fn(client, db);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Waits for the migration lock up to `waitMs`, polling, so the wait is bounded and reportable. */
async function acquireLock(client: pg.Client, options: MigratorOptions): Promise<void> {
  const waitMs = options.lockWaitMs ?? 60_000;
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    const res = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [
      MIGRATION_LOCK_KEY.toString(),
    ]);
    if (res.rows[0]?.ok) {
      options.onEvent?.({ type: 'locked' });
      return;
    }
    if (!announced) {
      options.onEvent?.({ type: 'waiting-for-lock', timeoutMs: waitMs });
      announced = true;
    }
    if (Date.now() >= deadline) {
      throw new LockBusyError(
        `another migration holds the lock; gave up after ${Math.round(waitMs / 1000)}s`,
        {
          hint: 'wait for the other deploy to finish, or raise --lock-timeout',
        },
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function releaseLock(client: pg.Client): Promise<void> {
  await client
    .query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY.toString()])
    .catch(() => {});
}

export async function migrationStatus(options: MigratorOptions): Promise<MigrationStatus[]> {
  const files = await listMigrationFiles(options.dir);
  return withClient(options.url, async (_client, db) => computeStatus(files, await readApplied(db)));
}

export interface MigrateResult {
  applied: string[];
  /** With dryRun: what would be applied. */
  pending: string[];
  dryRun: boolean;
}

function runnable(statuses: MigrationStatus[], allowUnordered: boolean): string[] {
  const drift = driftProblems(statuses);
  if (drift.length > 0) {
    throw new DriftError(`refusing to migrate over drift: ${drift.join('; ')}`, {
      hint: 'run `sumda db validate`; restore the applied files, never edit them',
    });
  }
  const unordered = statuses.filter((s) => s.state === 'out-of-order').map((s) => s.name);
  if (unordered.length > 0 && !allowUnordered) {
    throw new DriftError(`pending migrations sort before applied ones: ${unordered.join(', ')}`, {
      hint: 'rename them after the last applied migration, or pass --allow-unordered',
    });
  }
  return statuses.filter((s) => s.state === 'pending' || s.state === 'out-of-order').map((s) => s.name);
}

export async function migrate(options: MigratorOptions & { dryRun?: boolean }): Promise<MigrateResult> {
  const files = await listMigrationFiles(options.dir);
  const byName = new Map(files.map((f) => [f.name, f]));
  return withClient(options.url, async (client, db) => {
    if (options.dryRun) {
      const pending = runnable(computeStatus(files, await readApplied(db)), options.allowUnordered ?? false);
      return { applied: [], pending, dryRun: true };
    }
    await acquireLock(client, options);
    try {
      await ensureTable(db);
      // Read what is applied only after taking the lock: a runner we waited for may have done it all.
      const pending = runnable(computeStatus(files, await readApplied(db)), options.allowUnordered ?? false);
      const applied: string[] = [];
      for (const name of pending) {
        const file = byName.get(name)!;
        const mod = await loadModule(file);
        options.onEvent?.({ type: 'start', name, direction: 'up' });
        const started = performance.now();
        const record = async (executor: Kysely<any>) => {
          await sql`insert into public.${sql.raw(MIGRATIONS_TABLE)} (name, checksum, execution_ms, applied_by)
            values (${name}, ${file.checksum}, ${Math.round(performance.now() - started)}, ${options.appliedBy ?? 'unknown'})`.execute(
            executor,
          );
        };
        await asOwner(db, mod, options, async (executor) => {
          await runStep(name, 'up', () => mod.up(executor));
          await record(executor);
        });
        options.onEvent?.({ type: 'done', name, direction: 'up', ms: performance.now() - started });
        applied.push(name);
      }
      return { applied, pending: [], dryRun: false };
    } finally {
      await releaseLock(client);
    }
  });
}

export interface DownResult {
  reverted: string[];
  dryRun: boolean;
  /** What the steps would drop that holds data (found by running them in a transaction rolled back). */
  losses: DataLoss[];
}

/** A table, or a column of a table that stays, that the reverted steps drop while it holds rows. */
export interface DataLoss {
  table: string;
  column: string | null;
  /** Rows holding data, counted up to LOSS_COUNT_CAP (`>= cap` means at least that many). */
  rows: number;
}

/** The audit trail: `db down` never drops it (nor a column of it) while it holds rows, flag or not. */
export const AUDIT_TABLE = 'admin.audit_log';
const LOSS_COUNT_CAP = 100_000;

/** Thrown inside the planning transaction to roll it back. */
class RollbackPlan extends Error {}

/**
 * What the down steps would drop: runs them all in one transaction (as the real run would, as the
 * owner), compares the catalog before and after, rolls back, then counts the rows of every dropped
 * table and the non-null values of every dropped column. Under the migration lock, so nothing moves
 * between this plan and the run.
 */
async function planLosses(
  db: Kysely<any>,
  steps: string[],
  modules: Map<string, MigrationModule>,
): Promise<{ losses: DataLoss[]; dropped: string[] }> {
  const catalog = async (executor: Kysely<any>) =>
    (
      await sql<{ table: string; column: string }>`
        select c.oid::regclass::text as table, coalesce(a.attname::text, '') as column
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relkind in ('r', 'p') and not c.relispartition
          and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\_%'`.execute(
        executor,
      )
    ).rows;
  let before: { table: string; column: string }[] = [];
  let after: { table: string; column: string }[] = [];
  // Rolled back whatever happens, so a collision on a shared catalog row is simply tried again.
  await retryCatalogRace(async () => {
    try {
      await db.transaction().execute(async (trx) => {
        before = await catalog(trx);
        await actAsOwner(trx, true);
        for (const name of steps) await runStep(name, 'down', () => modules.get(name)!.down!(trx));
        after = await catalog(trx);
        throw new RollbackPlan();
      });
    } catch (error) {
      if (!(error instanceof RollbackPlan)) throw error;
    }
  });
  const remainingTables = new Set(after.map((r) => r.table));
  const remainingColumns = new Set(after.map((r) => `${r.table}|${r.column}`));
  const droppedTables = [...new Set(before.map((r) => r.table))].filter((t) => !remainingTables.has(t));
  const droppedColumns = before.filter(
    (r) => r.column && remainingTables.has(r.table) && !remainingColumns.has(`${r.table}|${r.column}`),
  );
  const losses: DataLoss[] = [];
  const count = async (from: string, where = sql``) =>
    (
      await sql<{
        n: number;
      }>`select count(*)::int as n from (select 1 from ${sql.raw(from)} ${where} limit ${LOSS_COUNT_CAP}) x`.execute(
        db,
      )
    ).rows[0]!.n;
  for (const table of droppedTables.sort()) {
    const rows = await count(table);
    if (rows > 0) losses.push({ table, column: null, rows });
  }
  for (const { table, column } of droppedColumns) {
    const rows = await count(table, sql`where ${sql.ref(column)} is not null`);
    if (rows > 0) losses.push({ table, column, rows });
  }
  return { losses, dropped: droppedTables };
}

function describeLoss(loss: DataLoss): string {
  const n = loss.rows >= LOSS_COUNT_CAP ? `${LOSS_COUNT_CAP}+` : String(loss.rows);
  return loss.column ? `${loss.table}.${loss.column} (${n} rows with values)` : `${loss.table} (${n} rows)`;
}

/** Reverts the last migration, or every one after `to` (which stays applied). */
export interface DownOptions extends MigratorOptions {
  to?: string;
  dryRun?: boolean;
  /** Drop tables and columns that hold rows (never the audit trail). */
  allowDataLoss?: boolean;
  /** Asked with the plan, under the lock, before anything is reverted; throws to abort. */
  confirm?: (plan: DownPlan) => Promise<void>;
  /** Records one step, inside the step's transaction, before its down() runs. */
  record?: (executor: Kysely<any>, step: string, plan: DownPlan) => Promise<void>;
}

export interface DownPlan {
  /** Migrations to revert, newest first. */
  steps: string[];
  /** Tables and columns dropped while holding rows. */
  losses: DataLoss[];
  /** Every table the steps drop, empty or not. */
  dropped: string[];
}

export async function migrateDown(options: DownOptions): Promise<DownResult> {
  const files = await listMigrationFiles(options.dir);
  const byName = new Map(files.map((f) => [f.name, f]));
  return withClient(options.url, async (client, db) => {
    await acquireLock(client, options);
    try {
      const applied = (await readApplied(db)).map((a) => a.name).sort();
      if (options.to !== undefined && !applied.includes(options.to)) {
        throw new UsageError(`--to ${options.to}: no applied migration has that name`, {
          hint: 'see `sumda db status` for the applied names',
        });
      }
      const steps = (
        options.to === undefined ? applied.slice(-1) : applied.slice(applied.indexOf(options.to) + 1)
      ).reverse();
      const drift = driftProblems(computeStatus(files, await readApplied(db))).filter((p) =>
        steps.some((s) => p.startsWith(`${s}:`)),
      );
      if (drift.length > 0) throw new DriftError(`refusing to revert over drift: ${drift.join('; ')}`);
      // Check every step before touching anything: half a rollback is worse than none.
      const modules = new Map<string, MigrationModule>();
      for (const name of steps) {
        const mod = await loadModule(byName.get(name)!);
        if (typeof mod.down !== 'function') {
          throw new UsageError(`migration ${name} has no down(); nothing was reverted`, {
            hint: 'write a new forward migration instead',
          });
        }
        modules.set(name, mod);
      }
      const { losses, dropped } =
        steps.length > 0 ? await planLosses(db, steps, modules) : { losses: [], dropped: [] };
      const plan: DownPlan = { steps, losses, dropped };
      if (options.dryRun) return { reverted: steps, dryRun: true, losses };
      const audit = losses.filter((l) => l.table === AUDIT_TABLE);
      if (audit.length > 0) {
        throw new UsageError(
          `refusing: reverting ${describeSteps(steps)} would drop ${audit.map(describeLoss).join(', ')}; the audit trail is never dropped while it holds rows, --allow-data-loss or not; nothing was reverted`,
          {
            hint: 'archive and verify it elsewhere first; a migration that needs it gone must move its rows forward',
          },
        );
      }
      if (losses.length > 0 && !options.allowDataLoss) {
        throw new UsageError(
          `refusing: reverting ${describeSteps(steps)} would drop data: ${losses.map(describeLoss).join(', ')}; nothing was reverted`,
          { hint: 'back it up first, then pass --allow-data-loss' },
        );
      }
      await options.confirm?.(plan);
      for (const name of steps) {
        const mod = modules.get(name)!;
        options.onEvent?.({ type: 'start', name, direction: 'down' });
        const started = performance.now();
        const forget = (executor: Kysely<any>) =>
          sql`delete from public.${sql.raw(MIGRATIONS_TABLE)} where name = ${name}`.execute(executor);
        await asOwner(db, mod, options, async (executor) => {
          await options.record?.(executor, name, plan);
          await runStep(name, 'down', () => mod.down!(executor));
          await forget(executor);
        });
        options.onEvent?.({ type: 'done', name, direction: 'down', ms: performance.now() - started });
      }
      return { reverted: steps, dryRun: false, losses };
    } finally {
      await releaseLock(client);
    }
  });
}

/** Every problem between the applied history and the files: drift, missing files, unordered pending. */
export async function validateMigrations(
  options: MigratorOptions,
): Promise<{ ok: boolean; problems: string[] }> {
  const statuses = await migrationStatus(options);
  const problems = driftProblems(statuses);
  for (const s of statuses) {
    if (s.state === 'out-of-order') problems.push(`${s.name}: pending but sorts before an applied migration`);
  }
  return { ok: problems.length === 0, problems };
}
