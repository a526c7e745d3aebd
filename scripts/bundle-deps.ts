/**
 * `npm run build`: an optional speed-up of every sumda start. kysely ships as ~255 ES modules, and
 * loading them is most of what a read command costs beyond Node's own start; bundled into one file
 * (rolldown, already installed with vitest) it loads in a fraction of that. bin/sumda uses the
 * bundle only when it was built from the installed version (checked on every start), and never
 * when SUMDA_NO_BUNDLES=1; without it everything runs from node_modules as before. Tests run
 * from source. Only kysely: zod is imported by subpaths too (openai's helpers), and two copies of
 * its classes would not recognise each other.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = new URL('../', import.meta.url);
const CACHE = new URL('node_modules/.cache/sumda/', ROOT);
export const BUNDLED = ['kysely'] as const;

async function versionOf(name: string): Promise<string> {
  const json = JSON.parse(await readFile(new URL(`node_modules/${name}/package.json`, ROOT), 'utf8'));
  return json.version as string;
}

export async function bundleDeps(): Promise<Record<string, { version: string; file: string }>> {
  const { build } = await import('rolldown');
  await mkdir(CACHE, { recursive: true });
  const manifest: Record<string, { version: string; file: string }> = {};
  for (const name of BUNDLED) {
    const version = await versionOf(name);
    const entry = new URL(`${name}.entry.mjs`, CACHE);
    const file = `${name}@${version}.mjs`;
    await writeFile(entry, `export * from '${name}';\n`);
    await build({
      input: fileURLToPath(entry),
      cwd: fileURLToPath(ROOT),
      logLevel: 'warn',
      output: { file: fileURLToPath(new URL(file, CACHE)), format: 'esm' },
    });
    await rm(entry, { force: true });
    manifest[name] = { version, file };
  }
  await writeFile(new URL('manifest.json', CACHE), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

if (import.meta.main) {
  const manifest = await bundleDeps();
  for (const [name, { version, file }] of Object.entries(manifest)) {
    process.stdout.write(`bundled ${name} ${version} → node_modules/.cache/sumda/${file}\n`);
  }
}
