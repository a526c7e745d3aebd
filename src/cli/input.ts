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
