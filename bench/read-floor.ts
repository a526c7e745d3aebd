/**
 * The floor of a read command, for bench/startup.ts: what any Node program that reads with the
 * libraries sumda chose (kysely over pg) must do — load them, connect, run the schema check's
 * query and one `policy list`-shaped query, write the rows, close — and nothing else: no command
 * line, no configuration, no logger, no output module. bench/startup.ts bundles it as `npm run
 * build` bundles sumda (rolldown, minified, V8's compile cache on) and spawns it beside
 * `sumda policy list`, so the ratio between the two is what sumda itself adds to a read.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is not set');
// biome-ignore lint/suspicious/noExplicitAny: the floor has no generated types, on purpose
const db = new Kysely<any>({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
});
const applied = await sql<{ name: string }>`select name from public.sumda_migrations order by name`.execute(
  db,
);
const rows = await db
  .selectFrom('admin.ai_policy_versions as v')
  .leftJoin('admin.ai_policy_active as a', 'a.version_id', 'v.id')
  .leftJoin('admin.admins as ad', 'ad.id', 'a.activated_by')
  .select([
    'v.policy_name',
    'v.scope',
    'v.version',
    'v.created_at',
    'a.activated_at',
    'ad.email as activated_by',
  ])
  .orderBy('v.policy_name')
  .orderBy('v.scope')
  .orderBy('v.created_at')
  .execute();
process.stdout.write(`${applied.rows.length} migrations\n`);
for (const r of rows) process.stdout.write(`${Object.values(r).join('  ')}\n`);
await db.destroy();
