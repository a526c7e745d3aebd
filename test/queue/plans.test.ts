/**
 * src/queue/plans.ts is written for one pg-boss schema version: an upgrade of pg-boss that changes
 * it fails here first, pointing at the one file of pg-boss SQL to read again. Every plan also runs
 * against the installed schema.
 */
import { expect, it } from 'vitest';
import { PGBOSS_SCHEMA_VERSION, QUERIES } from '../../src/queue/plans.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

it('the installed pg-boss schema is the version the plans are written for', async () => {
  const { rows } = await QUERIES.schemaVersion().execute(database.db);
  expect(rows).toEqual([{ version: PGBOSS_SCHEMA_VERSION }]);
});

it('every read plan runs against the installed schema', async () => {
  const names = ['analysis.run', 'analysis.run.dead'];
  const id = '00000000-0000-4000-8000-000000000000';
  for (const plan of [
    QUERIES.queueCounts(names),
    QUERIES.listJobs({ names, states: ['failed'], since: new Date(0), limit: 1 }),
    QUERIES.job(id, names),
    QUERIES.jobsById([id], names),
    QUERIES.jobsMatching('analysis.run', ['created'], null),
    QUERIES.deadLetterOrigins('analysis.run.dead', [id]),
    QUERIES.redrivenJobs(names, [id]),
    QUERIES.jobIdsIn('analysis.run', [id]),
    QUERIES.deadLetterCopies('analysis.run.dead', [id]),
    QUERIES.stateCounts('analysis.run', 'analysis.run.dead'),
    QUERIES.dueCount(names),
    QUERIES.waitingCount(names),
    QUERIES.queueCache(names),
  ]) {
    await expect(plan.execute(database.db)).resolves.toBeDefined();
  }
});
