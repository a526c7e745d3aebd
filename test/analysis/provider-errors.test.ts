/**
 * Provider errors never carry diary text into sumda's records. A model server may quote its input
 * back in an error body (some proxies and self-hosted servers do, and the SDK puts the body's
 * message into `error.message`). Here the fake OpenAI quotes the whole user message — the prompt
 * with the diary in it — in the message and `param` of every 4xx, 429, 5xx and gateway-timeout
 * answer; other entries hang until the client times out or lose the connection. The analysis runs
 * through the real openai SDK, in process and as `sumda worker --once`, and then the diary's marker
 * is searched for in every log line, every row of every table (error_logs, pg-boss jobs and their
 * output, audit rows) and the CLI's stdout/stderr. What operators get instead: status, code and
 * request id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpenAIAnalyzer } from '../../src/analysis/openai.ts';
import { type ActivePrompt, activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import {
  ADMIN_EMAIL,
  analysisJobsOf,
  bootstrapTestAdmin,
  captureLogs,
  createUser,
  runWorkerOnce,
  type TestKeys,
  tablesContaining,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { type CliResult, runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import {
  type Behaviour,
  type ChatRequest,
  type ErrorBehaviour,
  type FakeOpenAI,
  startFakeOpenAI,
} from '../support/fake-openai.ts';

const MARKER = 'LEAK-4be1d0';

/** Statuses whose error bodies quote the input; `hang` and `disconnect` send no body at all. */
const QUOTING: Record<string, ErrorBehaviour['status']> = {
  q400: 400,
  q401: 401,
  q403: 403,
  q404: 404,
  q408: 408,
  q409: 409,
  q422: 422,
  q429: 429,
  q500: 500,
  q502: 502,
  q503: 503,
  q504: 504,
};
const CASES = [...Object.keys(QUOTING), 'hang', 'disconnect'];
const CLI_CASES = ['cli400', 'cli429', 'cli500', 'clihang'];

const database = useTestDatabase();
const logs = captureLogs('trace');
let fake: FakeOpenAI;
let boss: PgBoss;
let keys: TestKeys;
let prompt: ActivePrompt;
let cli: CliResult;
const ids: Record<string, string> = {};

function text(tag: string): string {
  return `퇴근길에 ${MARKER} 일을 생각하며 한참을 걸었다. 마음이 복잡했다. CASE-${tag}`;
}

function userMessage(request: ChatRequest): string {
  const first = request.body.messages.find((m) => m.role === 'user');
  return typeof first?.content === 'string' ? first.content : '';
}

/** An error body that quotes the request, as a careless provider or proxy would. */
function quoting(status: ErrorBehaviour['status'], request: ChatRequest): Behaviour {
  const input = userMessage(request);
  return {
    kind: 'error',
    status,
    message: `Could not process the input: "${input}"`,
    param: input.slice(0, 200),
    // The SDK honours retry-after-ms: keep its own retries fast.
    retryAfterMs: 5,
  };
}

function respond(request: ChatRequest): Behaviour {
  const tag = /CASE-(\w+)/.exec(userMessage(request))?.[1] ?? '';
  const status = QUOTING[tag];
  if (status) return quoting(status, request);
  switch (tag) {
    case 'cli400':
      return quoting(400, request);
    case 'cli429':
      return quoting(429, request);
    case 'cli500':
      return quoting(500, request);
    case 'hang':
    case 'clihang':
      return { kind: 'hang' };
    case 'disconnect':
      return { kind: 'disconnect' };
    default:
      return { kind: 'error', status: 400, message: 'unexpected request in this test' };
  }
}

