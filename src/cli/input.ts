/** Reading operator input: files or stdin, JSON with a clear error, times given as dates or as "ago". */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { parseDuration } from '../util/duration.ts';

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

/** `2026-11-01`, `2026-11-01T09:00:00+09:00`, or a duration meaning "that long ago" (`7d`, `12h`). */
export function parseSince(text: string, flag = '--since', now: Date = new Date()): Date {
  if (/^(\d+(ms|s|m|h|d|w))+$/.test(text)) return new Date(now.getTime() - parseDuration(text, flag));
  return parseInstant(text, flag);
}

/** An instant; a bare date means midnight in Asia/Seoul, the service's calendar. */
export function parseInstant(text: string, flag: string): Date {
  const value = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00+09:00` : text;
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new UsageError(`${flag} ${JSON.stringify(text)}: not a date (use 2026-11-25, an ISO time, or 7d)`);
  return date;
}

export function parseIntFlag(text: string, flag: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} ${text}: a whole number from ${min} to ${max}`);
  return n;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function parseUuid(text: string, what: string): string {
  if (!UUID.test(text)) throw new UsageError(`${what} ${JSON.stringify(text)} is not an id (a UUID)`);
  return text.toLowerCase();
}
