/**
 * deploy/Dockerfile runs sumda bundled: a stage of its own runs scripts/build.ts, and the image takes
 * the bundle and, from that same stage, every folder whose files went into it — bin/sumda runs the
 * bundle only while each of those files has the size and mtime it was built from, so sources copied
 * from anywhere else would leave the image running from source, slower and without a word. (No
 * Docker daemon here: the image itself is not built by the tests.)
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { buildCli } from '../../scripts/build.ts';

const root = new URL('../../', import.meta.url);
const dockerfile = readFileSync(new URL('deploy/Dockerfile', root), 'utf8');
/** The stages, by name (the last one, the image, as `image`). */
const stages = Object.fromEntries(
  dockerfile
    .split(/^FROM /m)
    .slice(1)
    .map((stage, i, all) => [i === all.length - 1 ? 'image' : /^\S+ AS (\S+)/.exec(stage)![1]!, stage]),
);

const dir = new URL(`node_modules/.cache/sumda-image-test-${process.pid}/`, root);
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the image', () => {
  it('builds the bundle in a stage with the development dependencies', () => {
    expect(stages.build).toMatch(/^RUN npm ci --ignore-scripts\b/m);
    expect(stages.build).toMatch(/^RUN node scripts\/build\.ts$/m);
    expect(stages.image).not.toMatch(/npm ci/);
  });

  it('takes the bundle, and every folder with files in it, from that stage', async () => {
    expect(stages.image).toMatch(
      /^COPY --from=build \/app\/node_modules\/\.cache\/sumda \.\/node_modules\/\.cache\/sumda$/m,
    );
    const { manifest } = await buildCli(dir);
    const folders = new Set(manifest.sources.map(([path]) => path.split('/')[0]!));
    expect(folders.size).toBeGreaterThan(0);
    for (const folder of [...folders, 'bin']) {
      expect(stages.build, folder).toMatch(new RegExp(`^COPY ${folder} \\./${folder}$`, 'm'));
      expect(stages.image, folder).toMatch(
        new RegExp(`^COPY --from=build /app/${folder} \\./${folder}$`, 'm'),
      );
    }
  });
});
