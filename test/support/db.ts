/**
 * Per-test-file databases cloned from the migrated template built in test/setup/global.ts.
 * `useTestDatabase()` registers beforeAll/afterAll hooks; the database is dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDb, type Db } from '../../src/db/connect.ts';
import { PgCode, pgCode } from '../../src/errors.ts';
import { withDatabase } from './server.ts';

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** A fresh database: a clone of the migrated template, or empty with `{ empty: true }`. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `sumda_t_${inject('runId')}_${randomBytes(4).toString('hex')}`;
  const template = options.empty ? 'template0' : inject('templateDb');
  for (let attempt = 0; ; attempt++) {
    try {
      await adminQuery(`create database "${name}" template "${template}"`);
      break;
    } catch (error) {
      // Two files cloning the same template at the same instant: try again shortly.
      if (pgCode(error) !== PgCode.objectInUse || attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, 50 + attempt * 50));
    }
  }
  return {
    name,
    url: withDatabase(inject('adminUrl'), name),
    drop: () => adminQuery(`drop database if exists "${name}" with (force)`),
  };
}

export interface UsedDatabase {
  readonly url: string;
  readonly db: Db;
}

/** Clones the template before the file's tests and drops it after; `db` is a Kysely over it. */
export function useTestDatabase(): UsedDatabase {
  let database: TestDatabase | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    database = await createTestDatabase();
    db = createDb(database.url, { max: 5, applicationName: 'sumda-test' });
  });
  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });
  return {
    get url() {
      if (!database) throw new Error('useTestDatabase: used outside a test');
      return database.url;
    },
    get db() {
      if (!db) throw new Error('useTestDatabase: used outside a test');
      return db;
    },
  };
}
