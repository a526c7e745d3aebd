/**
 * Connections: one place that turns a URL into a pg Pool or a Kysely instance, with the type
 * parsers every query relies on (bigint → number, date → 'YYYY-MM-DD', interval → text).
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './types.ts';

export type Db = Kysely<Database>;

const OID = { int8: 20, numeric: 1700, date: 1082, interval: 1186 } as const;

/** Type parsers for this project's columns; a per-pool override, never pg's global registry. */
function typeParsers(): pg.CustomTypesConfig {
  const overrides = new Map<number, (value: string) => unknown>([
    // Money is integer minor units and counts are bigint; both stay far below 2^53.
    [OID.int8, (v) => toSafeNumber(v)],
    [OID.numeric, (v) => Number(v)],
    // A calendar day is a day, not an instant: never let it become a Date at UTC midnight.
    [OID.date, (v) => v],
    [OID.interval, (v) => v],
  ]);
  return {
    getTypeParser: ((oid: number, format?: string) =>
      overrides.get(oid) ??
      pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
  };
}

function toSafeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${value} does not fit a JavaScript number`);
  return n;
}

export interface PoolOptions {
  max?: number;
  applicationName?: string;
  /** Milliseconds; applied to every statement of this pool. */
  statementTimeoutMs?: number;
  /**
   * The operator token proving who uses a shared login (src/admins/tokens.ts), read when a
   * connection is handed out: it may become known after the pool opened (a prompt). Each connection
   * gets it once, as the session setting the database checks, before its first query of the caller.
   */
  operatorToken?: () => string | undefined;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'sumda',
    types: typeParsers(),
    connectionTimeoutMillis: 10_000,
    ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // An idle client that loses its server (restart, failover) must not crash the process.
  pool.on('error', () => {});
  const tokenOf = options.operatorToken;
  if (tokenOf) {
    const applied = new WeakMap<pg.PoolClient, string>();
    pool.on('acquire', (client) => {
      const token = tokenOf();
      if (!token || applied.get(client) === token) return;
      applied.set(client, token);
      // Queued on the client before the caller's first query (a client runs its queries in order).
      // A failure here surfaces as the caller's query being refused as unproven, never silently.
      client
        .query("select set_config('sumda.operator_token', $1, false)", [token])
        .catch(() => applied.delete(client));
    });
  }
  return pool;
}

export function createDb(url: string, options: PoolOptions = {}): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPool(url, options) }) });
}

/** A single client for work that needs one session (advisory locks, LISTEN). */
export async function connectClient(url: string, applicationName = 'sumda'): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    application_name: applicationName,
    types: typeParsers(),
    connectionTimeoutMillis: 10_000,
  });
  await client.connect();
  client.on('error', () => {});
  return client;
}
