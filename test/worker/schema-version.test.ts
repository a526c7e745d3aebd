/**
 * Rolling deploys: a worker starts only on the schema it was built for. A database migrated by a
 * newer sumda (a migration this build does not know) or not yet migrated (a migration of this build
 * missing) is refused with one readable line, a hint, and exit 3 — before any job is taken.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { isCurrent, knownMigrations, schemaVersion } from '../../src/db/schema-version.ts';
import { testKeys } from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const FUTURE = '9999_from_a_newer_sumda';

afterEach(async () => {
  await sql`delete from public.sumda_migrations where name = ${FUTURE}`.execute(database.db);
});

function startWorker() {
  return runSumda(['worker', '--once', '--queues', 'analysis.run'], {
    env: { DATABASE_URL: database.url, SUMDA_ENCRYPTION_KEYS: testKeys().env, SUMDA_ANALYZER: 'local' },
  });
}

async function jobCount(): Promise<number> {
  const r = await sql<{ n: number }>`select count(*)::int as n from pgboss.job`.execute(database.db);
  return r.rows[0]!.n;
}

describe('schema version', () => {
  it('the migrated test database is current', async () => {
    const version = await schemaVersion(database.db);
    expect(isCurrent(version)).toBe(true);
    expect(version.applied).toBe((await knownMigrations()).at(-1));
  });

  it('a schema ahead of this build (a newer sumda migrated it) is refused, exit 3', async () => {
    await sql`insert into public.sumda_migrations (name, checksum, execution_ms, applied_by)
              values (${FUTURE}, 'x', 1, 'test')`.execute(database.db);
    const before = await jobCount();
    const result = await startWorker();
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain(
      `error: the database schema is ahead of this sumda: it has ${FUTURE} applied, which this version does not know`,
    );
    expect(result.stderr).toContain('hint: start the worker of the newer sumda');
    // Refused before pg-boss started: not even the schedules' ticks were sent.
    expect(await jobCount()).toBe(before);
  });

  it('a schema behind this build (migrations pending) is refused, exit 3', async () => {
    const last = (await knownMigrations()).at(-1)!;
    const row = await sql<Record<string, unknown>>`
      delete from public.sumda_migrations where name = ${last} returning *`.execute(database.db);
    try {
      const result = await startWorker();
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr).toContain(
        `error: the database schema is behind this sumda: 1 migration(s) pending (${last})`,
      );
      expect(result.stderr).toContain('hint: run `sumda db migrate`');
    } finally {
      const r = row.rows[0]!;
      await sql`insert into public.sumda_migrations (name, checksum, applied_at, execution_ms, applied_by)
                values (${r.name}, ${r.checksum}, ${r.applied_at}, ${r.execution_ms}, ${r.applied_by})`.execute(
        database.db,
      );
    }
  });
});
