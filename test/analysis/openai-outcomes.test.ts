/**
 * The analysis through the real openai SDK against the fake server, end to end in one worker run
 * (`runWorker({ once })`): one diary per scenario, told apart by a `CASE-<name>` tag in its text
 * that the fake's responder reads from the prompt. Proves: good answers are stored with full
 * metadata and their slip check in the same transaction; refusals, cut-offs, content-filter stops
 * and invalid output are recorded failures (never invented values) and are not retried; at most one
 * repair call, none when the policy says 0; the SDK's retries are bounded (429 → retried once,
 * persistent 500 → maxRetries+1 attempts, then the queue's retry, then the dead-letter queue);
 * crisis answers get the vetted template.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerResult } from '../../jobs/runtime.ts';
import { createOpenAIAnalyzer } from '../../src/analysis/openai.ts';
import { costOf, PRICE_TABLE } from '../../src/analysis/pricing.ts';
import { analysisStats, failureOutcomes } from '../../src/analysis/queries.ts';
import { activePrompt, analysisSingletonKey, enqueueAnalyses } from '../../src/analysis/run.ts';
import { ANALYSIS_SCHEMA_VERSION } from '../../src/analysis/schema.ts';
import { safetyIdentifier } from '../../src/crypto/index.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { DEFAULT_POLICIES } from '../../src/policy/schemas.ts';
import { activateVersion, publishVersion } from '../../src/policy/versions.ts';
import { BUILTIN_ANALYSIS_PROMPT } from '../../src/prompts/builtin.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import {
  analysisJobsOf,
  bootstrapTestAdmin,
  captureLogs,
  createUser,
  goodAnswer,
  jobsIn,
  runWorkerOnce,
  type TestKeys,
  testConfig,
  testKeys,
  writeDiary,
} from '../support/analysis.ts';
import { runSumda } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import {
  type Behaviour,
  type ChatRequest,
  type FakeOpenAI,
  fakeSnapshot,
  fakeTokenCount,
  startFakeOpenAI,
} from '../support/fake-openai.ts';

const database = useTestDatabase();

const CASES = [
  'good',
  'refusal',
  'truncated',
  'filter',
  'malformed2',
  'invalid2',
  'malformed1',
  'norepair',
  'r429',
  'e500',
  'dead',
  'crisis',
] as const;
type Case = (typeof CASES)[number];

const MALFORMED = '{"language": "ko", "summary": "친구와 걸었던';
const CRISIS_ANSWER = goodAnswer({
  ethics_tags: ['self_harm'],
  valence: -0.8,
  tier_a: 3.1,
  interpretation: '모델이 즉흥적으로 쓴 해석입니다.',
  reflection_question: '모델이 즉흥적으로 만든 질문인가요?',
});

function caseOf(request: ChatRequest): string {
  const first = request.body.messages.find((m) => m.role === 'user');
  const text = typeof first?.content === 'string' ? first.content : '';
  return /CASE-(\w+)/.exec(text)?.[1] ?? 'unknown';
}

/** What the "model" answers per scenario; a repair call carries the earlier answer (> 2 messages). */
function respond(request: ChatRequest): Behaviour {
  const repair = request.body.messages.length > 2;
  switch (caseOf(request) as Case) {
    case 'good':
      return { kind: 'json', content: goodAnswer() };
    case 'refusal':
      return { kind: 'refusal', refusal: "I'm sorry, I can't help with that." };
    case 'truncated':
      return { kind: 'truncated', content: goodAnswer() };
    case 'filter':
      return { kind: 'content_filter' };
    case 'malformed2':
    case 'norepair':
      return { kind: 'text', content: MALFORMED };
    case 'invalid2':
      return { kind: 'json', content: goodAnswer({ tier_a: 9 }) };
    case 'malformed1':
      return repair ? { kind: 'json', content: goodAnswer() } : { kind: 'text', content: MALFORMED };
    case 'r429':
      return request.retryCount === 0
        ? { kind: 'error', status: 429, retryAfterSeconds: 1 }
        : { kind: 'json', content: goodAnswer() };
    case 'e500':
    case 'dead':
      return { kind: 'error', status: 500, retryAfterMs: 10 };
    case 'crisis':
      return { kind: 'json', content: CRISIS_ANSWER };
    default:
      return { kind: 'error', status: 400, message: 'unexpected request in this test' };
  }
}

