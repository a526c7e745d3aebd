/**
 * The side-by-side rule of a rolling deploy (README "Rolling deploys"): payload schemas only grow, by
 * optional fields. Checked two ways: against the recorded schemas of the last release
 * (test/fixtures/payload-schemas.json; `UPDATE_PAYLOAD_SCHEMAS=1` records the current ones once a
 * release ships), and by running a job a newer sender wrote — a field this worker does not know —
 * through this worker: it is read, not rejected.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import { activePrompt } from '../../src/analysis/run.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, enqueue } from '../../src/queue/boss.ts';
import { ALL_QUEUES, QUEUES, readerSchema } from '../../src/queue/catalog.ts';
import {
  analysisJobsOf,
  captureLogs,
  createUser,
  runWorkerOnce,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';

const SNAPSHOT = fileURLToPath(new URL('../fixtures/payload-schemas.json', import.meta.url));

interface ObjectSchema {
  type?: string;
  properties?: Record<string, unknown>;
  required?: string[];
}

function current(): Record<string, ObjectSchema> {
  return Object.fromEntries(
    ALL_QUEUES.map((q) => [q.name, z.toJSONSchema(q.payload, { io: 'input' }) as ObjectSchema]),
  );
}

/** Every way `next` breaks a reader or a sender of `previous`. */
function breaks(previous: ObjectSchema, next: ObjectSchema): string[] {
  const problems: string[] = [];
  const before = previous.properties ?? {};
  const after = next.properties ?? {};
  const wasRequired = new Set(previous.required ?? []);
  for (const [field, schema] of Object.entries(before)) {
    if (!(field in after)) problems.push(`${field} was removed`);
    else if (JSON.stringify(after[field]) !== JSON.stringify(schema)) problems.push(`${field} changed type`);
  }
  for (const field of next.required ?? []) {
    if (!wasRequired.has(field)) problems.push(`${field} is required now (new fields must be optional)`);
  }
  return problems;
}

it('every queue payload only grew, by optional fields, since the recorded release', () => {
  const now = current();
  if (process.env.UPDATE_PAYLOAD_SCHEMAS) writeFileSync(SNAPSHOT, `${JSON.stringify(now, null, 2)}\n`);
  const recorded = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, ObjectSchema>;
  const problems = Object.entries(recorded).flatMap(([queue, schema]) =>
    now[queue]
      ? breaks(schema, now[queue]).map((p) => `${queue}: ${p}`)
      : [`${queue}: the queue is gone while older workers may still send to it`],
  );
  expect(problems).toEqual([]);
});

it('the check itself catches a removed, retyped or newly required field', () => {
  const old: ObjectSchema = {
    properties: { a: { type: 'string' }, b: { type: 'number' } },
    required: ['a'],
  };
  expect(breaks(old, { properties: { a: { type: 'string' }, b: { type: 'number' }, c: {} } })).toEqual([]);
  expect(breaks(old, { properties: { a: { type: 'string' } } })).toEqual(['b was removed']);
  expect(breaks(old, { properties: { a: { type: 'number' }, b: { type: 'number' } } })).toEqual([
    'a changed type',
  ]);
  expect(
    breaks(old, {
      properties: { a: { type: 'string' }, b: { type: 'number' }, c: {} },
      required: ['a', 'c'],
    }),
  ).toEqual(['c is required now (new fields must be optional)']);
});

it('senders stay strict (nothing but the catalog fields is enqueued); readers ignore unknown fields', () => {
  const payload = { analysisId: '6f1c0d2e-1111-4222-8333-444455556666', addedLater: 'x' };
  expect(QUEUES.slipCheck.payload.safeParse(payload).success).toBe(false);
  expect(readerSchema(QUEUES.slipCheck).parse(payload)).toEqual({ analysisId: payload.analysisId });
});

const database = useTestDatabase();

it('a job from a newer sender (a field this worker does not know) is run, not rejected', async () => {
  const keys = testKeys();
  const userId = await createUser(database.db);
  const diaryId = await writeDiary(database.db, keys.keyring, userId, '오늘은 천천히 걸었다.');
  const prompt = await activePrompt(new PolicyResolver(database.db));
  const boss = createBoss(database.url);
  await boss.start();
  try {
    // What a newer release might send: the same fields plus one added since.
    await boss.send('analysis.run', {
      diaryId,
      promptName: prompt.promptName,
      promptVersion: prompt.promptVersion,
      priorityHint: 'backfill',
    });
    // This build's own sender stays strict: it refuses the field it does not know.
    await expect(
      enqueue(boss, 'analysisRun', {
        diaryId,
        promptName: prompt.promptName,
        promptVersion: prompt.promptVersion,
        priorityHint: 'x',
      } as never),
    ).rejects.toThrow();
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  const { log } = captureLogs('info');
  const result = await runWorkerOnce({
    url: database.url,
    config: testConfig(database.url, keys.env),
    log,
    analyzer: createLocalAnalyzer(),
  });
  expect(result.processed['analysis.run']).toEqual({ completed: 1, failed: 0 });
  expect(await analysisJobsOf(database.db, diaryId)).toMatchObject([
    { state: 'completed', output: { status: 'stored' } },
  ]);
});
