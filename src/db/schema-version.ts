/**
 * Is the database's schema the one this build of sumda was written for? A worker answers this
 * before it takes a job (and its readiness probe keeps answering it): migrations this build ships
 * but the database lacks mean the schema is *behind* (run `sumda db migrate` first); migrations the
 * database has applied but this build does not know mean it is *ahead* (a newer sumda migrated it —
 * start the newer worker instead). Either way the worker refuses with exit 3 rather than run jobs
 * against tables it does not understand.
 *
 * Workers already running keep running across a `db migrate`: migrations are additive (expand, then
 * contract in a later release once no old worker is left), which is what lets an old and a new worker
 * share one database during a rolling deploy. Only a *starting* worker checks.
 */
import { type Kysely, sql } from 'kysely';
import { ExitCode, PgCode, pgCode, SumdaError } from '../errors.ts';
import { listMigrationNames, MIGRATIONS_TABLE } from './migration-files.ts';

export interface SchemaVersion {
  /** The newest migration this build knows. */
  expected: string | null;
  /** The newest migration the database has applied. */
  applied: string | null;
  /** Shipped with this build, not applied to the database. */
  pending: string[];
  /** Applied to the database, unknown to this build. */
  unknown: string[];
}

/** The migration names this build ships (read once per process: the files do not change under it). */
let known: Promise<string[]> | undefined;
export function knownMigrations(): Promise<string[]> {
  known ??= listMigrationNames();
  return known;
}

// biome-ignore lint/suspicious/noExplicitAny: any database, before or after sumda's own tables exist
export async function schemaVersion(db: Kysely<any>): Promise<SchemaVersion> {
  const names = await knownMigrations();
  // One round trip: the table is read, and a database without it (never migrated, or without a
  // public schema at all) answers "undefined table". Not inside a transaction, which that error
  // would abort.
  const applied = await sql<{
    name: string;
  }>`select name from public.${sql.raw(MIGRATIONS_TABLE)} order by name`
    .execute(db)
    .then(
      ({ rows }) => rows.map((r) => r.name),
      (error: unknown) => {
        const code = pgCode(error);
        if (code === PgCode.undefinedTable || code === PgCode.invalidSchemaName) return [];
        throw error;
      },
    );
  const appliedSet = new Set(applied);
  const knownSet = new Set(names);
  return {
    expected: names.at(-1) ?? null,
    applied: applied.at(-1) ?? null,
    pending: names.filter((n) => !appliedSet.has(n)),
    unknown: applied.filter((n) => !knownSet.has(n)),
  };
}

export function isCurrent(version: SchemaVersion): boolean {
  return version.pending.length === 0 && version.unknown.length === 0;
}

/** The refusal a worker starts with when the schema is not its own: one readable line and a hint, exit 3. */
export class SchemaMismatchError extends SumdaError {
  readonly version: SchemaVersion;
  constructor(version: SchemaVersion) {
    const list = (names: string[]) =>
      names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
    const ahead = version.unknown.length > 0;
    super(
      ahead
        ? `the database schema is ahead of this sumda: it has ${list(version.unknown)} applied, which this version does not know`
        : `the database schema is behind this sumda: ${version.pending.length} migration(s) pending (${list(version.pending)})`,
      {
        exitCode: ExitCode.pending,
        hint: ahead
          ? 'start the worker of the newer sumda that migrated it (or roll the database back with that version’s `sumda db down`)'
          : 'run `sumda db migrate` (with this version) before starting its workers',
      },
    );
    this.version = version;
  }
}

/** Throws SchemaMismatchError (exit 3) unless the database's schema is exactly this build's. */
// biome-ignore lint/suspicious/noExplicitAny: see schemaVersion
export async function assertSchemaCurrent(db: Kysely<any>): Promise<SchemaVersion> {
  const version = await schemaVersion(db);
  if (!isCurrent(version)) throw new SchemaMismatchError(version);
  return version;
}
