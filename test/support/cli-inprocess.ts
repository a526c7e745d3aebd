/**
 * Runs a sumda command line in the test's own process: the same `main()` bin/sumda calls, the same
 * commander program, error boundary and exit codes, with stdout and stderr captured — in
 * milliseconds instead of the 0.5–1.5 s a subprocess costs on a loaded machine.
 *
 * Use it where the test proves what a command does (its output, its exit code, the rows it
 * writes); spawn the real process (`runSumda` in ./cli.ts) where the process boundary is the point:
 * signals, stdin, the Node version check, how the process itself ends. Each command family keeps
 * at least one subprocess test proving its exit code and output format end to end.
 *
 * What is the same as a subprocess: a clean environment (PATH, HOME, NO_COLOR and what the test
 * passes; nothing of the developer's environment), the empty working folder (no `.env` is read),
 * `process.argv` (the audit trail's command line), stdin and stdout not a terminal, and pino's log
 * lines (written with fs.writeSync to fd 2) captured with stderr. Calls run one at a time: they
 * share the process's streams, environment and exit code.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';
import { BIN, type CliResult } from './cli.ts';

const EMPTY_CWD = fileURLToPath(new URL('../fixtures/empty-cwd/', import.meta.url));

/** Variables the test runner itself needs while a command runs; everything else is cleared. */
const KEPT = (name: string) =>
  name.startsWith('VITEST') || ['PATH', 'HOME', 'NODE_OPTIONS', 'TZ'].includes(name);

let queue: Promise<unknown> = Promise.resolve();

export function runSumdaInProcess(
  args: string[],
  options: { env?: Record<string, string | undefined> } = {},
): Promise<CliResult> {
  const run = queue.then(() => runOnce(args, options.env ?? {}));
  queue = run.catch(() => undefined);
  return run;
}

async function runOnce(args: string[], env: Record<string, string | undefined>): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const savedEnv = { ...process.env };
  const savedArgv = process.argv;
  const savedCwd = process.cwd();
  const savedWrite = { out: process.stdout.write, err: process.stderr.write };
  const savedWriteSync = fs.writeSync;
  const savedTty = { in: process.stdin.isTTY, out: process.stdout.isTTY, err: process.stderr.isTTY };
  const listeners = {
    SIGINT: process.listeners('SIGINT'),
    SIGTERM: process.listeners('SIGTERM'),
    error: process.stdout.listeners('error'),
  };
  const capture =
    (to: 'out' | 'err') =>
    (chunk: unknown, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      if (to === 'out') stdout += text;
      else stderr += text;
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    };

  for (const name of Object.keys(process.env)) if (!KEPT(name)) delete process.env[name];
  process.env.NO_COLOR = '1';
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  process.argv = [process.execPath, BIN, ...args];
  process.chdir(EMPTY_CWD);
  process.stdin.isTTY = false;
  process.stdout.isTTY = false;
  process.stderr.isTTY = false;
  process.stdout.write = capture('out') as typeof process.stdout.write;
  process.stderr.write = capture('err') as typeof process.stderr.write;
  // pino's synchronous destination writes to fd 2 with fs.writeSync, past process.stderr.
  fs.writeSync = ((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 1 && fd !== 2) return (savedWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
    const text = typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8');
    if (fd === 1) stdout += text;
    else stderr += text;
    return typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).byteLength;
  }) as typeof fs.writeSync;
  process.exitCode = undefined;
  let code: number;
  try {
    await main(process.argv);
    code = Number(process.exitCode ?? 0);
  } catch (error) {
    // What Node does with an error thrown out of the entry point: the stack on stderr, exit 1.
    stderr += `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
    code = 1;
  } finally {
    process.exitCode = undefined;
    fs.writeSync = savedWriteSync;
    process.stdout.write = savedWrite.out;
    process.stderr.write = savedWrite.err;
    process.stdin.isTTY = savedTty.in;
    process.stdout.isTTY = savedTty.out;
    process.stderr.isTTY = savedTty.err;
    process.chdir(savedCwd);
    process.argv = savedArgv;
    for (const name of Object.keys(process.env)) delete process.env[name];
    Object.assign(process.env, savedEnv);
    // Each command installs its own signal handlers and its EPIPE guard; a process runs one command.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const l of process.listeners(signal)) if (!listeners[signal].includes(l)) process.off(signal, l);
    }
    for (const l of process.stdout.listeners('error'))
      if (!listeners.error.includes(l)) process.stdout.off('error', l as (e: Error) => void);
  }
  return { code, signal: null, stdout, stderr };
}