let fake: FakeOpenAI;
let boss: PgBoss;
let keys: TestKeys;
let userId: string;
let noRepairUserId: string;
let result: WorkerResult;
const diary = {} as Record<Case, string>;
const logs = captureLogs();

function attempts(c: Case): ChatRequest[] {
  return fake.chatRequests().filter((r) => caseOf(r) === c);
}

async function analysesOf(diaryId: string) {
  return database.db.selectFrom('analysis_results').selectAll().where('diary_id', '=', diaryId).execute();
}

async function errorsOf(diaryId: string) {
  return database.db
    .selectFrom('admin.error_logs')
    .selectAll()
    .where('ref_id', '=', diaryId)
    .orderBy('id')
    .execute();
}

beforeAll(async () => {
  const { db, url } = database;
  fake = await startFakeOpenAI();
  fake.responder = respond;
  keys = testKeys();
  userId = await createUser(db);
  noRepairUserId = await createUser(db, '수리없음');
  for (const c of CASES) {
    const owner = c === 'norepair' ? noRepairUserId : userId;
    diary[c] = await writeDiary(
      db,
      keys.keyring,
      owner,
      `오늘은 친구와 공원을 오래 걸었다. 바람이 시원해서 마음이 조금 가벼워졌다. CASE-${c}`,
    );
  }
  // One user's analysis policy allows no repair call: a user-scoped version, activated for them only.
  const { op } = await bootstrapTestAdmin(db);
  const scope = `user:${noRepairUserId}`;
  await publishVersion(db, op(), {
    name: 'analysis',
    version: 'v1.0.0',
    scope,
    config: { ...DEFAULT_POLICIES.analysis, repair_attempts: 0 },
  });
  await activateVersion(db, op(), { name: 'analysis', version: 'v1.0.0', scope, reason: 'test' });

  boss = createBoss(url);
  await boss.start();
  const prompt = await activePrompt(new PolicyResolver(db));
  await enqueueAnalyses(
    boss,
    CASES.filter((c) => c !== 'dead').map((c) => diary[c]),
    prompt,
  );
  // A job with a retry limit of 1 and no delay: both of its attempts run in this worker run.
  await boss.insert('analysis.run', [
    {
      data: { diaryId: diary.dead, ...prompt },
      singletonKey: analysisSingletonKey(diary.dead, prompt),
      retryLimit: 1,
      retryDelay: 0,
      retryBackoff: false,
    },
  ]);

  result = await runWorkerOnce({
    url,
    config: testConfig(url, keys.env),
    log: logs.log,
    analyzer: createOpenAIAnalyzer({ apiKey: 'test', baseURL: fake.url, timeoutMs: 10_000, log: logs.log }),
  });
}, 60_000);

afterAll(async () => {
  await boss?.stop({ graceful: false, close: true });
  await fake?.close();
});

