/**
 * Issue 14: an answer valid under the schema sumda itself sends is not thrown away. Repeated tags
 * and keywords (the schema cannot forbid them) are kept once; boundary values and empty optional
 * arrays pass; what cannot be normalised (too few distinct keywords, two questions) still fails.
 * Directly through the parser, and through the real openai SDK against the fake model server.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnalyzeRequest } from '../../src/analysis/analyzer.ts';
import { createOpenAIAnalyzer } from '../../src/analysis/openai.ts';
import { parseAnalysis } from '../../src/analysis/schema.ts';
import { goodAnswer } from '../support/analysis.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.ts';

describe('schema-valid but unusual answers', () => {
  it('repeated ethics and context tags are kept once, in order', () => {
    const parsed = parseAnalysis(
      goodAnswer({ ethics_tags: ['self_harm', 'self_harm'], context_tags: ['loss', 'loss', 'anxiety'] }),
    );
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.ethics_tags).toEqual(['self_harm']);
    expect(parsed.value.context_tags).toEqual(['loss', 'anxiety']);
  });

  it('a repeated keyword is dropped while three distinct ones remain; fewer is a problem', () => {
    const ok = parseAnalysis(goodAnswer({ keywords: ['산책', '바람', '산책', '커피'] }));
    expect(ok.ok && ok.value.keywords).toEqual(['산책', '바람', '커피']);
    const few = parseAnalysis(goodAnswer({ keywords: ['산책', '산책', '바람'] }));
    expect(few).toEqual({ ok: false, problems: ['keywords must be at least 3 distinct words'] });
  });

  it('boundary values and empty optional arrays are accepted as they are', () => {
    const edge = goodAnswer({ tier_a: 0.1, tier_m: 4, valence: -1, context_tags: [], ethics_tags: [] });
    const parsed = parseAnalysis(edge);
    expect(parsed).toEqual({ ok: true, value: edge });
  });
});

/**
 * The same answers from a model server, through the real openai SDK (structured output with the
 * schema sumda sends): stored after normalising, with no repair call; only what cannot be
 * normalised costs the one repair round-trip.
 */
describe('through the openai SDK against the fake server', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
  });
  afterAll(async () => {
    await fake.close();
  });
  beforeEach(() => fake.reset());

  const request: AnalyzeRequest = {
    prompt: '오늘의 일기: 친구와 한강을 걸었다.',
    text: '친구와 한강을 걸었다.',
    model: 'gpt-4o-mini',
    temperature: 0.2,
    maxOutputTokens: 1200,
    repairAttempts: 1,
    userHash: 'u_test',
  };
  const analyzer = () => createOpenAIAnalyzer({ apiKey: 'test', baseURL: fake.url, timeoutMs: 10_000 });

  it('repeated tags are analysed (kept once), in one call; the schema sent allows the repeats', async () => {
    fake.enqueue({
      kind: 'json',
      content: goodAnswer({ ethics_tags: ['self_harm', 'self_harm'], context_tags: ['loss', 'loss'] }),
    });
    const result = await analyzer().analyze(request);
    expect(result.outcome).toBe('ok');
    if (result.outcome !== 'ok') return;
    expect(result.output.ethics_tags).toEqual(['self_harm']);
    expect(result.output.context_tags).toEqual(['loss']);
    expect(result.call.repairAttempted).toBe(false);
    const [sent] = fake.chatRequests();
    expect(fake.chatRequests()).toHaveLength(1);
    const format = sent!.body.response_format as {
      type: string;
      json_schema: { strict: boolean; schema: { properties: Record<string, { uniqueItems?: boolean }> } };
    };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.strict).toBe(true);
    expect(format.json_schema.schema.properties.ethics_tags!.uniqueItems).toBeUndefined();
  });

  it('boundary values and empty optional arrays pass unchanged', async () => {
    const edge = goodAnswer({ tier_a: 0.1, tier_m: 4, valence: -1, context_tags: [], ethics_tags: [] });
    fake.enqueue({ kind: 'json', content: edge });
    const result = await analyzer().analyze(request);
    expect(result).toMatchObject({ outcome: 'ok', output: edge });
    expect(fake.chatRequests()).toHaveLength(1);
  });

  it('what cannot be normalised (too few distinct keywords) takes the one repair call', async () => {
    fake.enqueue(
      { kind: 'json', content: goodAnswer({ keywords: ['산책', '산책', '바람'] }) },
      { kind: 'json', content: goodAnswer({ keywords: ['산책', '바람', '커피', '바람'] }) },
    );
    const result = await analyzer().analyze(request);
    expect(result.outcome).toBe('ok');
    if (result.outcome !== 'ok') return;
    expect(result.output.keywords).toEqual(['산책', '바람', '커피']);
    expect(result.call.repairAttempted).toBe(true);
    const calls = fake.chatRequests();
    expect(calls).toHaveLength(2);
    const repair = calls[1]!.body.messages.at(-1) as { content: string };
    expect(repair.content).toContain('keywords must be at least 3 distinct words');
  });
});
