/**
 * No diary plaintext outside the model call. Diaries carrying a unique marker are analysed by the
 * offline analyzer (in process and through `sumda worker --once`) and by the OpenAI analyzer against
 * the fake — good answers, a refusal, malformed JSON that quotes the diary, schema-invalid answers
 * that echo it, a crisis answer, a 500 that goes to retry — and then the marker is searched for in
 * every captured log line, every row of every table (pg-boss jobs, error rows, audit rows, analysis
 * metadata …) and the output of the operator commands. It must appear in the request the fake
 * received, and that request identifies the user only by a hash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import { createOpenAIAnalyzer } from '../../src/analysis/openai.ts';
import { type ActivePrompt, activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { safetyIdentifier } from '../../src/crypto/index.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import {
  ADMIN_EMAIL,
  analysisJobsOf,
  bootstrapTestAdmin,
  captureLogs,
  createUser,
  goodAnswer,
  jobsIn,
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
  type FakeOpenAI,
  startFakeOpenAI,
} from '../support/fake-openai.ts';

const MARKER = 'MARKER-7f3a9c';

const database = useTestDatabase();
const logs = captureLogs('trace');
const cli: { name: string; result: CliResult }[] = [];
let fake: FakeOpenAI;
let boss: PgBoss;
let keys: TestKeys;
let prompt: ActivePrompt;
let userId: string;
const ids: Record<string, string> = {};

/** The marker once per entry (the offline analyzer takes words repeated in an entry as keywords). */
function text(tag: string): string {
  return `오늘 회사에서 ${MARKER} 프로젝트 회의가 길어져서 조금 지쳤다. 그래도 저녁에는 따뜻한 차를 마셨다. CASE-${tag}`;
}

function caseOf(request: ChatRequest): string {
  const first = request.body.messages.find((m) => m.role === 'user');
  return /CASE-(\w+)/.exec(typeof first?.content === 'string' ? first.content : '')?.[1] ?? '';
}

function respond(request: ChatRequest): Behaviour {
  switch (caseOf(request)) {
    case 'good':
      return { kind: 'json', content: goodAnswer() };
    case 'crisis':
      return { kind: 'json', content: goodAnswer({ ethics_tags: ['self_harm'] }) };
    case 'refusal':
      return { kind: 'refusal', refusal: `I can't help with "${MARKER}".` };
    case 'truncated':
      return { kind: 'truncated', content: goodAnswer({ summary: `회의 ${MARKER} 이야기` }) };
    case 'malformed':
      // Malformed JSON that quotes the diary: the parser's message would quote it back.
      return { kind: 'text', content: `{"summary": "${MARKER} 회의가 길어져서` };
    case 'echo':
      // Off-schema answers that carry diary text in places a validator might repeat.
      return {
        kind: 'json',
        content: {
          ...goodAnswer({ summary: `${MARKER} `.repeat(40), keywords: [MARKER, MARKER, MARKER] }),
          [`${MARKER} 회의`]: `${MARKER}`,
        },
      };
    case 'e500':
      return { kind: 'error', status: 500, retryAfterMs: 10 };
    default:
      return { kind: 'error', status: 400, message: 'unexpected request in this test' };
  }
}

function env(extra: Record<string, string> = {}) {
  return {
    DATABASE_URL: database.url,
    SUMDA_ENCRYPTION_KEYS: keys.env,
    SUMDA_ACTOR: ADMIN_EMAIL,
    LOG_LEVEL: 'trace',
    ...extra,
  };
}

async function sumda(name: string, args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  const result = await runSumda(args, { env: env(extra) });
  cli.push({ name, result });
  return result;
}

beforeAll(async () => {
  const { db, url } = database;
  keys = testKeys();
  await bootstrapTestAdmin(db);
  userId = await createUser(db);
  for (const tag of [
    'offline1',
    'offline2',
    'good',
    'crisis',
    'refusal',
    'truncated',
    'malformed',
    'echo',
    'e500',
    'cli',
  ]) {
    ids[tag] = await writeDiary(db, keys.keyring, userId, text(tag));
  }
  // An entry sealed with a key this worker does not have: its job fails (and is retried).
  const foreign = testKeys('retired');
  ids.foreign = await writeDiary(db, foreign.keyring, userId, text('foreign'));

  fake = await startFakeOpenAI();
  fake.responder = respond;
  boss = createBoss(url);
  await boss.start();
  prompt = await activePrompt(new PolicyResolver(db));
  const config = testConfig(url, keys.env);

  // 1. The offline analyzer, in process.
  await enqueueAnalyses(boss, [ids.offline1!, ids.offline2!], prompt);
  await runWorkerOnce({ url, config, log: logs.log, analyzer: createLocalAnalyzer() });

  // 2. The OpenAI analyzer against the fake: answers, failures and a 500.
  const tags = ['good', 'crisis', 'refusal', 'truncated', 'malformed', 'echo', 'e500'];
  await enqueueAnalyses(
    boss,
    tags.map((t) => ids[t]!),
    prompt,
  );
  await runWorkerOnce({
    url,
    config,
    log: logs.log,
    analyzer: createOpenAIAnalyzer({ apiKey: 'test', baseURL: fake.url, timeoutMs: 10_000, log: logs.log }),
  });

  // 3. `sumda worker --once` with the offline analyzer, including the entry it cannot open.
  await enqueueAnalyses(boss, [ids.cli!, ids.foreign!], prompt);
  const worker = await sumda(
    'worker --once',
    ['worker', '--once', '--retry-horizon', '0', '--queues', 'analysis.run', '--json'],
    {
      SUMDA_ANALYZER: 'local',
    },
  );
  expect(worker.code, worker.stderr).toBe(0);

  // 4. What operators read.
  for (const tag of ['good', 'echo', 'offline1', 'cli']) {
    await sumda(`analysis show ${tag}`, ['analysis', 'show', ids[tag]!, '--internal', '--json']);
  }
  await sumda('analysis stats', ['analysis', 'stats', '--json']);
}, 60_000);

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
  await fake?.close();
});

