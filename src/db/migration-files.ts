/**
 * Where the migrations are and what they are called: all a schema check needs, apart from the
 * migrator (which every command that touches the database would otherwise load to learn the names).
 */
import { fileURLToPath } from 'node:url';

// node:fs's own object (a synchronous listing of one folder): neither an ES import of node:fs (a
// namespace of every export) nor node:fs/promises, which a read command would load for this alone.
const { readdirSync } = process.getBuiltinModule('node:fs');

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
export const MIGRATIONS_TABLE = 'sumda_migrations';
export const MIGRATION_FILE_NAME = /^\d{4}_[a-z0-9_]+\.ts$/;

/** The migration files in `dir`, in order (file names, `.ts` included). */
export async function migrationFileNames(dir: string = MIGRATIONS_DIR): Promise<string[]> {
  return readdirSync(dir)
    .filter((n) => MIGRATION_FILE_NAME.test(n))
    .sort();
}

/** The migration files' names in order, without reading them (what a schema check needs). */
export async function listMigrationNames(dir: string = MIGRATIONS_DIR): Promise<string[]> {
  return (await migrationFileNames(dir)).map((file) => file.replace(/\.ts$/, ''));
}
