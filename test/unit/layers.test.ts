/**
 * The dependency direction of the README's architecture map, read off the source: bin → cli | jobs →
 * domain → db / queue / config. Static and dynamic imports both count.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

/** Every relative import of a file, as a path from the repository root. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const found = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]!);
  return found.map((spec) => relative(ROOT, resolve(dirname(join(ROOT, file)), spec)));
}

const graph = [...sources('src'), ...sources('jobs')].map((file) => ({ file, imports: importsOf(file) }));
const offending = (from: (f: string) => boolean, to: (i: string) => boolean) =>
  graph.filter((g) => from(g.file)).flatMap((g) => g.imports.filter(to).map((i) => `${g.file} → ${i}`));

describe('dependencies point one way', () => {
  it('reads imports (the check is not vacuous)', () => {
    expect(graph.length).toBeGreaterThan(100);
    expect(importsOf('src/cli/runtime.ts')).toContain('jobs/runtime.ts');
  });

  it('the CLI reaches the job runtime through src/cli/runtime.ts only', () => {
    expect(
      offending(
        (f) => f.startsWith('src/') && f !== 'src/cli/runtime.ts',
        (i) => i.startsWith('jobs/'),
      ),
    ).toEqual([]);
  });

  it('no domain module or job imports the CLI', () => {
    expect(
      offending(
        (f) => !f.startsWith('src/cli/'),
        (i) => i.startsWith('src/cli/'),
      ),
    ).toEqual([]);
  });

  it('commands never import commands (index.ts only lists them)', () => {
    expect(
      offending(
        (f) => f.startsWith('src/cli/commands/') && f !== 'src/cli/commands/index.ts',
        (i) => i.startsWith('src/cli/commands/') && i !== 'src/cli/commands/manifest.ts',
      ),
    ).toEqual([]);
  });
});
