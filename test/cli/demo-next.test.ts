/**
 * The demo's "next" block works when pasted: each printed command is run through a shell exactly as
 * printed (with `sumda` on PATH, as the README sets it up) and exits 0. Without `sumda` on PATH the
 * demo prints `npx sumda` inside the checkout and full paths elsewhere.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sumdaInvocation } from '../../src/cli/commands/demo.ts';
import { EMPTY_CWD, testKeys } from '../support/analysis.ts';
import { BIN, runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function shell(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env, cwd: EMPTY_CWD, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('the demo prints commands that work as shown', () => {
  let binDir: string;
  beforeAll(async () => {
    binDir = await mkdtemp(join(tmpdir(), 'sumda-path-'));
    await symlink(BIN, join(binDir, 'sumda'));
  });
  afterAll(async () => {
    await rm(binDir, { recursive: true, force: true });
  });

  it('every line of the "next" block exits 0 when run as printed', { timeout: 300_000 }, async () => {
    const env = {
      PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/tmp',
      NO_COLOR: '1',
      DATABASE_URL: database.url,
      SUMDA_ENCRYPTION_KEYS: testKeys().env,
    };
    const demo = await runSumda(['demo', '--users', '3', '--days', '3'], { env, timeoutMs: 180_000 });
    expect(demo.code, demo.stderr).toBe(0);
    const block = demo.stdout.split('\nnext\n')[1]!;
    const lines = block
      .split('\n')
      .filter((l) => l.startsWith('  '))
      .map((l) => l.replace(/\s+#.*$/, '').trim());
    const [exportLine, ...commands] = lines;
    expect(exportLine).toBe('export SUMDA_ACTOR=demo@sumda.local');
    expect(commands.length).toBeGreaterThanOrEqual(6);
    // With DATABASE_URL there is no embedded server to keep up.
    expect(commands).not.toContain('sumda db start');
    for (const command of commands) {
      expect(command).toMatch(/^sumda /);
      const run = await shell(`${exportLine}\n${command}`, env);
      expect(run.code, `${command}\n${run.out}`).toBe(0);
    }
  });

  it('without sumda on PATH: npx sumda inside the checkout, full paths elsewhere', () => {
    expect(sumdaInvocation({ PATH: '/usr/bin' }, ROOT)).toBe('npx sumda');
    expect(sumdaInvocation({ PATH: '/usr/bin' }, join(ROOT, 'src'))).toBe('npx sumda');
    expect(sumdaInvocation({ PATH: '/usr/bin' }, tmpdir())).toBe(
      `${join(ROOT, 'node_modules', '.bin', 'node')} ${join(ROOT, 'bin', 'sumda')}`,
    );
    expect(sumdaInvocation({ PATH: `/usr/bin${delimiter}${binDir}` }, tmpdir())).toBe('sumda');
  });
});
