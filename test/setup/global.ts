/**
 * Once per test run: find a PostgreSQL, build a migrated template database, and hand its name to
 * every test file, which clones it (CREATE DATABASE … TEMPLATE …, tens of milliseconds).
 */
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/db/migrator.ts';
import { ensureQueueSchema } from '../../src/queue/boss.ts';
import { findTestServer, withDatabase } from '../support/server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
    runId: string;
  }
}

export default async function setup(project: TestProject) {
  const server = await findTestServer();
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const templateDb = `sumda_tpl_${runId}`;
  const admin = new pg.Client({ connectionString: server.adminUrl });
  await admin.connect();
  // Leftovers of runs that were killed before their teardown.
  const stale = await admin.query<{ datname: string }>(
    `select datname from pg_database where datname like 'sumda\\_t\\_%' or datname like 'sumda\\_tpl\\_%'`,
  );
  for (const { datname } of stale.rows) {
    const pid = Number(datname.split('_')[2]);
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) {
      await admin.query(`drop database if exists "${datname}" with (force)`).catch(() => {});
    }
  }
  await admin.query(`create database "${templateDb}"`);
  await migrate({ url: withDatabase(server.adminUrl, templateDb), appliedBy: 'test-setup' });
  await ensureQueueSchema(withDatabase(server.adminUrl, templateDb));
  await admin.end();

  project.provide('adminUrl', server.adminUrl);
  project.provide('templateDb', templateDb);
  project.provide('runId', runId);
  console.log(`test database server: ${server.kind}; template ${templateDb}`);

  return async () => {
    const client = new pg.Client({ connectionString: server.adminUrl });
    await client.connect();
    const mine = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like $1 or datname = $2`,
      [`sumda\\_t\\_${runId}\\_%`, templateDb],
    );
    for (const { datname } of mine.rows) {
      await client.query(`drop database if exists "${datname}" with (force)`).catch(() => {});
    }
    await client.end();
    await server.release();
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
