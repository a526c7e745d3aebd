/**
 * Issue 14, "errors a person can act on": a closed stdout is a normal end, a schema that is not there
 * (or behind) says so with exit 3, exit-1 errors are one line (the stack once, with --verbose), and a
 * huge argument is quoted as a short prefix. All through the real bin/sumda against real PostgreSQL.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliResult, runSumda, spawnSumda } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase, useTestDatabase } from '../support/db.ts';

const migrated = useTestDatabase();
const created: TestDatabase[] = [];
afterAll(async () => {
  for (const d of created) await d.drop();
});

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** Runs sumda with its stdout closed before it writes a byte (the reader went away, as `| head` does). */
function runWithClosedStdout(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnSumda(args, { env });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
    child.stdin.end();
  });
}

describe('a closed stdout', () => {
  it('ends config, policy list and user show normally: exit 0, no EPIPE', async () => {
    const env = { DATABASE_URL: migrated.url };
    const user = await query(migrated.url, `select gen_random_uuid() as id`);
    for (const args of [
      ['config'],
      ['config', '--json'],
      ['policy', 'list'],
      ['user', 'show', user.rows[0].id],
    ]) {
      const r = await runWithClosedStdout(args, env);
      expect(r.stderr, args.join(' ')).not.toMatch(/EPIPE|\n\s+at /);
      // user show of an unknown id is bad input (2); the others succeed.
      expect(r.code, args.join(' ')).toBe(args[0] === 'user' ? 2 : 0);
    }
  });
});

describe('a schema that is not there, or behind', () => {
  it('a never-migrated database: exit 3 and "run sumda db migrate" (reads, bootstrap, the worker)', async () => {
    const empty = await createTestDatabase({ empty: true });
    created.push(empty);
    const env = { DATABASE_URL: empty.url, SUMDA_ACTOR: 'lead@sumda.kr' };
    for (const args of [
      ['policy', 'list'],
      ['admin', 'create', 'lead@sumda.kr', '--bootstrap'],
      ['worker', '--once'],
      ['slip', 'list', '--json'],
    ]) {
      const r = await runSumda(args, { env });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toContain('error: this database is not migrated');
      expect(r.stderr).toContain('hint: run `sumda db migrate`');
      expect(r.stderr).not.toMatch(/does not exist|\n\s+at |"level"/);
    }
    // Nothing was created on the way: the check comes before any work.
    const tables = await query(
      empty.url,
      `select count(*)::int as n from pg_tables where schemaname <> 'pg_catalog' and schemaname <> 'information_schema'`,
    );
    expect(tables.rows[0].n).toBe(0);
    // The db commands themselves work on it.
    expect((await runSumda(['db', 'status', '--check'], { env })).code).toBe(3);
  });

  it('one pending migration: exit 3 naming it; the worker refuses to start', async () => {
    const behind = await createTestDatabase();
    created.push(behind);
    const last = await query(
      behind.url,
      `delete from public.sumda_migrations where name = (select max(name) from public.sumda_migrations) returning name`,
    );
    const name = last.rows[0].name as string;
    const env = { DATABASE_URL: behind.url };
    const r = await runSumda(['policy', 'list'], { env });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`1 migration(s) pending (${name})`);
    expect(r.stderr).toContain('run `sumda db migrate`');
    const w = await runSumda(['worker', '--once'], { env });
    expect(w.code).toBe(3);
    expect(w.stderr).toContain('pending');
    expect(w.stderr).not.toContain('"msg":"worker started"');
  });

  it('an up-to-date database passes the check', async () => {
    const r = await runSumda(['policy', 'list', '--json'], { env: { DATABASE_URL: migrated.url } });
    expect(r.code).toBe(0);
    expect(Array.isArray(JSON.parse(r.stdout))).toBe(true);
  });
});

describe('exit-1 errors', () => {
  const env = { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' };
  it('print the friendly line and the --verbose hint, and nothing else', async () => {
    const r = await runSumda(['policy', 'list'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'error: could not connect to PostgreSQL at 127.0.0.1:1 (connection refused)',
      'hint: run again with --verbose for details',
    ]);
  });

  it('with --verbose the stack appears once, and no JSON error log repeats it', async () => {
    const r = await runSumda(['policy', 'list', '--verbose'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.match(/ECONNREFUSED 127\.0\.0\.1:1\n/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain('"level":50');
  });
});

describe('a very long argument', () => {
  const long = 'x'.repeat(20_000);
  const cases: [string, string[]][] = [
    ['jobs show', ['jobs', 'show', long]],
    ['policy show', ['policy', 'show', long]],
    ['user show', ['user', 'show', long]],
    ['slip show', ['slip', 'show', long]],
    ['an unknown command (commander)', [`nosuch${long}`]],
    ['an unknown option (commander)', ['policy', 'list', `--${long}`]],
  ];
  it.each(cases)('%s: quoted as a short prefix with its length', async (_name, args) => {
    const r = await runSumda(args, { env: { DATABASE_URL: migrated.url } });
    expect(r.code).toBe(2);
    expect(r.stderr.length).toBeLessThan(600);
    expect(r.stderr).toMatch(/…"?\(2000\d chars\)/);
  });
});

describe('LOG_LEVEL', () => {
  it('config says what commands really default to, as the README does', async () => {
    const r = await runSumda(['config', '--json'], { env: { DATABASE_URL: migrated.url } });
    expect(JSON.parse(r.stdout).LOG_LEVEL).toBe('(default: warn; the worker: info)');
    const set = await runSumda(['config', '--json'], {
      env: { DATABASE_URL: migrated.url, LOG_LEVEL: 'debug' },
    });
    expect(JSON.parse(set.stdout).LOG_LEVEL).toBe('debug');
  });
});
