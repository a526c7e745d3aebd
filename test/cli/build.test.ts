/**
 * `npm run build` (scripts/build.ts): the bundled command line does what the source does, bin/sumda
 * uses it only while it is the build of what is on disk, and the built-ins made lazy stay unloaded
 * by a read command. The bundle is built once into a folder of its own (bin/sumda is pointed at it
 * with SUMDA_BUNDLE_DIR), so the developer's own build is never touched.
 */
import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildManifest, type BuildResult, buildCli, isFresh } from '../../scripts/build.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const DIR = new URL(`../../node_modules/.cache/sumda/test-build-${process.pid}/`, import.meta.url);
const STALE = new URL(`../../node_modules/.cache/sumda/test-stale-${process.pid}/`, import.meta.url);
const CACHED = new URL(`../../node_modules/.cache/sumda/test-cached-${process.pid}/`, import.meta.url);
let build: BuildResult;
let database: TestDatabase;

beforeAll(async () => {
  [build, database] = await Promise.all([buildCli(DIR), createTestDatabase()]);
}, 120_000);
afterAll(async () => {
  await rm(DIR, { recursive: true, force: true });
  await rm(STALE, { recursive: true, force: true });
  await rm(CACHED, { recursive: true, force: true });
  await database?.drop();
});

const bundled = (extra: Record<string, string> = {}) => ({
  env: { SUMDA_BUNDLE_DIR: fileURLToPath(DIR), DATABASE_URL: database.url, ...extra },
});
const fromSource = (extra: Record<string, string> = {}) => ({
  env: { SUMDA_NO_BUNDLE: '1', DATABASE_URL: database.url, ...extra },
});

/** The modules a command's process loaded, as Node lists them at exit (built-ins included). */
const LOADED = `data:text/javascript,process.on('exit',()=>process.stderr.write('\\nLOADED '+JSON.stringify(process.moduleLoadList)+'\\n'))`;

