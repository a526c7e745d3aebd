/** Runs the real `bin/sumda` as a subprocess, on the same Node that runs the tests (Node 24). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/sumda', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
  cwd?: string;
}

/**
 * Spawns bin/sumda on the test's Node with a clean environment — only PATH/HOME and what the test
 * passes, so the developer's environment and .env never leak in — in an empty working folder.
 * `nodeArgs` go to Node before bin/sumda (e.g. `--env-file=deploy/worker.env`, as a deployment starts a worker).
 */
export function spawnSumda(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; nodeArgs?: string[] } = {},
) {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NO_COLOR: '1',
  };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  return spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, ...args], {
    env,
    cwd: options.cwd ?? fileURLToPath(new URL('../fixtures/empty-cwd/', import.meta.url)),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function runSumda(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnSumda(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
