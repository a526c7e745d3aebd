/**
 * Caps on what the CLI reads: a file or stdin over 1 MB, a JSON array over 1000 items or nesting
 * deeper than 32 levels, and more crisis resources than a policy may list are refused with one line
 * and exit 2 before anything is parsed further or written (the 49 MB policy of issue 12 could never
 * be removed once published).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  jsonShapeProblem,
  MAX_INPUT_BYTES,
  MAX_JSON_ARRAY,
  parseJson,
  readInput,
} from '../../src/cli/input.ts';
import { configProblems, DEFAULT_POLICIES, MAX_CRISIS_RESOURCES } from '../../src/policy/schemas.ts';
import { auditRows, cliEnv, errorLines, seedTeam } from '../admins/support.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();
const dir = mkdtempSync(join(tmpdir(), 'sumda-caps-'));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const ethics = DEFAULT_POLICIES.ethics as { crisis_resources: unknown[] };
const resource = ethics.crisis_resources[0];

describe('readInput and parseJson', () => {
  it('read up to the limit, refuse one byte more (exit 2, naming the flag and the size)', async () => {
    const exact = file('exact.txt', 'a'.repeat(MAX_INPUT_BYTES));
    expect((await readInput(exact)).length).toBe(MAX_INPUT_BYTES);
    const over = file('over.json', 'a'.repeat(MAX_INPUT_BYTES + 1));
    const error = (await readInput(over, '--file').then(
      () => null,
      (e: unknown) => e,
    )) as { message: string; exitCode: number };
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe(`--file ${over}: 1.0 MB, over the 1 MB limit of an input file`);
    await expect(readInput(dir, '--file')).rejects.toThrow(/not a regular file/);
  });

  it('refuse long arrays and deep nesting, naming where', () => {
    expect(jsonShapeProblem({ a: [1, 2, 3] })).toBeNull();
    expect(() => parseJson(JSON.stringify({ tags: Array(MAX_JSON_ARRAY + 1).fill('x') }), 'p.json')).toThrow(
      'p.json: $.tags has 1001 items, over the limit of 1000',
    );
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(() => parseJson(JSON.stringify(deep), 'd.json')).toThrow(/is nested deeper than 32 levels/);
  });

  it(`an ethics policy lists at most ${MAX_CRISIS_RESOURCES} crisis resources`, () => {
    const many = { ...ethics, crisis_resources: Array(MAX_CRISIS_RESOURCES + 1).fill(resource) };
    expect(configProblems('ethics', many).join('\n')).toContain(
      `at most ${MAX_CRISIS_RESOURCES} crisis resources`,
    );
    expect(configProblems('ethics', { ...ethics, crisis_resources: [resource] })).toEqual([]);
  });
});

describe('sumda policy publish', () => {
  beforeAll(async () => {
    await seedTeam(database.db);
  });

  const publish = (args: string[], input?: string) =>
    runSumda(['policy', 'publish', 'ethics', '--version', 'v9.0.0', ...args], {
      env: cliEnv(database.url, 'lead@sumda.test'),
      input,
    });

  it('refuses an oversized file, stdin, a long array and too many resources: exit 2, one line, nothing published', {
    timeout: 90_000,
  }, async () => {
    const before = (await auditRows(database.db)).length;
    const big = file('big.json', JSON.stringify({ ...ethics, pad: 'x'.repeat(2 * MAX_INPUT_BYTES) }));
    const longArray = file(
      'long.json',
      JSON.stringify({ ...ethics, crisis_resources: Array(5000).fill(resource) }),
    );
    const tooMany = file(
      'many.json',
      JSON.stringify({ ...ethics, crisis_resources: Array(MAX_CRISIS_RESOURCES + 5).fill(resource) }),
    );
    const results = [
      await publish(['--file', big]),
      await publish(['--file', '-'], 'x'.repeat(MAX_INPUT_BYTES + 10)),
      await publish(['--file', longArray]),
      await publish(['--file', tooMany]),
    ];
    for (const r of results) expect(r.code, r.stderr).toBe(2);
    expect(errorLines(results[0]!.stderr)).toEqual([
      `error: --file ${big}: 2.0 MB, over the 1 MB limit of an input file`,
    ]);
    expect(errorLines(results[1]!.stderr)).toEqual([
      'error: --file -: more than the 1 MB limit of an input file',
    ]);
    expect(errorLines(results[2]!.stderr)).toEqual([
      `error: ${longArray}: $.crisis_resources has 5000 items, over the limit of 1000`,
    ]);
    expect(results[3]!.stderr).toContain(`at most ${MAX_CRISIS_RESOURCES} crisis resources`);
    const versions = await database.db
      .selectFrom('admin.ai_policy_versions')
      .select('version')
      .where('version', '=', 'v9.0.0')
      .execute();
    expect(versions).toEqual([]);
    expect((await auditRows(database.db)).filter((r) => r.outcome === 'success').length).toBeLessThanOrEqual(
      before,
    );
  });
});
