/**
 * Layered configuration with provenance. Layers apply lowest first; plain objects deep-merge,
 * everything else (scalars, arrays) replaces. Every leaf path remembers the layer that last set
 * it, which is what `policy resolve --explain` prints.
 */

export type JsonObject = { [key: string]: unknown };

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export interface Provenance {
  /** e.g. `default`, `version v1.2.0 (global)`, `override 3f2a… (user:…)` */
  layer: string;
  kind: 'default' | 'version' | 'override';
  id?: string;
}

export interface Layered {
  value: JsonObject;
  /** Leaf path (dotted, relative to the policy) → who set it. */
  sources: Map<string, Provenance>;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

export function startLayer(value: JsonObject, provenance: Provenance): Layered {
  // applyAt returns a new Layered (the input stays untouched): the result is the layer.
  return applyAt({ value: {}, sources: new Map() }, [], value, provenance);
}

/** Applies `value` at `path` (empty = the root). Returns a new Layered; the input is untouched. */
export function applyAt(
  base: Layered,
  path: readonly string[],
  value: unknown,
  provenance: Provenance,
): Layered {
  const next: Layered = { value: clone(base.value), sources: new Map(base.sources) };
  set(next, path, value, provenance);
  return next;
}

function set(target: Layered, path: readonly string[], value: unknown, provenance: Provenance): void {
  if (isPlainObject(value)) {
    ensureObjectAt(target.value, path);
    for (const [key, inner] of Object.entries(value)) set(target, [...path, key], inner, provenance);
    return;
  }
  if (path.length === 0) throw new Error('only an object can be applied at the root');
  const parent = ensureObjectAt(target.value, path.slice(0, -1));
  parent[path.at(-1)!] = clone(value);
  const dotted = path.join('.');
  for (const key of [...target.sources.keys()]) {
    if (key === dotted || key.startsWith(`${dotted}.`)) target.sources.delete(key);
  }
  target.sources.set(dotted, provenance);
}

function ensureObjectAt(root: JsonObject, path: readonly string[]): JsonObject {
  let node = root;
  for (const key of path) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as JsonObject;
  }
  return node;
}

/** Every leaf of a JSON value as [dotted path, value]; arrays are leaves. */
export function flatten(value: unknown, prefix = ''): [string, unknown][] {
  if (!isPlainObject(value)) return [[prefix, value]];
  const entries = Object.entries(value);
  if (entries.length === 0 && prefix) return [[prefix, {}]];
  return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

/** Whether a dotted path names a key the config has (a leaf or an object). */
export function hasPath(value: unknown, path: readonly string[]): boolean {
  let node = value;
  for (const key of path) {
    if (!isPlainObject(node) || !(key in node)) return false;
    node = node[key];
  }
  return true;
}

export interface DiffLine {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** Differences between two configs by JSON path. */
export function diffConfigs(a: unknown, b: unknown): DiffLine[] {
  const left = new Map(flatten(a));
  const right = new Map(flatten(b));
  const paths = [...new Set([...left.keys(), ...right.keys()])].sort();
  const lines: DiffLine[] = [];
  for (const path of paths) {
    const inA = left.has(path);
    const inB = right.has(path);
    if (inA && !inB) lines.push({ path, kind: 'removed', before: left.get(path) });
    else if (!inA && inB) lines.push({ path, kind: 'added', after: right.get(path) });
    else if (JSON.stringify(left.get(path)) !== JSON.stringify(right.get(path))) {
      lines.push({ path, kind: 'changed', before: left.get(path), after: right.get(path) });
    }
  }
  return lines;
}

/** JSON with sorted keys: equal configs hash equal however they were written. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