describe('a good answer', () => {
  it('is stored with its full metadata', async () => {
    const [row, ...more] = await analysesOf(diary.good);
    expect(more).toHaveLength(0);
    const answer = goodAnswer();
    expect(row).toMatchObject({
      user_id: userId,
      summary: answer.summary,
      emotion_flow: answer.emotion_flow,
      reflection_question: answer.reflection_question,
      interpretation: answer.interpretation,
      keywords: answer.keywords,
      prompt_name: 'analysis',
      prompt_version: 'builtin-1',
    });

    const [request, ...retries] = attempts('good');
    expect(retries).toHaveLength(0);
    const promptText = request!.body.messages
      .map((m) => (typeof m.content === 'string' ? m.content : ''))
      .join('');
    const tokens = {
      input: fakeTokenCount(promptText),
      output: fakeTokenCount(JSON.stringify(answer)),
      cached: 0, // below the 1024-token caching threshold
      reasoning: 0,
    };
    expect(tokens.input).toBeLessThan(1024);
    const snapshot = fakeSnapshot('gpt-4o-mini');
    const cost = costOf(snapshot, tokens);
    const metadata = row!.metadata as Record<string, unknown>;
    expect(metadata).toMatchObject({
      schema_version: ANALYSIS_SCHEMA_VERSION,
      analyzer: 'openai',
      tier_a: answer.tier_a,
      tier_m: answer.tier_m,
      valence: answer.valence,
      context_tags: answer.context_tags,
      ethics_tags: [],
      slip_input: {
        tier_a: answer.tier_a,
        tier_m: answer.tier_m,
        valence: answer.valence,
        context_tags: answer.context_tags,
        ethics_tags: [],
      },
      model_name: 'gpt-4o-mini',
      model_version: 'gpt-4o-mini-2024-07-18',
      prompt_name: 'analysis',
      prompt_version: 'builtin-1',
      prompt_hash: BUILTIN_ANALYSIS_PROMPT.contentHash,
      policy_versions: {
        ethics: 'default',
        slip: 'default',
        tone: 'default',
        mode: 'default',
        analysis: 'default',
      },
      override_ids: [],
      tokens,
      request_id: request!.requestId,
      cost_usd: cost!.usd,
      price_table: PRICE_TABLE.version,
      repair_attempted: false,
      output_replaced: false,
    });
    expect(metadata.model_version).toBe(snapshot);
    expect(metadata.cost_usd).toBeGreaterThan(0);
    expect(typeof metadata.latency_ms).toBe('number');
    expect(metadata.latency_ms).toBeGreaterThanOrEqual(0);
    const [job] = await analysisJobsOf(database.db, diary.good);
    expect(metadata.job_id).toBe(job!.id);
    expect(job).toMatchObject({
      state: 'completed',
      retry_count: 0,
      output: { status: 'stored', analysisId: row!.id },
    });
  });

  it('sent a strict structured-output request with only a hashed user id', () => {
    const [request] = attempts('good');
    expect(request!.body).toMatchObject({
      model: 'gpt-4o-mini',
      temperature: DEFAULT_POLICIES.analysis.temperature,
      max_completion_tokens: DEFAULT_POLICIES.analysis.max_output_tokens,
      response_format: { type: 'json_schema', json_schema: { name: 'diary_analysis', strict: true } },
      safety_identifier: safetyIdentifier(keys.keyring, userId),
    });
    const body = request!.body as unknown as Record<string, unknown>;
    expect(body.safety_identifier).toMatch(/^[0-9a-f]{32}$/);
    expect(body.user).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain(userId);
  });

  it('has its slip check, enqueued in the same transaction', async () => {
    const [row] = await analysesOf(diary.good);
    const checks = (await jobsIn(database.db, 'slip.check')).filter((j) => j.data?.analysisId === row!.id);
    expect(checks).toHaveLength(1);
    // Same xmin = written by the same transaction.
    const xmins = await sql<{ a: string; j: string }>`
      select (select xmin::text from public.analysis_results where id = ${row!.id}) as a,
             (select xmin::text from pgboss.job where id = ${checks[0]!.id}) as j`.execute(database.db);
    expect(xmins.rows[0]!.a).toBe(xmins.rows[0]!.j);
    // Every stored analysis has exactly one slip check, and there are no others.
    const analyses = await database.db.selectFrom('analysis_results').select('id').execute();
    const all = await jobsIn(database.db, 'slip.check');
    expect(all.map((j) => j.data?.analysisId).sort()).toEqual(analyses.map((a) => a.id).sort());
  });
});

