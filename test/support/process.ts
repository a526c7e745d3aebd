/**
 * A long-running `bin/sumda` subprocess (e.g. `sumda worker`): its output as lines, waiting for a
 * line, sending signals and awaiting the exit. Like runSumda it passes a clean environment: only
 * PATH/HOME/NO_COLOR and what the test gives. Call `kill()` in a `finally`/`afterEach` so a failing
 * test never leaves a worker behind.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawnSumda } from './cli.ts';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SumdaProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  /** Resolves once the process has exited and its streams are closed. */
  readonly exited: Promise<Exit>;
  /** Resolves with the first stderr line (past or future) that matches; rejects after `timeoutMs` or on exit. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** The stderr lines that are JSON log records, parsed. */
  logs(): Record<string, unknown>[];
  send(signal: NodeJS.Signals): void;
  /** SIGKILL when still running; resolves when it is gone. */
  kill(): Promise<void>;
}

export function startSumda(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; nodeArgs?: string[] } = {},
): SumdaProcess {
  const child = spawnSumda(args, options);
  child.stdin.end();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  const splitter = (into: string[], notify: boolean) => {
    let rest = '';
    return (chunk: Buffer) => {
      rest += chunk.toString('utf8');
      const parts = rest.split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        into.push(line);
        if (!notify) continue;
        for (const w of waiters) {
          if (w.match(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    };
  };
  child.stdout.on('data', splitter(stdout, false));
  child.stderr.on('data', splitter(stderr, true));
  let running = true;
  const exited = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      running = false;
      resolve({ code, signal });
    });
  });

  return {
    child,
    pid: child.pid ?? -1,
    stdout,
    stderr,
    exited,
    waitForLine(match, timeoutMs = 20_000) {
      const seen = stderr.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const waiter = {
          match,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`no matching line within ${timeoutMs} ms; stderr:\n${stderr.slice(-20).join('\n')}`),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(
            new Error(`the process exited before a matching line; stderr:\n${stderr.slice(-20).join('\n')}`),
          );
        });
      });
    },
    logs() {
      const records: Record<string, unknown>[] = [];
      for (const line of stderr) {
        if (!line.startsWith('{')) continue;
        try {
          records.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a partial or non-JSON line
        }
      }
      return records;
    },
    send(signal) {
      if (running) child.kill(signal);
    },
    async kill() {
      if (running) child.kill('SIGKILL');
      await exited.catch(() => {});
    },
  };
}

/** A log line (JSON) whose `msg` is exactly `msg`. */
export function hasMsg(msg: string): (line: string) => boolean {
  return (line) => line.includes(`"msg":${JSON.stringify(msg)}`);
}

/** Polls `check` until it returns true; rejects after `timeoutMs` (a bound against hanging, not a timing assertion). */
export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}
