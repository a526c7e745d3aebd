/** See bin/bundle.mjs: the bundle's entry and build time when it is the build of what is on disk. */
export function freshBundle(root: URL, dir: URL): { url: string; builtAt: string } | undefined;
