// The one rule for "is the bundle `npm run build` made the build of what is on disk" (see
// scripts/build.ts): bin/sumda runs the bundle only when this says so. Plain JavaScript and
// synchronous, so a start pays for no type stripping and no promises: the same manifest format, every
// source file that went into the bundle at the size and mtime it had, every bundled package at its
// version (read only when npm's installed-tree record changed since the build). A missing, older or
// half-written build is not fresh.
//
// Given the command line, only the sources of the files that command line can load are compared:
// the entry's, what they import, and of the top-level commands' own files (manifest.commands) only
// those of commands it names — src/cli/main.ts loads no other (`completion` loads them all).
//
// runBundle then runs it: CommonJS files compiled through node:vm with V8's code cache, which this
// writes after a command's first run — so it holds every function that run compiled, where Node's
// own compile cache, written before a module runs, holds little more than its top level.

/** The manifest's shape (scripts/build.ts writes it); any other is not fresh. */
export const MANIFEST_FORMAT = 3;

/**
 * @param {URL} root the project folder
 * @param {URL} dir the bundle's folder
 * @param {readonly string[]} [argv] the command line's arguments; without them, every source
 * @returns {{ entry: string, builtAt: string, cacheKey: string } | undefined} when fresh: the entry's
 * file, the build's time, and the code cache this command line uses (runBundle)
 */
export function freshBundle(root, dir, argv) {
  const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
  // Paths as strings: a URL per file would double what the check costs.
  const rootPath = process.getBuiltinModule('node:url').fileURLToPath(root);
  try {
    const manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8'));
    if (manifest.format !== MANIFEST_FORMAT) return undefined;
    const sources = manifest.sources;
    for (const i of argv && !argv.includes('completion') ? loadable(manifest, argv) : sources.keys()) {
      const [path, size, mtimeMs] = sources[i];
      const s = statSync(rootPath + path, { throwIfNoEntry: false });
      if (!s || s.size !== size || s.mtimeMs !== mtimeMs) return undefined;
    }
    const tree = statSync(new URL('node_modules/.package-lock.json', root), { throwIfNoEntry: false });
    const installed = manifest.installed;
    if (!(tree && installed && tree.mtimeMs === installed.mtimeMs && tree.size === installed.size)) {
      for (const [pkg, version] of Object.entries(manifest.packages)) {
        if (JSON.parse(readFileSync(new URL(`${pkg}/package.json`, root), 'utf8')).version !== version)
          return undefined;
      }
    }
    // Commands compile different functions: each top-level command has a code cache of its own.
    const command = argv?.find((word) => Object.hasOwn(manifest.commands, word) || word === 'completion');
    return { entry: manifest.entry, builtAt: manifest.builtAt, cacheKey: command ?? '_' };
  } catch {
    return undefined; // not built, half built, or built by another sumda
  }
}

/** The indexes of the sources in every file `argv` can load: the entry's imports, not the unnamed commands'. */
function loadable(manifest, argv) {
  const commands = Object.entries(manifest.commands);
  const named = new Set(commands.filter(([name]) => argv.includes(name)).map(([, file]) => file));
  const unnamed = new Set(commands.map(([, file]) => file).filter((file) => !named.has(file)));
  const seen = new Set();
  const stack = [manifest.entry];
  const indexes = new Set();
  while (stack.length > 0) {
    const file = stack.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    const chunk = manifest.chunks[file];
    for (const i of chunk.sources) indexes.add(i);
    stack.push(...chunk.static);
    for (const next of chunk.dynamic) if (file !== manifest.entry || !unnamed.has(next)) stack.push(next);
  }
  return indexes;
}

/** The code cache `npm run build` writes for every file: compiled, not run (the top level and little else). */
export const BUILD_CACHE = '.build';

/**
 * Where a bundle file's V8 code cache is: `code-cache/<key>/<file>.v8` in the bundle's folder.
 *
 * @param {string} folder the bundle's folder (a path ending in `/`)
 * @param {string} key a command (freshBundle's cacheKey) or BUILD_CACHE
 * @param {string} file the bundle file's name
 */