beforeAll(async () => {
  const { db, url } = database;
  keys = testKeys();
  await bootstrapTestAdmin(db);
  const userId = await createUser(db);
  for (const tag of [...CASES, ...CLI_CASES])
    ids[tag] = await writeDiary(db, keys.keyring, userId, text(tag));

  fake = await startFakeOpenAI();
  fake.responder = respond;
  boss = createBoss(url);
  await boss.start();
  prompt = await activePrompt(new PolicyResolver(db));

  // In process: every quoting status, a timeout and a lost connection.
  await enqueueAnalyses(
    boss,
    CASES.map((t) => ids[t]!),
    prompt,
  );
  await runWorkerOnce({
    url,
    config: testConfig(url, keys.env),
    log: logs.log,
    analyzer: createOpenAIAnalyzer({
      apiKey: 'test',
      baseURL: fake.url,
      // Long enough for a quoting answer on a loaded machine (at 400 ms a slow 429 read as a timeout).
      timeoutMs: 2000,
      maxRetries: 1,
      log: logs.log,
    }),
  });

  // The CLI: `sumda worker --once` with the openai analyzer configured from the environment.
  await enqueueAnalyses(
    boss,
    CLI_CASES.map((t) => ids[t]!),
    prompt,
  );
  cli = await runSumda(['worker', '--once', '--retry-horizon', '0', '--queues', 'analysis.run', '--json'], {
    env: {
      DATABASE_URL: url,
      SUMDA_ENCRYPTION_KEYS: keys.env,
      SUMDA_ACTOR: ADMIN_EMAIL,
      LOG_LEVEL: 'trace',
      SUMDA_ANALYZER: 'openai',
      OPENAI_API_KEY: 'test',
      OPENAI_BASE_URL: fake.url,
      OPENAI_TIMEOUT_MS: '2000',
    },
  });
}, 90_000);

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
  await fake?.close();
});

describe('the failures happened (the search below is not vacuous)', () => {
  it('every case reached the fake, whose error bodies quoted the diary', () => {
    const seen = new Set(fake.chatRequests().map((r) => /CASE-(\w+)/.exec(userMessage(r))?.[1]));
    for (const tag of [...CASES, ...CLI_CASES]) expect(seen.has(tag), tag).toBe(true);
    expect(fake.chatRequests().every((r) => userMessage(r).includes(MARKER))).toBe(true);
  });

  it('the worker ran and recorded each failure', async () => {
    expect(cli.code, cli.stderr).toBe(0);
    const errors = await database.db.selectFrom('admin.error_logs').select(['ref_id', 'message']).execute();
    for (const tag of [...CASES, ...CLI_CASES]) {
      expect(
        errors.some((e) => e.ref_id === ids[tag]),
        tag,
      ).toBe(true);
    }
    // 400 and 422 are rejections (terminal); the rest are retried later by the queue.
    expect(await analysisJobsOf(database.db, ids.q429!)).toMatchObject([{ state: 'retry' }]);
    expect(await analysisJobsOf(database.db, ids.q400!)).toMatchObject([{ state: 'completed' }]);
  });

  it('operators get status, code and request id instead', async () => {
    const rows = await database.db
      .selectFrom('admin.error_logs')
      .select(['ref_id', 'message', 'stack', 'context'])
      .execute();
    const of = (tag: string) => rows.filter((r) => r.ref_id === ids[tag]);
    expect(of('q429')[0]!.message).toMatch(/OpenAI 429 rate_limit_exceeded \(request req_[0-9a-f]+\)/);
    expect(of('q503')[0]!.message).toMatch(/OpenAI 503 .*\(request req_[0-9a-f]+\)/);
    expect(of('q401')[0]!.message).toMatch(/OpenAI 401 .*check OPENAI_API_KEY/);
    expect(of('hang')[0]!.message).toMatch(/OpenAI timed out/);
    expect(of('q400')[0]!.message).toMatch(/analysis rejected: OpenAI 400 /);
    const refusals = logs.lines
      .filter((l) => l.includes('OpenAI refused our credentials'))
      .map((l) => JSON.parse(l) as { status: number; requestId: string });
    expect(new Set(refusals.map((r) => r.status))).toEqual(new Set([401, 403, 404]));
    for (const r of refusals) expect(r.requestId).toMatch(/^req_/);
  });
});

describe('the diary marker', () => {
  it('is in no log line of the in-process worker', () => {
    expect(logs.lines.length).toBeGreaterThan(10);
    expect(logs.lines.filter((l) => l.includes(MARKER))).toEqual([]);
  });

  it('is in no row of any table: error_logs, pg-boss jobs and their output, audit rows …', async () => {
    expect(await tablesContaining(database.db, MARKER)).toEqual([]);
    // The search finds what is there: the entries' ids are in the error and job tables.
    expect(await tablesContaining(database.db, ids.q500!)).toEqual(
      expect.arrayContaining(['admin.error_logs', 'pgboss.job']),
    );
  });

  it('is in no output of `sumda worker --once`', () => {
    expect(cli.stderr.length).toBeGreaterThan(0);
    expect(cli.stdout).not.toContain(MARKER);
    expect(cli.stderr).not.toContain(MARKER);
    expect(cli.stderr).not.toContain('Could not process the input');
  });
});