describe('failures are recorded, not invented', () => {
  const terminal: [Case, string, number][] = [
    ['refusal', 'refused', 1],
    ['truncated', 'truncated', 1],
    ['filter', 'content_filter', 1],
    ['malformed2', 'invalid_output', 2],
    ['invalid2', 'invalid_output', 2],
    ['norepair', 'invalid_output', 1],
  ];

  it.each(terminal)(
    '%s: no analysis, one terminal error row (%s), %i HTTP call(s), job completed',
    async (c, outcome, calls) => {
      expect(await analysesOf(diary[c])).toHaveLength(0);
      const errors = await errorsOf(diary[c]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({
        service: 'analysis',
        ref_id: diary[c],
        context: {
          terminal: true,
          outcome,
          prompt_name: 'analysis',
          prompt_version: 'builtin-1',
          model_version: 'gpt-4o-mini-2024-07-18',
          repair_attempted: calls === 2,
        },
      });
      expect(errors[0]!.message).toMatch(new RegExp(`^analysis ${outcome}: `));
      expect(attempts(c)).toHaveLength(calls);
      const jobs = await analysisJobsOf(database.db, diary[c]);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]).toMatchObject({
        state: 'completed',
        retry_count: 0,
        output: { status: 'failed', outcome },
      });
    },
  );

  it('the repair call shows the model its answer and what was wrong, nothing more', () => {
    const [first, repair] = attempts('invalid2');
    expect(first!.body.messages).toHaveLength(2);
    expect(repair!.body.messages).toHaveLength(4);
    expect(repair!.body.messages[2]).toMatchObject({ role: 'assistant' });
    const ask = repair!.body.messages[3]!.content as string;
    expect(ask).toMatch(/tier_a/);
    expect(ask).toMatch(/Reply again with the complete corrected JSON object only/);
  });

  it('a malformed answer, then a valid repair: stored with repair_attempted, after exactly 2 calls', async () => {
    const [row, ...more] = await analysesOf(diary.malformed1);
    expect(more).toHaveLength(0);
    expect(attempts('malformed1')).toHaveLength(2);
    const metadata = row!.metadata as {
      repair_attempted: boolean;
      tokens: { input: number; output: number };
    };
    expect(metadata.repair_attempted).toBe(true);
    // Both calls are paid for and counted.
    const [first, second] = attempts('malformed1');
    const text = (r: ChatRequest) =>
      r.body.messages.map((m) => (typeof m.content === 'string' ? m.content : '')).join('');
    expect(metadata.tokens.input).toBe(fakeTokenCount(text(first!)) + fakeTokenCount(text(second!)));
    expect(metadata.tokens.output).toBe(
      fakeTokenCount(MALFORMED) + fakeTokenCount(JSON.stringify(goodAnswer())),
    );
    expect(await errorsOf(diary.malformed1)).toHaveLength(0);
  });

  it('`analysis stats --json` counts the failures by outcome', async () => {
    const run = await runSumda(['analysis', 'stats', '--json'], { env: { DATABASE_URL: database.url } });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const stats = JSON.parse(run.stdout) as {
      byPrompt: {
        prompt_version: string;
        analyses: number;
        failures: number;
        repaired: number;
        crisis: number;
      }[];
      failures: { outcome: string; n: number }[];
    };
    expect(stats.byPrompt).toHaveLength(1);
    expect(stats.byPrompt[0]).toMatchObject({
      prompt_name: 'analysis',
      prompt_version: 'builtin-1',
      model_version: 'gpt-4o-mini-2024-07-18',
      analyses: 4, // good, malformed1, r429, crisis
      failures: 6,
      repaired: 1,
      crisis: 1,
    });
    expect(Object.fromEntries(stats.failures.map((f) => [f.outcome, f.n]))).toEqual({
      refused: 1,
      truncated: 1,
      content_filter: 1,
      invalid_output: 3,
    });
  });
});

