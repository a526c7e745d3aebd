// The one rule for "is the bundle `npm run build` made the build of what is on disk" (see
// scripts/build.ts): bin/sumda runs the bundle only when this says so. Plain JavaScript and
// synchronous, so a start pays for no type stripping and no promises: the same manifest format, every
// source file that went into the bundle at the size and mtime it had, every bundled package at its
// version (read only when npm's installed-tree record changed since the build). A missing, older or
// half-written build is not fresh.

/**
 * @param {URL} root the project folder
 * @param {URL} dir the bundle's folder
 * @returns {{ url: string, builtAt: string } | undefined} the entry's URL and the build's time, when fresh
 */
export function freshBundle(root, dir) {
  const { readFileSync, statSync } = process.getBuiltinModule('node:fs');
  // Paths as strings: a URL per file would double what the check costs.
  const rootPath = process.getBuiltinModule('node:url').fileURLToPath(root);
  try {
    const manifest = JSON.parse(readFileSync(new URL('manifest.json', dir), 'utf8'));
    if (manifest.format !== 1) return undefined;
    for (const [path, size, mtimeMs] of manifest.sources) {
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
    return { url: new URL(manifest.entry, dir).href, builtAt: manifest.builtAt };
  } catch {
    return undefined; // not built, half built, or built by another sumda
  }
}