describe('the bundled command line', () => {
  it('is built with every lazy built-in applied, a manifest of what went into it, and code caches', async () => {
    expect(build.missed).toEqual([]);
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.cjs'));
    expect((await readdir(new URL('code-cache/.build/', DIR))).sort()).toEqual(
      files.map((f) => `${f}.v8`).sort(),
    );
    expect(build.manifest.sources).toContainEqual(expect.arrayContaining(['src/cli/main.ts']));
    expect(Object.keys(build.manifest.packages)).toEqual(
      expect.arrayContaining(['node_modules/kysely', 'node_modules/pg', 'node_modules/commander']),
    );
    expect(await isFresh(DIR)).toBe(true);
  });

  it('is what bin/sumda runs, and says so in `sumda config`', async () => {
    const built = await runSumda(['config'], bundled());
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toMatch(/SUMDA_NO_BUNDLE\s+\(unset: running the build of \d{4}-/);
    const source = await runSumda(['config'], fromSource());
    expect(source.stdout).toMatch(/SUMDA_NO_BUNDLE\s+1 \(running from source\)/);
  });

  it('answers as the source does: help, a read, a typo, a schema refusal, logs', async () => {
    for (const args of [
      ['--help'],
      ['policy', 'list', '--json'],
      ['policy', 'lst'],
      ['slip', 'show', 'nope'],
      ['policy', 'list', '--log-level', 'debug', '--json'],
    ]) {
      const [built, source] = await Promise.all([runSumda(args, bundled()), runSumda(args, fromSource())]);
      expect(built.code, `${args.join(' ')}: ${built.stderr}`).toBe(source.code);
      expect(built.stdout, args.join(' ')).toBe(source.stdout);
      // Log lines carry times and request ids: compare their messages.
      const messages = (s: string) =>
        s
          .split('\n')
          .map((l) => (l.startsWith('{') ? (JSON.parse(l) as { msg?: string }).msg : l))
          .filter(Boolean);
      expect(messages(built.stderr), args.join(' ')).toEqual(messages(source.stderr));
    }
    const empty = await createTestDatabase({ empty: true });
    try {
      const refused = await runSumda(['policy', 'list'], bundled({ DATABASE_URL: empty.url }));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain('this database is not migrated');
    } finally {
      await empty.drop();
    }
  });

  it('a read command loads neither node:crypto nor child_process nor dns', async () => {
    const { spawnSync } = await import('node:child_process');
    const result = spawnSync(
      process.execPath,
      ['--import', LOADED, fileURLToPath(new URL('../../bin/sumda', import.meta.url)), 'policy', 'list'],
      {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...bundled().env },
        encoding: 'utf8',
      },
    );
    expect(result.status, result.stderr).toBe(0);
    const loaded = JSON.parse(/LOADED (.*)/.exec(result.stderr)![1]!) as string[];
    expect(loaded).toContain('NativeModule net');
    expect(loaded).not.toContain('NativeModule crypto');
    expect(loaded).not.toContain('NativeModule child_process');
    expect(loaded).not.toContain('NativeModule dns');
  });

  it('is not used once a source file differs from what was built', async () => {
    await cp(DIR, STALE, { recursive: true });
    const manifest = JSON.parse(await readFile(new URL('manifest.json', STALE), 'utf8')) as BuildManifest;
    const entry = manifest.sources.find(([path]) => path === 'src/cli/output.ts')!;
    entry[2] -= 1000; // as if output.ts had been edited after the build
    await writeFile(new URL('manifest.json', STALE), JSON.stringify(manifest));
    expect(await isFresh(STALE)).toBe(false);
    const r = await runSumda(['config'], { env: { SUMDA_BUNDLE_DIR: fileURLToPath(STALE) } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /SUMDA_NO_BUNDLE\s+\(unset: running from source — not built, or the source changed/,
    );
  });

  it('is not used when a bundled package is at another version, or the manifest is of another format', async () => {
    await rm(STALE, { recursive: true, force: true });
    await cp(DIR, STALE, { recursive: true });
    const manifest = JSON.parse(await readFile(new URL('manifest.json', STALE), 'utf8')) as BuildManifest;
    delete manifest.installed; // npm changed the tree since: versions are compared
    manifest.packages['node_modules/kysely'] = '0.0.1';
    await writeFile(new URL('manifest.json', STALE), JSON.stringify(manifest));
    expect(await isFresh(STALE)).toBe(false);
    const r = await runSumda(['config'], { env: { SUMDA_BUNDLE_DIR: fileURLToPath(STALE) } });
    expect(r.stdout).toContain('running from source');
    await writeFile(new URL('manifest.json', STALE), JSON.stringify({ ...manifest, format: 99 }));
    expect(await isFresh(STALE)).toBe(false);
  });

  it('describes every file it is made of: what each imports, its sources, the commands with files of their own', async () => {
    const { manifest } = build;
    const files = (await readdir(DIR)).filter((f) => f.endsWith('.cjs'));
    expect(Object.keys(manifest.chunks).sort()).toEqual(files.sort());
    const covered = new Set<number>();
    for (const chunk of Object.values(manifest.chunks)) {
      for (const f of [...chunk.static, ...chunk.dynamic]) expect(files).toContain(f);
      for (const i of chunk.sources) covered.add(i);
    }
    expect(covered.size).toBe(manifest.sources.length);
    expect(manifest.commands.policy).toMatch(/^policy-.*\.cjs$/);
    for (const file of Object.values(manifest.commands)) expect(files).toContain(file);
  });

  it('checks the sources of what a command line can load: a command not named may differ', async () => {
    await rm(STALE, { recursive: true, force: true });
    await cp(DIR, STALE, { recursive: true });
    const manifest = JSON.parse(await readFile(new URL('manifest.json', STALE), 'utf8')) as BuildManifest;
    manifest.sources.find(([path]) => path === 'src/cli/commands/slip.ts')![2] -= 1000; // slip.ts edited
    await writeFile(new URL('manifest.json', STALE), JSON.stringify(manifest));
    expect(isFresh(STALE, ['policy', 'list'])).toBe(true);
    expect(isFresh(STALE, ['--help'])).toBe(true);
    expect(isFresh(STALE, ['slip', 'list'])).toBe(false);
    expect(isFresh(STALE, ['--as', 'ops@example.com', 'slip', 'show', 'x'])).toBe(false);
    // `sumda completion` loads every command; without a command line, everything is checked.
    expect(isFresh(STALE, ['completion', 'bash'])).toBe(false);
    expect(isFresh(STALE)).toBe(false);
    const r = await runSumda(['config'], { env: { SUMDA_BUNDLE_DIR: fileURLToPath(STALE) } });
    expect(r.stdout).toMatch(/SUMDA_NO_BUNDLE\s+\(unset: running the build of/);
    const slip = await runSumda(['slip', '--help'], { env: { SUMDA_BUNDLE_DIR: fileURLToPath(STALE) } });
    expect(slip.code, slip.stderr).toBe(0);
  });

  it("writes a command's V8 code cache after its first run, uses it after, and replaces one V8 refuses", async () => {
    await rm(CACHED, { recursive: true, force: true });
    await cp(DIR, CACHED, { recursive: true });
    // The other tests' runs wrote theirs; the build's own stays.
    for (const entry of await readdir(new URL('code-cache/', CACHED))) {
      if (entry !== '.build') await rm(new URL(`code-cache/${entry}`, CACHED), { recursive: true });
    }
    const env = { env: { SUMDA_BUNDLE_DIR: fileURLToPath(CACHED), DATABASE_URL: database.url } };
    const cacheOf = (command: string) => new URL(`code-cache/${command}/`, CACHED);
    const first = await runSumda(['policy', 'list', '--json'], env);
    expect(first.code, first.stderr).toBe(0);
    const written = (await readdir(cacheOf('policy'))).sort();
    expect(written).toContain('main.cjs.v8');
    expect(written.some((f) => /^run-.*\.cjs\.v8$/.test(f))).toBe(true);
    const main = new URL('main.cjs.v8', cacheOf('policy'));
    const before = await stat(main);
    const second = await runSumda(['policy', 'list', '--json'], env);
    expect(second.stdout).toBe(first.stdout);
    // Accepted, so not written again.
    expect((await stat(main)).mtimeMs).toBe(before.mtimeMs);
    // A cache V8 refuses (another Node, or damaged) is no error: the command runs, the cache is replaced.
    await writeFile(main, 'not a code cache');
    const third = await runSumda(['policy', 'list', '--json'], env);
    expect(third.code, third.stderr).toBe(0);
    expect(third.stdout).toBe(first.stdout);
    expect((await readFile(main)).length).toBeGreaterThan(10_000);
    // Each command its own; none with NODE_DISABLE_COMPILE_CACHE=1.
    const off = await runSumda(['config'], { env: { ...env.env, NODE_DISABLE_COMPILE_CACHE: '1' } });
    expect(off.code, off.stderr).toBe(0);
    expect((await readdir(new URL('code-cache/', CACHED))).sort()).toEqual(['.build', 'policy']);
    // A folder it cannot write (here: a file where the command's folder would be) goes without.
    const blocked = new URL('code-cache/slip', CACHED);
    await writeFile(blocked, '');
    const slip = await runSumda(['slip', '--help'], env);
    expect(slip.code, slip.stderr).toBe(0);
    expect((await stat(blocked)).isFile()).toBe(true);
  });

  it('migrates an empty database: the migrations (TypeScript, loaded by URL) load from the bundle too', async () => {
    const empty = await createTestDatabase({ empty: true });
    try {
      const migrated = await runSumda(['db', 'migrate'], bundled({ DATABASE_URL: empty.url }));
      expect(migrated.code, migrated.stderr).toBe(0);
      const read = await runSumda(['policy', 'list', '--json'], bundled({ DATABASE_URL: empty.url }));
      expect(read.code, read.stderr).toBe(0);
      expect(JSON.parse(read.stdout)).toHaveLength(5);
    } finally {
      await empty.drop();
    }
  });
});
