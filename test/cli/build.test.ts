/**
 * `npm run build` (scripts/build.ts): the bundled command line does what the source does, bin/sumda
 * uses it only while it is the build of what is on disk, and the built-ins made lazy stay unloaded
 * by a read command. The bundle is built once into a folder of its own (bin/sumda is pointed at it
 * with SUMDA_BUNDLE_DIR), so the developer's own build is never touched.
 */
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildManifest, type BuildResult, buildCli, isFresh } from '../../scripts/build.ts';
import { runSumda } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

const DIR = new URL(`../../node_modules/.cache/sumda/test-build-${process.pid}/`, import.meta.url);
const STALE = new URL(`../../node_modules/.cache/sumda/test-stale-${process.pid}/`, import.meta.url);
let build: BuildResult;
let database: TestDatabase;

beforeAll(async () => {
  [build, database] = await Promise.all([buildCli(DIR), createTestDatabase()]);
}, 120_000);
afterAll(async () => {
  await rm(DIR, { recursive: true, force: true });
  await rm(STALE, { recursive: true, force: true });
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
  it('is built with every lazy built-in applied and a manifest of what went into it', async () => {
    expect(build.missed).toEqual([]);
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
});
