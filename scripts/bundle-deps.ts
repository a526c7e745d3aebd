/**
 * `npm run build`: an optional speed-up of every sumda start. kysely ships as ~255 ES modules, zod
 * as ~95, pg as ~40 CommonJS files over ten packages and commander as 8; loading them one by one is
 * most of what a read command costs beyond Node's own start, and bundled (rolldown, already
 * installed with vitest) they load in a fraction of that. bin/sumda uses a bundle only when every
 * package that went into it is still installed at the version it was built from (checked on every
 * start: one stat of npm's installed-tree record, and each package's version only when that changed), only for `import` (a CommonJS `require` still gets node_modules), and never when
 * SUMDA_NO_BUNDLES=1; without it everything runs from node_modules as before. Tests run from source.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../', import.meta.url);
const CACHE = new URL('node_modules/.cache/sumda/', ROOT);

interface BundleSpec {
  /** The specifiers sumda and its dependencies import: one entry each, sharing their chunks. */
  specifiers: readonly string[];
  /** Optional dependencies that are not installed (pg's native binding): left to a `require` that fails as before. */
  external?: readonly string[];
}

/**
 * Per package, one build: a class is the same class whichever specifier reached it (openai's helpers
 * import `zod/v4` and `zod/v3`, sumda `zod`).
 */
export const BUNDLED: Record<string, BundleSpec> = {
  kysely: { specifiers: ['kysely'] },
  zod: { specifiers: ['zod', 'zod/v4', 'zod/v3'] },
  pg: { specifiers: ['pg'], external: ['pg-native'] },
  commander: { specifiers: ['commander'] },
};

export interface BundleManifest {
  /**
   * npm's record of the installed tree (node_modules/.package-lock.json, rewritten by every npm
   * install) as it was at build time: while it is unchanged, bin/sumda skips reading every bundled
   * package's version.
   */
  installed?: { mtimeMs: number; size: number };
  bundles: Record<
    string,
    {
      version: string;
      /** Every package folder (relative to the project) whose files are in the bundle, with its version. */
      packages: Record<string, string>;
      entries: Record<string, string>;
    }
  >;
}

const INSTALLED_TREE = new URL('node_modules/.package-lock.json', ROOT);

async function versionAt(dir: string): Promise<string> {
  const json = JSON.parse(await readFile(new URL(`${dir}/package.json`, ROOT), 'utf8'));
  return json.version as string;
}

/** `node_modules/a/node_modules/@s/b/lib/x.js` → `node_modules/a/node_modules/@s/b`. */
function packageDirOf(file: string): string | undefined {
  const path = relative(fileURLToPath(ROOT), file).split('\\').join('/');
  const match = /^(?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+/.exec(path);
  return match?.[0];
}

/** The entry re-exports the default too when the module has one (`import pg from 'pg'`). */
async function entryText(specifier: string): Promise<string> {
  const namespace = (await import(specifier)) as Record<string, unknown>;
  const exportDefault = 'default' in namespace ? `export { default } from '${specifier}';\n` : '';
  return `export * from '${specifier}';\n${exportDefault}`;
}

export async function bundleDeps(): Promise<BundleManifest> {
  const { build } = await import('rolldown');
  await mkdir(CACHE, { recursive: true });
  const tree = await stat(INSTALLED_TREE).catch(() => undefined);
  const manifest: BundleManifest = {
    ...(tree ? { installed: { mtimeMs: tree.mtimeMs, size: tree.size } } : {}),
    bundles: {},
  };
  for (const [name, spec] of Object.entries(BUNDLED)) {
    const version = await versionAt(`node_modules/${name}`);
    const dir = `${name}@${version}`;
    await rm(new URL(`${dir}/`, CACHE), { recursive: true, force: true });
    const input: Record<string, string> = {};
    const entries: Record<string, string> = {};
    for (const specifier of spec.specifiers) {
      const key = specifier.replaceAll('/', '_');
      const entry = new URL(`${key}.entry.mjs`, CACHE);
      await writeFile(entry, await entryText(specifier));
      input[key] = fileURLToPath(entry);
      entries[specifier] = `${dir}/${key}.mjs`;
    }
    const result = await build({
      input,
      cwd: fileURLToPath(ROOT),
      platform: 'node',
      logLevel: 'warn',
      external: [...(spec.external ?? [])],
      output: { dir: fileURLToPath(new URL(`${dir}/`, CACHE)), format: 'esm', entryFileNames: '[name].mjs' },
    });
    for (const file of Object.values(input)) await rm(file, { force: true });
    const generated = new Set(Object.values(input));
    const dirs = new Set<string>();
    for (const chunk of result.output) {
      if (chunk.type !== 'chunk') continue;
      for (const id of chunk.moduleIds) {
        const pkg = generated.has(id) ? undefined : packageDirOf(id);
        if (pkg) dirs.add(pkg);
      }
    }
    const packages: Record<string, string> = {};
    for (const pkg of [...dirs].sort()) packages[pkg] = await versionAt(pkg);
    manifest.bundles[name] = { version, packages, entries };
  }
  await writeFile(new URL('manifest.json', CACHE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (import.meta.main) {
  const manifest = await bundleDeps();
  for (const [name, { version, packages, entries }] of Object.entries(manifest.bundles)) {
    const more = Object.keys(packages).length - 1;
    process.stdout.write(
      `bundled ${name} ${version}${more > 0 ? ` (+${more} packages)` : ''}: ${Object.keys(entries).join(', ')}\n`,
    );
  }
}