export function codeCachePath(folder, key, file) {
  return `${folder}code-cache/${key}/${file}.v8`;
}

/**
 * A bundle file as node:vm compiles it: the CommonJS wrapper around its source. The build's code
 * caches are made of the same text (a code cache is V8's for one exact source).
 *
 * @param {string} source
 */
export function wrapModule(source) {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

/**
 * Runs the bundle's `entry` and returns its exports. Each file is a CommonJS module (scripts/build.ts)
 * compiled with node:vm; a file that loads others asks this loader for them (`./x.cjs`), and Node
 * for everything else (built-ins, the packages left in the project's node_modules). V8's code cache
 * for each file is in `code-cache/<cacheKey>/` beside the bundle: read when there, and written at
 * exit when it was not (or V8 refused it: another Node, other V8 flags) — after the run, so it holds
 * what the run compiled. Until then, and for good in a bundle folder this user cannot write (the
 * container image), the build's own (`code-cache/.build/`) is used. NODE_DISABLE_COMPILE_CACHE=1
 * turns both off, as it does Node's own cache. A cache is only ever of the files beside it: V8
 * checks one against its source's length, not its text, and a build replaces the whole folder,
 * code-cache/ included (scripts/build.ts) — never write a bundle file in place.
 *
 * @param {URL} root the project folder, whose node_modules hold the packages left out of the bundle
 * @param {URL} dir the bundle's folder
 * @param {string} entry the entry's file name
 * @param {string} cacheKey the command's code cache (freshBundle)
 * @returns {Record<string, unknown>} the entry's exports
 */
export function runBundle(root, dir, entry, cacheKey) {
  const { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } = process.getBuiltinModule('node:fs');
  const vm = process.getBuiltinModule('node:vm');
  const { fileURLToPath } = process.getBuiltinModule('node:url');
  const folder = fileURLToPath(dir);
  const caching = process.env.NODE_DISABLE_COMPILE_CACHE !== '1';
  const nodeRequire = process.getBuiltinModule('node:module').createRequire(new URL('package.json', root));
  const loaded = new Map();
  const unsaved = [];
  const load = (file) => {
    const known = loaded.get(file);
    if (known) return known.exports;
    const module = { exports: {} };
    loaded.set(file, module);
    const filename = folder + file;
    let cachedData;
    let own = false;
    if (caching) {
      try {
        cachedData = readFileSync(codeCachePath(folder, cacheKey, file));
        own = true;
      } catch {
        try {
          cachedData = readFileSync(codeCachePath(folder, BUILD_CACHE, file));
        } catch {
          // built before code caches, or removed
        }
      }
    }
    const script = new vm.Script(wrapModule(readFileSync(filename, 'utf8')), { filename, cachedData });
    if (caching && !(own && !script.cachedDataRejected)) unsaved.push([file, script]);
    script.runInThisContext().call(module.exports, module.exports, require, module, filename, folder);
    return module.exports;
  };
  // A dynamic import of a file by URL (the migrator's migrations/*.ts) arrives as `require(url)`:
  // Node's require loads ES modules and TypeScript alike.
  const require = (id) =>
    id.startsWith('./') ? load(id.slice(2)) : nodeRequire(id.startsWith('file:') ? fileURLToPath(id) : id);
  if (caching) {
    process.once('exit', () => {
      if (unsaved.length === 0) return;
      try {
        mkdirSync(`${folder}code-cache/${cacheKey}`, { recursive: true });
      } catch {
        return; // a bundle folder this user cannot write: no code cache of its own
      }
      for (const [file, script] of unsaved) {
        // Whole or not at all: a start in between reads the old file or none.
        const path = codeCachePath(folder, cacheKey, file);
        const partial = `${path}.${process.pid}`;
        try {
          writeFileSync(partial, script.createCachedData());
          renameSync(partial, path);
        } catch {
          // A full disk: nothing half-written stays (and an exit handler never throws).
          try {
            rmSync(partial, { force: true });
          } catch {}
        }
      }
    });
  }
  return load(entry);
}
