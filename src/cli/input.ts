/**
 * Reading operator input: files or stdin, JSON with a clear error, numbers and ids. Times and
 * durations have their own grammar: src/time/grammar.ts.
 */
import type { FileHandle } from 'node:fs/promises';
import { UsageError } from '../errors.ts';
import { quote } from '../util/quote.ts';
import { isUuid } from '../util/uuid.ts';

/**
 * Caps on what the CLI reads (files, stdin, JSON): policies, prompts, parameters, announcement
 * bodies and replies are kilobytes; a 49 MB policy is a mistake or an attack, and once published it
 * can never be removed. Over a cap: one line, exit 2, before anything is parsed or written.
 */
export const MAX_INPUT_BYTES = 1024 * 1024;
/** Longest array in JSON input (crisis resources, tags, …): real ones have a handful of items. */
export const MAX_JSON_ARRAY = 1000;
/** Deepest nesting of JSON input. */
export const MAX_JSON_DEPTH = 32;

function tooLarge(flag: string, path: string, bytes: number | null, max: number): UsageError {
  const size = bytes === null ? 'more than' : `${(bytes / 1024 / 1024).toFixed(1)} MB, over`;
  return new UsageError(`${flag} ${path}: ${size} the ${max / 1024 / 1024} MB limit of an input file`);
}

/** Reads a file, or stdin for `-`, refusing more than `maxBytes` (exit 2). */
export async function readInput(path: string, flag = '--file', maxBytes = MAX_INPUT_BYTES): Promise<string> {
  if (path === '-') {
    if (process.stdin.isTTY) throw new UsageError(`${flag} -: nothing is piped into stdin`);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of process.stdin) {
      total += (chunk as Buffer).length;
      if (total > maxBytes) {
        process.stdin.destroy();
        throw tooLarge(flag, '-', null, maxBytes);
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
  // Loaded here, not at the top: most commands that list this module read no file.
  const { open } = await import('node:fs/promises');
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (error) {
    throw new UsageError(
      `${flag} ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    );
  }
  try {
    const info = await file.stat();
    if (!info.isFile()) throw new UsageError(`${flag} ${path}: not a regular file`);
    if (info.size > maxBytes) throw tooLarge(flag, path, info.size, maxBytes);
    // The size is checked again on what is read: the file may grow between stat and read.
    const buffer = Buffer.alloc(maxBytes + 1);
    let read = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, read, buffer.length - read, null);
      if (bytesRead === 0) break;
      read += bytesRead;
      if (read > maxBytes) throw tooLarge(flag, path, null, maxBytes);
    }
    return buffer.subarray(0, read).toString('utf8');
  } finally {
    await file.close();
  }
}

/** The first place a JSON value exceeds the array-length or depth cap, as a JSON path; null when none. */
export function jsonShapeProblem(value: unknown, path = '$', depth = 0): string | null {
  if (depth > MAX_JSON_DEPTH) return `${path} is nested deeper than ${MAX_JSON_DEPTH} levels`;
  if (Array.isArray(value)) {
    if (value.length > MAX_JSON_ARRAY)
      return `${path} has ${value.length} items, over the limit of ${MAX_JSON_ARRAY}`;
    for (let i = 0; i < value.length; i++) {
      const problem = jsonShapeProblem(value[i], `${path}[${i}]`, depth + 1);
      if (problem) return problem;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      const problem = jsonShapeProblem(inner, `${path}.${key}`, depth + 1);
      if (problem) return problem;
    }
  }
  return null;
}

/** JSON from operator input: valid, and within the array-length and depth caps (exit 2 otherwise). */
export function parseJson(text: string, what: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
  const problem = jsonShapeProblem(value);
  if (problem) throw new UsageError(`${what}: ${problem}`);
  return value;
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

/** Collects a repeatable option (`--set a=1 --set b=2`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--set key=value` on top of a policy config: the key is a dotted path inside the policy
 * (`spike_tier_a`, `healthy_high.min_valence`; a leading `slip.` is allowed) that must exist; the
 * value is JSON, or a bare word for a string. The schema is checked afterwards, as for a file.
 */
export async function applySetFlags(
  config: unknown,
  policy: string,
  sets: readonly string[],
): Promise<unknown> {
  const { applyAt, hasPath, startLayer } = await import('../policy/merge.ts');
  let layered = startLayer(config as import('../policy/merge.ts').JsonObject, {
    layer: 'base',
    kind: 'version',
  });
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set ${quote(set)}: write key=value (e.g. --set spike_tier_a=3.4)`);
    const key = set.slice(0, eq).replace(new RegExp(`^${policy}\\.`), '');
    const text = set.slice(eq + 1);
    const path = key.split('.');
    if (!hasPath(layered.value, path))
      throw new UsageError(`--set ${quote(key)}: the ${policy} policy has no such setting`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (!/^[\p{L}\p{N}_.:-]+$/u.test(text))
        throw new UsageError(`--set ${quote(key)}: the value is neither JSON nor a bare word`);
      value = text;
    }
    layered = applyAt(layered, path, value, { layer: '--set', kind: 'override' });
  }
  return layered.value;
}
