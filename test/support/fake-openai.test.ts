/**
 * The fake must make the REAL openai SDK behave as it does against api.openai.com: these tests drive
 * `client.chat.completions.parse` through it and assert the SDK's own outcomes (retries, error
 * classes, finish-reason errors, timeouts).
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  RateLimitError,
} from 'openai';
import { ContentFilterFinishReasonError, LengthFinishReasonError } from 'openai/core/error';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type FakeOpenAI, fakeTokenCount, startFakeOpenAI } from './fake-openai.ts';

const Analysis = z.object({
  tier: z.number().min(0.1).max(4),
  question: z.string(),
  tags: z.array(z.enum(['gratitude', 'fatigue', 'conflict'])).min(1),
});
type Analysis = z.infer<typeof Analysis>;
const GOOD: Analysis = { tier: 1.5, question: '오늘 가장 고마웠던 순간은 언제였나요?', tags: ['gratitude'] };

const CHAT = '/v1/chat/completions';
const MESSAGES = [
  { role: 'system' as const, content: 'You analyse diary entries.' },
  { role: 'user' as const, content: '오늘은 조금 피곤했지만 친구 덕분에 웃었다.' },
];

let fake: FakeOpenAI;

beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

function client(options: { maxRetries?: number; timeout?: number; apiKey?: string } = {}): OpenAI {
  return new OpenAI({
    apiKey: options.apiKey ?? 'test',
    baseURL: fake.url,
    maxRetries: options.maxRetries ?? 2,
    timeout: options.timeout ?? 5_000,
  });
}

function analyse(openai: OpenAI, model = 'gpt-4o-mini') {
  return openai.chat.completions.parse({
    model,
    messages: MESSAGES,
    response_format: zodResponseFormat(Analysis, 'analysis'),
  });
}

function attempts(): number {
  return fake.requests.filter((r) => r.path === CHAT).length;
}

describe('answers', () => {
  it('parses a good structured answer with usage, snapshot, fingerprint and request id', async () => {
    fake.enqueue({ kind: 'json', content: GOOD });
    const { data, response, request_id } = await analyse(client()).withResponse();

    expect(data.choices[0]?.message.parsed).toEqual(GOOD);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.model).toBe('gpt-4o-mini-2024-07-18');
    expect(data.system_fingerprint).toMatch(/^fp_[0-9a-f]{10}$/);
    expect(request_id).toMatch(/^req_[0-9a-f]{32}$/);
    expect(fake.requests[0]?.requestId).toBe(request_id);

    const promptChars = MESSAGES.reduce((n, m) => n + m.content.length, 0);
    expect(data.usage).toMatchObject({
      prompt_tokens: Math.ceil(promptChars / 3),
      completion_tokens: fakeTokenCount(JSON.stringify(GOOD)),
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(response.headers.get('openai-processing-ms')).toMatch(/^\d+$/);
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('9999');
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('10000000');
  });

  it('answers any strict schema by default with a minimal valid instance', async () => {
    const completion = await analyse(client());
    const parsed = completion.choices[0]?.message.parsed;
    expect(parsed).toEqual({ tier: 0.1, question: 'fake', tags: ['gratitude'] });
  });

  it('lets a default responder compute the answer from the request', async () => {
    fake.responder = (request) => {
      const last = request.body.messages.at(-1);
      const text = typeof last?.content === 'string' ? last.content : '';
      return { kind: 'json', content: { ...GOOD, question: `${text.length}자` } };
    };
    const completion = await analyse(client());
    expect(completion.choices[0]?.message.parsed?.question).toBe(`${MESSAGES[1]!.content.length}자`);
  });

  it('names unknown models with a dated snapshot and charges reasoning tokens on reasoning models', async () => {
    const unknown = await analyse(client(), 'sumda-experimental');
    expect(unknown.model).toBe('sumda-experimental-2025-01-01');
    const reasoning = await analyse(client(), 'o4-mini');
    expect(reasoning.model).toBe('o4-mini-2025-04-16');
    expect(reasoning.usage?.completion_tokens_details?.reasoning_tokens).toBe(128);
  });

  it('reports cached prompt tokens when a long system prompt repeats', async () => {
    const openai = client();
    const system = '일기 분석 지침. '.repeat(400); // > 1024 fake tokens
    const ask = () =>
      openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: 'hello' },
        ],
      });
    const first = await ask();
    const second = await ask();
    expect(first.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    expect(second.usage?.prompt_tokens_details?.cached_tokens).toBe(
      Math.floor(fakeTokenCount(system) / 128) * 128,
    );
  });

  it('records request bodies and headers for inspection', async () => {
    fake.enqueue({ kind: 'json', content: GOOD });
    await analyse(client());
    const [request] = fake.chatRequests();
    expect(request?.method).toBe('POST');
    expect(request?.headers.authorization).toBe('Bearer test');
    expect(request?.retryCount).toBe(0);
    expect(request?.body.messages).toEqual(MESSAGES);
    expect(request?.body.response_format).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'analysis', strict: true },
    });
  });
});

describe('explicit outcomes', () => {
  it('surfaces a refusal in message.refusal with nothing parsed', async () => {
    fake.enqueue({ kind: 'refusal', refusal: "I'm sorry, I can't help with that." });
    const completion = await analyse(client());
    const message = completion.choices[0]?.message;
    expect(message?.refusal).toBe("I'm sorry, I can't help with that.");
    expect(message?.content).toBeNull();
    expect(message?.parsed).toBeNull();
  });

  it('turns a length cut-off into LengthFinishReasonError', async () => {
    fake.enqueue({ kind: 'truncated', content: GOOD });
    await expect(analyse(client())).rejects.toBeInstanceOf(LengthFinishReasonError);
    expect(attempts()).toBe(1);
  });

  it('turns a content-filter stop into ContentFilterFinishReasonError', async () => {
    fake.enqueue({ kind: 'content_filter' });
    await expect(analyse(client())).rejects.toBeInstanceOf(ContentFilterFinishReasonError);
  });

  it('fails malformed JSON with the SDK parse error, and off-schema JSON with a ZodError', async () => {
    fake.enqueue({ kind: 'text', content: '{"tier": 1.5, "question": ' });
    await expect(analyse(client())).rejects.toThrow(/invalid structured output JSON/);
    fake.enqueue({ kind: 'json', content: { ...GOOD, tier: 9 } });
    await expect(analyse(client())).rejects.toBeInstanceOf(z.ZodError);
    expect(attempts()).toBe(2);
  });

  it('rejects a non-strict-compatible schema with 400 like the API', async () => {
    const error = await client()
      .chat.completions.create({
        model: 'gpt-4o-mini',
        messages: MESSAGES,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'loose', strict: true, schema: { type: 'object', properties: { a: {} } } },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).param).toBe('response_format');
    expect((error as BadRequestError).message).toMatch(/'additionalProperties' is required/);
    expect(attempts()).toBe(1); // 400 is not retried
  });
});

describe('errors and retries (the SDK retries; the fake counts attempts)', () => {
  it('retries a 429 after retry-after seconds', async () => {
    fake.enqueue({ kind: 'error', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const completion = await analyse(client());
    const waited = Date.now() - started;
    expect(completion.choices[0]?.message.parsed).toBeTruthy();
    expect(fake.chatRequests().map((r) => r.retryCount)).toEqual([0, 1]);
    const [first, second] = fake.chatRequests();
    expect(second!.time - first!.time).toBeGreaterThanOrEqual(950);
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it('prefers retry-after-ms', async () => {
    fake.enqueue({ kind: 'error', status: 429, retryAfterMs: 150, retryAfterSeconds: 30 });
    const started = Date.now();
    await analyse(client());
    const waited = Date.now() - started;
    expect(attempts()).toBe(2);
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(5_000);
  });

  it('surfaces RateLimitError with status, code and request id when retries are off', async () => {
    fake.enqueue({ kind: 'error', status: 429, retryAfterSeconds: 1 });
    const error = await analyse(client({ maxRetries: 0 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    const rateLimit = error as RateLimitError;
    expect(rateLimit.status).toBe(429);
    expect(rateLimit.code).toBe('rate_limit_exceeded');
    expect(rateLimit.requestID).toBe(fake.requests[0]?.requestId);
    expect(rateLimit.headers.get('retry-after')).toBe('1');
    expect(attempts()).toBe(1);
  });

  it('retries 500 up to maxRetries, then throws an APIError', async () => {
    const fail = { kind: 'error', status: 500, retryAfterMs: 10 } as const;
    fake.enqueue(fail, fail, fail, fail);
    const error = await analyse(client({ maxRetries: 2 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(500);
    expect((error as APIError).type).toBe('server_error');
    expect(attempts()).toBe(3);
  });

  it('does not retry a 400', async () => {
    fake.enqueue({ kind: 'error', status: 400, message: 'bad', param: 'messages' });
    await expect(analyse(client())).rejects.toBeInstanceOf(BadRequestError);
    expect(attempts()).toBe(1);
  });

  it('times out a hanging request with APIConnectionTimeoutError, retrying timeouts too', async () => {
    fake.enqueue({ kind: 'hang' }, { kind: 'hang' });
    const started = Date.now();
    const error = await analyse(client({ maxRetries: 1, timeout: 200 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIConnectionTimeoutError);
    expect(attempts()).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  it('reports a dropped connection as APIConnectionError', async () => {
    fake.enqueue({ kind: 'disconnect' });
    await expect(analyse(client({ maxRetries: 0 }))).rejects.toBeInstanceOf(APIConnectionError);
  });

  it('answers 401 invalid_api_key without a bearer token, and for a wrong key', async () => {
    const raw = await fetch(`${fake.url}/chat/completions`, { method: 'POST', body: '{}' });
    expect(raw.status).toBe(401);
    const body = (await raw.json()) as { error: { code: string; type: string } };
    expect(body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });

    const strict = await startFakeOpenAI({ apiKey: 'sk-right' });
    try {
      const openai = new OpenAI({ apiKey: 'sk-wrong-key-123', baseURL: strict.url, maxRetries: 0 });
      await expect(
        openai.chat.completions.create({ model: 'gpt-4o-mini', messages: MESSAGES }),
      ).rejects.toBeInstanceOf(AuthenticationError);
    } finally {
      await strict.close();
    }
  });

  it('answers unknown paths with 404 in the API error format', async () => {
    const error = await client()
      .models.retrieve('gpt-4o-mini')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toMatch(/Invalid URL \(GET \/v1\/models\/gpt-4o-mini\)/);
  });
});

describe('moderations', () => {
  it('flags categories at or above 0.5 from the responder', async () => {
    fake.moderationResponder = (text) => (text.includes('사라지고') ? { 'self-harm/intent': 0.91 } : {});
    const result = await client().moderations.create({
      model: 'omni-moderation-latest',
      input: ['다 사라지고 싶다', '좋은 하루'],
    });
    expect(result.model).toBe('omni-moderation-2024-09-26');
    expect(result.results[0]?.flagged).toBe(true);
    expect(result.results[0]?.categories['self-harm/intent']).toBe(true);
    expect(result.results[0]?.category_scores['self-harm/intent']).toBe(0.91);
    expect(result.results[1]?.flagged).toBe(false);
    expect(fake.moderationRequests()).toHaveLength(1);
  });

  it('can fail like the API', async () => {
    fake.enqueueModeration({ kind: 'error', status: 503 });
    await expect(client({ maxRetries: 0 }).moderations.create({ input: 'x' })).rejects.toBeInstanceOf(
      InternalServerError,
    );
  });
});

describe('performance', () => {
  it('overlaps delayed responses: 32 concurrent requests at 300 ms each', async () => {
    fake.responder = () => ({ kind: 'json', content: GOOD, delayMs: 300 });
    const openai = client();
    const started = performance.now();
    await Promise.all(Array.from({ length: 32 }, () => analyse(openai)));
    const elapsed = performance.now() - started;
    console.log(`fake-openai: 32 concurrent x 300 ms delayed answers in ${elapsed.toFixed(0)} ms`);
    expect(attempts()).toBe(32);
    expect(elapsed).toBeLessThan(3_000);
  });

  it('serves 2000 zero-delay requests through the SDK (client cost included)', async () => {
    const openai = client();
    const total = 2_000;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next++ < total) await analyse(openai);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `fake-openai: ${total} requests in ${seconds.toFixed(2)} s = ${(total / seconds).toFixed(0)}/s`,
    );
    expect(attempts()).toBe(total);
  });
});
