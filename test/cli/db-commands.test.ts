/**
 * The exit codes of the real bin/sumda: each code (0 to 5) is proven once through the subprocess
 * (`runSumda`); the steps around it — setting a database up, checking the state after — run the same
 * command line in-process (`sumda`), which is what CI time allows for ~90 test files.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATION_LOCK_KEY } from '../../src/db/migrator.ts';
import { runSumda } from '../support/cli.ts';
import { runSumdaInProcess as sumda } from '../support/cli-inprocess.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const created: TestDatabase[] = [];
afterAll(async () => {
  for (const d of created) await d.drop();
});
async function emptyDb() {
  const d = await createTestDatabase({ empty: true });
  created.push(d);
  return d;
}
async function query(url: string, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

describe('exit codes of bad input', () => {
  it('unknown command and unknown option: 2 with a suggestion', async () => {
    const a = await runSumda(['db', 'migrat']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('Did you mean migrate?');
    const b = await sumda(['db', 'status', '--chek']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain("unknown option '--chek'");
  });

  it('invalid configuration: 2, every problem on one line, no stack', async () => {
    const r = await runSumda(['db', 'status'], { env: { LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('DATABASE_URL must start with postgres://');
    expect(r.stderr).toContain('LOG_LEVEL must be one of');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unreachable database: 1 with one clear line and a hint', async () => {
    const r = await runSumda(['db', 'status'], {
      env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: could not connect to PostgreSQL at 127.0.0.1:1 (connection refused)');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('config shows what is in effect with every secret redacted', async () => {
    const r = await sumda(['config', '--json'], {
      env: {
        DATABASE_URL: 'postgres://u:hunter2@db.example/sumda',
        OPENAI_API_KEY: 'sk-secret-1',
        LOG_LEVEL: 'debug',
      },
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      DATABASE_URL: 'postgres://u:*****@db.example/sumda',
      OPENAI_API_KEY: '*****',
      LOG_LEVEL: 'debug',
    });
    expect(r.stdout + r.stderr).not.toContain('hunter2');
    expect(r.stdout + r.stderr).not.toContain('sk-secret-1');
  });

  it('--help and --version: 0', async () => {
    expect((await runSumda(['--help'])).code).toBe(0);
    expect((await sumda(['db', 'migrate', '--help'])).stdout).toContain('Examples:');
    expect((await sumda(['--version'])).code).toBe(0);
  });
});

describe('sumda db', () => {
  it('status --check exits 3 while migrations are pending and 0 after migrate', async () => {
    const db = await emptyDb();
    const env = { DATABASE_URL: db.url };
    const pending = await runSumda(['db', 'status', '--check', '--json'], { env });
    expect(pending.code).toBe(3);
    expect(JSON.parse(pending.stdout).pending).toBeGreaterThan(0);
    const dry = await sumda(['db', 'migrate', '--dry-run'], { env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('would apply');
    expect((await sumda(['db', 'status', '--check'], { env })).code).toBe(3);
    expect((await sumda(['db', 'migrate'], { env })).code).toBe(0);
    expect((await sumda(['db', 'status', '--check'], { env })).code).toBe(0);
  });

  it('two migrate runs started together both exit 0; one applies, the other finds nothing to do', async () => {
    const db = await emptyDb();
    const env = { DATABASE_URL: db.url, LOG_LEVEL: 'info' };
    const [a, b] = await Promise.all([
      runSumda(['db', 'migrate', '--json'], { env }),
      runSumda(['db', 'migrate', '--json'], { env }),
    ]);
    expect([a.code, b.code], `${a.stderr}\n${b.stderr}`).toEqual([0, 0]);
    const applied = [JSON.parse(a.stdout).applied.length, JSON.parse(b.stdout).applied.length].sort();
    const total = (await query(db.url, 'select count(*)::int as n from sumda_migrations')).rows[0].n;
    expect(applied).toEqual([0, total]);
  });

  it('validate exits 4 naming an edited migration with both hashes', async () => {
    const db = await emptyDb();
    const env = { DATABASE_URL: db.url };
    await sumda(['db', 'migrate'], { env });
    const { rows } = await query(db.url, 'select name, checksum from sumda_migrations order by name limit 1');
    await query(db.url, `update sumda_migrations set checksum = 'deadbeef' where name = $1`, [rows[0].name]);
    const r = await runSumda(['db', 'validate'], { env });
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(
      `${rows[0].name}: file changed since it was applied (applied deadbeef, file ${rows[0].checksum})`,
    );
    expect((await sumda(['db', 'status', '--check'], { env })).code).toBe(4);
    expect((await sumda(['db', 'migrate'], { env })).code).toBe(4);
  });

  it('down without a TTY and without --yes exits 2 and reverts nothing; with --yes it reverts', {
    timeout: 120_000,
  }, async () => {
    const db = await emptyDb();
    const env = { DATABASE_URL: db.url, SUMDA_ACTOR: 'lead@sumda.test' };
    expect((await sumda(['db', 'migrate'], { env })).code).toBe(0);
    expect((await sumda(['admin', 'create', 'lead@sumda.test', '--bootstrap'], { env })).code).toBe(0);
    const count = async () =>
      (await query(db.url, 'select count(*)::int as n from sumda_migrations')).rows[0].n;
    const before = await count();
    const refused = await runSumda(['db', 'down'], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('pass --yes');
    expect(await count()).toBe(before);
    const done = await sumda(['db', 'down', '--yes'], { env });
    expect(done.code).toBe(0);
    expect(await count()).toBe(before - 1);
  });

  it('exits 5 when another runner holds the lock past --lock-timeout', async () => {
    const db = await emptyDb();
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    try {
      const r = await runSumda(['db', 'migrate', '--lock-timeout', '1s'], { env: { DATABASE_URL: db.url } });
      expect(r.code).toBe(5);
      expect(r.stderr).toContain('another migration holds the lock');
      const bad = await sumda(['db', 'migrate', '--lock-timeout', 'soon'], {
        env: { DATABASE_URL: db.url },
      });
      expect(bad.code).toBe(2);
    } finally {
      await holder.end();
    }
  });
});
