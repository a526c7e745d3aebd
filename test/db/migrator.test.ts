import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  listMigrationFiles,
  MIGRATION_LOCK_KEY,
  migrate,
  migrateDown,
  migrationStatus,
  validateMigrations,
} from '../../src/db/migrator.ts';
import { DriftError, LockBusyError, UsageError } from '../../src/errors.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/`, import.meta.url));
const created: TestDatabase[] = [];
afterAll(async () => {
  for (const d of created) await d.drop();
});

async function emptyDb(): Promise<TestDatabase> {
  const d = await createTestDatabase({ empty: true });
  created.push(d);
  return d;
}

async function tables(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const res = await client.query<{ t: string }>(
    `select table_name as t from information_schema.tables where table_schema = 'public' order by 1`,
  );
  await client.end();
  return res.rows.map((r) => r.t);
}

describe('migrate', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await emptyDb();
  });

  it('applies pending migrations in order, records checksums, and is a no-op the second time', async () => {
    const first = await migrate({ url: db.url, dir: fixture('migrations-ok'), appliedBy: 'test' });
    expect(first.applied).toEqual(['0001_first', '0002_second']);
    expect(await tables(db.url)).toEqual(['fixture_first', 'fixture_second', 'sumda_migrations']);
    const again = await migrate({ url: db.url, dir: fixture('migrations-ok') });
    expect(again.applied).toEqual([]);
    const status = await migrationStatus({ url: db.url, dir: fixture('migrations-ok') });
    const files = await listMigrationFiles(fixture('migrations-ok'));
    expect(status.map((s) => [s.name, s.state, s.appliedChecksum])).toEqual(
      files.map((f) => [f.name, 'applied', f.checksum]),
    );
  });

  it('--dry-run lists pending migrations and writes nothing', async () => {
    const result = await migrate({ url: db.url, dir: fixture('migrations-ok'), dryRun: true });
    expect(result).toMatchObject({ dryRun: true, pending: ['0001_first', '0002_second'], applied: [] });
    expect(await tables(db.url)).toEqual([]);
  });

  it('a failing migration leaves no partial schema and keeps the earlier ones', async () => {
    // The error names the migration that failed, and what failed in it.
    await expect(migrate({ url: db.url, dir: fixture('migrations-failing') })).rejects.toThrow(
      /^migration 0002_breaks failed \(up\): division by zero \[22012\]$/,
    );
    expect(await tables(db.url)).toEqual(['fixture_first', 'sumda_migrations']);
    const status = await migrationStatus({ url: db.url, dir: fixture('migrations-failing') });
    expect(status.map((s) => s.state)).toEqual(['applied', 'pending']);
  });

  it('runs a step again when a shared catalog row collided with another database (XX000), up to three tries', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('create sequence public.fixture_race_tries');
      const result = await migrate({ url: db.url, dir: fixture('migrations-catalog-race') });
      expect(result.applied).toEqual(['0001_races']);
      expect(
        (await client.query('select last_value::int as n from public.fixture_race_tries')).rows[0].n,
      ).toBe(3);

      // A collision that outlasts the three tries is reported, and nothing of the step is left.
      await migrateDown({ url: db.url, dir: fixture('migrations-catalog-race') });
      await client.query('alter sequence public.fixture_race_tries restart with 1');
      process.env.FIXTURE_RACES = '3';
      await expect(migrate({ url: db.url, dir: fixture('migrations-catalog-race') })).rejects.toThrow(
        /^migration 0001_races failed \(up\): tuple concurrently updated \[XX000\]$/,
      );
      expect(await tables(db.url)).toEqual(['sumda_migrations']);
    } finally {
      delete process.env.FIXTURE_RACES;
      await client.end();
    }
  });

  it('waits for the lock and gives up with LockBusyError after --lock-timeout', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('select pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    const events: string[] = [];
    const started = Date.now();
    await expect(
      migrate({
        url: db.url,
        dir: fixture('migrations-ok'),
        lockWaitMs: 600,
        onEvent: (e) => events.push(e.type),
      }),
    ).rejects.toBeInstanceOf(LockBusyError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(events).toContain('waiting-for-lock');
    // Released by the holder: the waiting runner proceeds.
    const waiting = migrate({ url: db.url, dir: fixture('migrations-ok'), lockWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    await holder.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY.toString()]);
    await holder.end();
    expect((await waiting).applied).toHaveLength(2);
  });
});

