/**
 * `npm run build`: an optional speed-up of every sumda start. kysely ships as ~255 ES modules and zod
 * as ~95, and loading them is most of what a read command costs beyond Node's own start; bundled
 * (rolldown, already installed with vitest) it loads in a fraction of that. bin/sumda uses the
 * bundle only when it was built from the installed version (checked on every start), and never
 * when SUMDA_NO_BUNDLES=1; without it everything runs from node_modules as before. Tests run
 * from source.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../', import.meta.url);
const CACHE = new URL('node_modules/.cache/sumda/', ROOT);

/**
 * Per package, the specifiers sumda and its dependencies import: one build per package, one entry
 * per specifier, so the entries share their chunks and a class is the same class whichever
 * specifier reached it (openai's helpers import `zod/v4` and `zod/v3`, sumda `zod`).
 */
export const BUNDLED: Record<string, readonly string[]> = {
  kysely: ['kysely'],
  zod: ['zod', 'zod/v4', 'zod/v3'],
};

async function versionOf(name: string): Promise<string> {
  const json = JSON.parse(await readFile(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8'));
  return json.version as string;
}

export interface BundleManifest {
  [pkg: string]: { version: string; entries: Record<string, string> };
}

export async function bundleDeps(): Promise<BundleManifest> {
  const { build } = await import('rolldown');
  await mkdir(CACHE, { recursive: true });
  const manifest: BundleManifest = {};
  for (const [name, specifiers] of Object.entries(BUNDLED)) {
    const version = await versionOf(name);
    const dir = `${name}@${version}`;
    await rm(new URL(`${dir}/`, CACHE), { recursive: true, force: true });
    const input: Record<string, string> = {};
    const entries: Record<string, string> = {};
    for (const specifier of specifiers) {
      const key = specifier.replaceAll('/', '_');
      const entry = new URL(`${key}.entry.mjs`, CACHE);
      await writeFile(entry, `export * from '${specifier}';\n`);
      input[key] = fileURLToPath(entry);
      entries[specifier] = `${dir}/${key}.mjs`;
    }
    await build({
      input,
      cwd: fileURLToPath(ROOT),
      logLevel: 'warn',
      output: { dir: fileURLToPath(new URL(`${dir}/`, CACHE)), format: 'esm', entryFileNames: '[name].mjs' },
    });
    for (const file of Object.values(input)) await rm(file, { force: true });
    manifest[name] = { version, entries };
  }
  await writeFile(new URL('manifest.json', CACHE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (import.meta.main) {
  const manifest = await bundleDeps();
  for (const [name, { version, entries }] of Object.entries(manifest)) {
    process.stdout.write(`bundled ${name} ${version}: ${Object.keys(entries).join(', ')}\n`);
  }
}
