/**
 * Login roles for the database-boundary tests. Roles are cluster-wide, so each one gets a name
 * unique to this run; `dropLogins` removes them (after closing their connections) in afterAll.
 * The test server trusts local connections, so a login needs no password.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createDb, type Db } from '../../src/db/connect.ts';

export type GroupRole = 'sumda_owner' | 'sumda_worker' | 'sumda_operator' | 'sumda_manager' | 'sumda_admin';

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: inject('adminUrl') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Creates a login that is a member of `group` and returns its name. */
export async function createLogin(group: GroupRole, label = group.replace('sumda_', '')): Promise<string> {
  const name = `sumda_t_${label}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`create role "${name}" login in role ${group}`));
  return name;
}

/** The database URL with another user (the same database). */
export function urlAs(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = '';
  return u.toString();
}

export function dbAs(url: string, user: string): Db {
  return createDb(urlAs(url, user), { max: 2, applicationName: 'sumda-test-login' });
}

export async function dropLogins(names: string[]): Promise<void> {
  if (names.length === 0) return;
  await admin(async (c) => {
    await c.query('select pg_terminate_backend(pid) from pg_stat_activity where usename = any($1)', [names]);
    for (const name of names) await c.query(`drop role if exists "${name}"`);
  });
}
