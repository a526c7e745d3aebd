/**
 * Reading operator input: files or stdin, JSON with a clear error, numbers and ids. Times and
 * durations have their own grammar: src/time/grammar.ts.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { isUuid } from '../util/uuid.ts';

/** Reads a file, or stdin for `-`. */
export async function readInput(path: string, flag = '--file'): Promise<string> {
  if (path === '-') {
    if (process.stdin.isTTY) throw new UsageError(`${flag} -: nothing is piped into stdin`);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(
      `${flag} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export function parseIntFlag(text: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} ${text}: a whole number from ${min} to ${max}`);
  return n;
}

export function parseUuid(text: string, what: string): string {
  if (!isUuid(text)) throw new UsageError(`${what} ${quote(text)} is not an id (a UUID)`);
  return text.toLowerCase();
}
