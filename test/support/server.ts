/**
 * Which PostgreSQL the tests use: TEST_DATABASE_URL, else DATABASE_URL, else a server on
 * 127.0.0.1:5432 if one answers, else the embedded server in a folder of its own.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { acquireEmbedded } from '../../src/db/embedded.ts';

export interface TestServer {
  /** URL of the maintenance database, for CREATE/DROP DATABASE. */
  adminUrl: string;
  kind: 'configured' | 'local' | 'embedded';
  release(): Promise<void>;
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function findTestServer(): Promise<TestServer> {
  const configured = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (configured) {
    return { adminUrl: withDatabase(configured, 'postgres'), kind: 'configured', release: async () => {} };
  }
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  // SUMDA_TEST_EMBEDDED=1 skips the local server, to exercise the embedded fallback on purpose.
  if (!process.env.SUMDA_TEST_EMBEDDED && (await answers(local)))
    return { adminUrl: local, kind: 'local', release: async () => {} };
  const server = await acquireEmbedded(join(tmpdir(), 'sumda-test-embedded'), pino({ level: 'warn' }));
  return { adminUrl: server.adminUrl, kind: 'embedded', release: server.release };
}
