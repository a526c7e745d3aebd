/**
 * deploy/worker.env is the one place that says the worker's Node settings: every way a worker
 * starts (the image's entrypoint, the systemd unit, the soak) hands it to Node with `--env-file`,
 * and a Node started that way runs with its heap sizes — unless the environment says otherwise.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const ENV_FILE = new URL('deploy/worker.env', root).pathname;
const MB = 1024 * 1024;

/** V8's heap limit as a Node started with `--env-file=deploy/worker.env` (and `env`) sees it. */
function heapLimitMb(env: Record<string, string> = {}): number {
  const run = spawnSync(
    process.execPath,
    [
      `--env-file=${ENV_FILE}`,
      '-e',
      'process.stdout.write(String(require("v8").getHeapStatistics().heap_size_limit))',
    ],
    { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
  );
  expect(run.status, run.stderr).toBe(0);
  return Number(run.stdout) / MB;
}

describe('deploy/worker.env', () => {
  const settings = parseEnv(read('deploy/worker.env'));
  const flag = (name: string) =>
    Number(new RegExp(`--${name}=(\\d+)`).exec(settings.NODE_OPTIONS ?? '')?.[1]);

  it('caps the young generation and sizes the old one', () => {
    expect(flag('max-semi-space-size')).toBeGreaterThan(0);
    expect(flag('max-old-space-size')).toBeGreaterThan(0);
  });

  it('is what the image, the systemd unit and the soak start Node with', () => {
    const dockerfile = read('deploy/Dockerfile');
    expect(dockerfile).toMatch(/^COPY deploy\/worker\.env \.\/deploy\/worker\.env$/m);
    expect(dockerfile).toMatch(
      /^ENTRYPOINT \["node", "--env-file=\/app\/deploy\/worker\.env", "\/app\/bin\/sumda"\]$/m,
    );
    expect(read('deploy/sumda-worker@.service')).toMatch(
      /^ExecStart=\/usr\/bin\/node --env-file=\/opt\/sumda\/deploy\/worker\.env \/opt\/sumda\/bin\/sumda worker /m,
    );
    expect(read('bench/soak.ts')).toContain("new URL('../deploy/worker.env', import.meta.url)");
    expect(read('bench/soak.ts')).toMatch(/nodeArgs: \[`--env-file=\$\{WORKER_ENV_FILE\}`\]/);
  });

  it("gives a Node started with it the file's heap sizes (old generation + 3 semi-spaces)", () => {
    expect(heapLimitMb()).toBe(flag('max-old-space-size') + 3 * flag('max-semi-space-size'));
  });

  it('yields to NODE_OPTIONS in the environment', () => {
    expect(heapLimitMb({ NODE_OPTIONS: '--max-old-space-size=100 --max-semi-space-size=4' })).toBe(112);
  });
});