describe('drift and order', () => {
  const workDir = fileURLToPath(new URL('../fixtures/', import.meta.url));
  let dir: string;
  let db: TestDatabase;
  beforeEach(async () => {
    db = await emptyDb();
    dir = await mkdtemp(join(workDir, 'tmp-migrations-'));
    await cp(fixture('migrations-ok'), dir, { recursive: true });
  });
  afterAll(async () => {
    for (const d of await readdir(workDir))
      if (d.startsWith('tmp-migrations-')) await rm(join(workDir, d), { recursive: true });
  });

  it('reports an edited migration by name with both hashes, and refuses to migrate over it', async () => {
    await migrate({ url: db.url, dir });
    const before = (await listMigrationFiles(dir))[0]!.checksum;
    await writeFile(
      join(dir, '0001_first.ts'),
      `${await readFile(join(dir, '0001_first.ts'), 'utf8')}// edited\n`,
    );
    const after = (await listMigrationFiles(dir))[0]!.checksum;
    const result = await validateMigrations({ url: db.url, dir });
    expect(result.ok).toBe(false);
    expect(result.problems).toEqual([
      `0001_first: file changed since it was applied (applied ${before}, file ${after})`,
    ]);
    await writeFile(
      join(dir, '0003_third.ts'),
      'export async function up() {}\nexport async function down() {}\n',
    );
    await expect(migrate({ url: db.url, dir })).rejects.toBeInstanceOf(DriftError);
  });

  it('accepts a text the file itself declares as earlier (a corrected down()), and nothing else', async () => {
    await migrate({ url: db.url, dir });
    const path = join(dir, '0001_first.ts');
    const applied = (await listMigrationFiles(dir))[0]!.checksum;
    const text = await readFile(path, 'utf8');
    await writeFile(path, `// sumda:earlier-checksum ${applied} down() corrected\n${text}// a better down\n`);
    expect(await validateMigrations({ url: db.url, dir })).toMatchObject({ ok: true, problems: [] });
    expect((await migrate({ url: db.url, dir })).applied).toEqual([]);
    // A declaration of some other text does not cover this database's.
    await writeFile(path, `// sumda:earlier-checksum ${'0'.repeat(64)} not this one\n${text}`);
    expect((await validateMigrations({ url: db.url, dir })).problems).toEqual([
      expect.stringMatching(/^0001_first: file changed since it was applied/),
    ]);
  });

  it('treats CRLF and LF checkouts of the same file as equal', async () => {
    await migrate({ url: db.url, dir });
    const text = await readFile(join(dir, '0002_second.ts'), 'utf8');
    await writeFile(join(dir, '0002_second.ts'), text.replace(/\n/g, '\r\n'));
    expect((await validateMigrations({ url: db.url, dir })).ok).toBe(true);
  });

  it('refuses a pending migration that sorts before an applied one unless allowed', async () => {
    await migrate({ url: db.url, dir });
    await writeFile(
      join(dir, '0001_a_late.ts'),
      'export async function up() {}\nexport async function down() {}\n',
    );
    await expect(migrate({ url: db.url, dir })).rejects.toThrow(/sort before applied/);
    expect((await validateMigrations({ url: db.url, dir })).problems).toEqual([
      '0001_a_late: pending but sorts before an applied migration',
    ]);
    const result = await migrate({ url: db.url, dir, allowUnordered: true });
    expect(result.applied).toEqual(['0001_a_late']);
  });

  it('reports an applied migration whose file vanished', async () => {
    await migrate({ url: db.url, dir });
    await rm(join(dir, '0002_second.ts'));
    expect((await validateMigrations({ url: db.url, dir })).problems[0]).toMatch(
      /^0002_second: applied \(\w+\) but its file is gone$/,
    );
  });
});

describe('down', () => {
  it('reverts the last step, then everything after --to, and refuses a range with a step lacking down()', async () => {
    const db = await emptyDb();
    await migrate({ url: db.url, dir: fixture('migrations-ok') });
    expect((await migrateDown({ url: db.url, dir: fixture('migrations-ok') })).reverted).toEqual([
      '0002_second',
    ]);
    expect(await tables(db.url)).toEqual(['fixture_first', 'sumda_migrations']);
    await migrate({ url: db.url, dir: fixture('migrations-ok') });
    const plan = await migrateDown({
      url: db.url,
      dir: fixture('migrations-ok'),
      to: '0001_first',
      dryRun: true,
    });
    expect(plan).toEqual({ reverted: ['0002_second'], dryRun: true, losses: [] });
    expect(await tables(db.url)).toContain('fixture_second');
    await expect(
      migrateDown({ url: db.url, dir: fixture('migrations-ok'), to: 'nope' }),
    ).rejects.toBeInstanceOf(UsageError);

    const other = await emptyDb();
    await migrate({ url: other.url, dir: fixture('migrations-nodown') });
    await expect(migrateDown({ url: other.url, dir: fixture('migrations-nodown') })).rejects.toThrow(
      /0002_forward_only has no down\(\); nothing was reverted/,
    );
    expect(await tables(other.url)).toEqual(['fixture_first', 'fixture_forward', 'sumda_migrations']);
  });
});