describe('retries are bounded', () => {
  it('a 429 with retry-after 1 is retried once by the SDK, and the answer is stored', async () => {
    const calls = attempts('r429');
    expect(calls.map((r) => r.retryCount)).toEqual([0, 1]);
    const [row] = await analysesOf(diary.r429);
    expect((row!.metadata as { request_id: string }).request_id).toBe(calls[1]!.requestId);
    const jobs = await analysisJobsOf(database.db, diary.r429);
    expect(jobs).toMatchObject([{ state: 'completed', retry_count: 0 }]);
  });

  it('a persistent 500: maxRetries+1 HTTP attempts, then the job waits in retry with nothing stored', async () => {
    expect(attempts('e500').map((r) => r.retryCount)).toEqual([0, 1, 2]);
    expect(await analysesOf(diary.e500)).toHaveLength(0);
    const jobs = await analysisJobsOf(database.db, diary.e500);
    expect(jobs).toHaveLength(1);
    // pg-boss counts a retry when the job is claimed again; the next attempt is due later.
    expect(jobs[0]).toMatchObject({ state: 'retry', retry_count: 0, retry_limit: 4 });
    expect(String(jobs[0]!.output?.message)).toMatch(/OpenAI 500/);
    // The worker recorded the attempt; nothing terminal, no outcome invented.
    const errors = await errorsOf(diary.e500);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      service: 'analysis',
      severity: 'warn',
      context: { queue: 'analysis.run', job_id: jobs[0]!.id, attempt: 1, retry_limit: 4 },
    });
    expect((errors[0]!.context as Record<string, unknown>).terminal).toBeUndefined();
  });

  it('past the retry limit the job is dead-lettered to analysis.run.dead', async () => {
    // retryLimit 1: two job attempts, each with the SDK's three HTTP attempts.
    expect(attempts('dead')).toHaveLength(6);
    const jobs = await analysisJobsOf(database.db, diary.dead);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ state: 'failed', retry_count: 1 });
    const dead = (await jobsIn(database.db, 'analysis.run.dead')).filter(
      (j) => j.data?.diaryId === diary.dead,
    );
    expect(dead).toHaveLength(1);
    expect(dead[0]!.source_id).toBe(jobs[0]!.id);
    expect(await analysesOf(diary.dead)).toHaveLength(0);
    const errors = await errorsOf(diary.dead);
    expect(errors.map((e) => (e.context as { attempt: number }).attempt)).toEqual([1, 2]);
  });

  it('the worker accounted for every job', () => {
    // completed: 11 first attempts minus e500 and dead; failed: e500 once, dead twice.
    expect(result.processed['analysis.run']).toEqual({ completed: 10, failed: 3 });
  });
});

describe('crisis', () => {
  it('an answer tagged self_harm is stored with the vetted crisis template', async () => {
    const [row] = await analysesOf(diary.crisis);
    const template = DEFAULT_POLICIES.ethics.crisis_template;
    expect(row).toMatchObject({
      interpretation: template.interpretation,
      reflection_question: template.reflection_question,
      summary: CRISIS_ANSWER.summary,
      keywords: CRISIS_ANSWER.keywords,
    });
    expect(row!.metadata).toMatchObject({
      output_replaced: true,
      ethics_tags: ['self_harm'],
      slip_input: { ethics_tags: ['self_harm'], tier_a: CRISIS_ANSWER.tier_a },
    });
    expect(JSON.stringify(row)).not.toContain('즉흥적');
  });
});

it('no log line carries a prompt', () => {
  expect(logs.lines.length).toBeGreaterThan(0);
  const all = logs.lines.join('\n');
  expect(all).not.toContain('CASE-');
  expect(all).not.toContain('오늘은 친구와');
});

it('`analysis stats` counts the same once the error logs are trimmed: failures are not kept in logs', async () => {
  const since = new Date(Date.now() - 86_400_000);
  const before = await Promise.all([analysisStats(database.db, since), failureOutcomes(database.db, since)]);
  expect(before[0].reduce((n, r) => n + r.failures, 0)).toBeGreaterThan(0);
  // What log retention does to every analysis error row, whatever its age.
  await sql`delete from admin.error_logs where service = 'analysis'`.execute(database.db);
  expect(await Promise.all([analysisStats(database.db, since), failureOutcomes(database.db, since)])).toEqual(
    before,
  );
});