describe('the work happened (the search below is not vacuous)', () => {
  it('results, terminal failures, a retry and a decryption failure were recorded', async () => {
    const { db } = database;
    const stored = await db.selectFrom('analysis_results').select('diary_id').execute();
    expect(stored.map((r) => r.diary_id).sort()).toEqual(
      ['offline1', 'offline2', 'good', 'crisis', 'cli'].map((t) => ids[t]).sort(),
    );
    const errors = await db.selectFrom('admin.error_logs').select(['ref_id', 'service', 'context']).execute();
    const outcomeOf = (tag: string) =>
      errors.filter((e) => e.ref_id === ids[tag]).map((e) => (e.context as { outcome?: string }).outcome);
    expect(outcomeOf('refusal')).toEqual(['refused']);
    expect(outcomeOf('truncated')).toEqual(['truncated']);
    expect(outcomeOf('malformed')).toEqual(['invalid_output']);
    expect(outcomeOf('echo')).toEqual(['invalid_output']);
    expect(await analysisJobsOf(db, ids.e500!)).toMatchObject([{ state: 'retry' }]);
    expect(outcomeOf('e500')).toEqual([undefined]);
  });

  it('a job that cannot decrypt its entry is written to admin.error_logs with service and ref_id', async () => {
    const rows = await database.db
      .selectFrom('admin.error_logs')
      .selectAll()
      .where('ref_id', '=', ids.foreign!)
      .execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      service: 'analysis',
      ref_id: ids.foreign,
      context: { queue: 'analysis.run', attempt: 1 },
    });
    expect(rows[0]!.message).toMatch(/sealed with key retired, which is not configured/);
    expect(await analysisJobsOf(database.db, ids.foreign!)).toMatchObject([{ state: 'retry' }]);
  });

  it('reading the private metadata was audited', async () => {
    const rows = await database.db
      .selectFrom('admin.audit_log')
      .select(['target_id'])
      .where('action', '=', 'analysis.read_internal')
      .execute();
    expect(rows.map((r) => r.target_id).sort()).toEqual(
      ['good', 'echo', 'offline1', 'cli'].map((t) => ids[t]).sort(),
    );
  });

  it('jobs carry ids only', async () => {
    const jobs = await jobsIn(database.db, 'analysis.run');
    expect(jobs.length).toBeGreaterThanOrEqual(11);
    for (const job of jobs) {
      expect(Object.keys(job.data ?? {}).sort()).toEqual(['diaryId', 'promptName', 'promptVersion']);
    }
  });
});

describe('the marker', () => {
  it('reached the model, with the user named only by a hash', () => {
    const requests = fake.chatRequests();
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      expect(JSON.stringify(request.body.messages)).toContain(MARKER);
      const body = request.body as unknown as Record<string, unknown>;
      expect(body.safety_identifier).toBe(safetyIdentifier(keys.keyring, userId));
      expect(body.safety_identifier).toMatch(/^[0-9a-f]{32}$/);
      expect(JSON.stringify(body)).not.toContain(userId);
    }
  });

  it('is in no log line of the in-process workers', () => {
    expect(logs.lines.length).toBeGreaterThan(10);
    const leaking = logs.lines.filter((l) => l.includes(MARKER));
    expect(leaking).toEqual([]);
  });

  it('is in no row of any table: pg-boss jobs, error rows, audit rows, analysis metadata …', async () => {
    expect(await tablesContaining(database.db, MARKER)).toEqual([]);
    // The search does find what is there: the user id is in many tables.
    expect(await tablesContaining(database.db, userId)).toEqual(
      expect.arrayContaining(['public.analysis_results', 'public.diary_entries', 'public.users']),
    );
  });

  it('is in no output of the operator commands', () => {
    expect(cli.map((c) => c.name)).toEqual([
      'worker --once',
      'analysis show good',
      'analysis show echo',
      'analysis show offline1',
      'analysis show cli',
      'analysis stats',
    ]);
    for (const { name, result } of cli) {
      expect(result.code, `${name}: ${result.stderr}`).toBe(0);
      expect(result.stdout, name).not.toContain(MARKER);
      expect(result.stderr, name).not.toContain(MARKER);
    }
    // `analysis show --internal` did show the private metadata and the failure.
    const echo = JSON.parse(cli[2]!.result.stdout) as { failures: { message: string; context: unknown }[] };
    expect(echo.failures).toHaveLength(1);
    const good = JSON.parse(cli[1]!.result.stdout) as { results: { metadata: unknown }[] };
    expect(good.results[0]!.metadata).toMatchObject({ analyzer: 'openai' });
  });
});
