/**
 * The floor of a read command, for bench/startup.ts: what any Node program that reads with the
 * libraries sumda chose (kysely over pg) must do — load them, connect, run the schema check's
 * query and `policy list`'s own (src/policy/list.ts), write the rows, close — and nothing else: no
 * command line, no configuration, no logger, no output module. bench/startup.ts bundles it as `npm run
 * build` bundles sumda and runs it as bin/sumda runs the bundle (bin/bundle.mjs: V8 code caches
 * written after the first run), beside `sumda policy list`, so the ratio between the two is what
 * sumda itself adds to a read.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../src/db/types.ts';
import { listPolicies } from '../src/policy/list.ts';

// A function, not top-level await: it is bundled to CommonJS and run as sumda's bundle is.
async function read(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
  });
  const applied = await sql<{
    name: string;
  }>`select name from public.sumda_migrations order by name`.execute(db);
  const rows = await listPolicies(db);
  process.stdout.write(`${applied.rows.length} migrations\n`);
  for (const r of rows) process.stdout.write(`${Object.values(r).join('  ')}\n`);
  await db.destroy();
}

read().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
