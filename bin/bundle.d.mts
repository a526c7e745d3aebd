/**
 * See bin/bundle.mjs: when the bundle is the build of what is on disk (of what `argv` can load, when
 * given), its entry's file, the build's time and the code cache the command line uses.
 */
export function freshBundle(
  root: URL,
  dir: URL,
  argv?: readonly string[],
): { entry: string; builtAt: string; cacheKey: string } | undefined;

/** See bin/bundle.mjs: runs the bundle's entry (CommonJS, V8 code caches per command) and returns its exports. */
export function runBundle(root: URL, dir: URL, entry: string, cacheKey: string): Record<string, unknown>;

/** See bin/bundle.mjs: the manifest's shape bin/sumda reads. */
export const MANIFEST_FORMAT: number;

/** See bin/bundle.mjs: the code caches `npm run build` writes (compiled, not run). */
export const BUILD_CACHE: string;

/** See bin/bundle.mjs: where a bundle file's V8 code cache is (`code-cache/<key>/<file>.v8`). */
export function codeCachePath(folder: string, key: string, file: string): string;

/** See bin/bundle.mjs: a bundle file's source as node:vm compiles it (the build's code caches are of this text). */
export function wrapModule(source: string): string;
