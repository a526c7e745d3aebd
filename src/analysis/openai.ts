/**
 * The OpenAI analyzer: the real `openai` SDK, Chat Completions with a strict JSON-schema response
 * format built from the same zod schema we validate with afterwards. Decisions:
 * - the SDK retries connection errors, 408/409/429 and 5xx itself (maxRetries 2, honouring
 *   retry-after); we never stack another retry loop on top — what still fails is thrown as
 *   RetryableAnalysisError and the job queue retries it later, with backoff;
 * - a 429 that survives the SDK's retries also starts a cooldown shared by this process's calls;
 * - refusals, length cut-offs and content-filter stops are outcomes, not exceptions;
 * - invalid output gets at most `repairAttempts` (0 or 1) repair round-trip, then a recorded failure;
 * - only a hash of the user id is sent (`safety_identifier`); prompt text is never logged;
 * - provider errors become status, code and request id: never the body's message (a provider may
 *   quote the input back), never the SDK error as `cause` (pino prints causes), SDK logging off.
 */
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { VERSION as SDK_VERSION } from 'openai/version';
import type { Logger } from '../log.ts';
import {
  type AnalyzeRequest,
  type AnalyzeResult,
  type Analyzer,
  RetryableAnalysisError,
} from './analyzer.ts';
import type { TokenUsage } from './pricing.ts';
import { analysisOutputSchema, parseAnalysis } from './schema.ts';

const SYSTEM = [
  'You are the reading companion of 숨다 (Sumda), a private journaling app.',
  'Follow the instructions in the user message and answer only with the JSON object of the response schema.',
  'Never describe methods of self-harm, in any field.',
].join(' ');

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(new RetryableAnalysisError('the call was aborted (the worker is stopping)'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RetryableAnalysisError('the call was aborted (the worker is stopping)'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface OpenAIAnalyzerOptions {
  apiKey: string;
  baseURL?: string | undefined;
  timeoutMs: number;
  log?: Logger;
  /** The SDK's own retries for connection errors, 408/409/429 and 5xx. */
  maxRetries?: number;
}

type Message = OpenAI.Chat.Completions.ChatCompletionMessageParam;

function usageOf(completion: OpenAI.Chat.Completions.ChatCompletion | undefined): TokenUsage {
  const u = completion?.usage;
  return {
    input: u?.prompt_tokens ?? 0,
    output: u?.completion_tokens ?? 0,
    cached: u?.prompt_tokens_details?.cached_tokens ?? 0,
    reasoning: u?.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

function add(a: TokenUsage, b: TokenUsage): TokenUsage {
  return {
    input: a.input + b.input,
    output: a.output + b.output,
    cached: a.cached + b.cached,
    reasoning: a.reasoning + b.reasoning,
  };
}

function retryAfterMs(error: InstanceType<typeof OpenAI.APIError>): number | undefined {
  const ms = Number(error.headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const seconds = Number(error.headers?.get('retry-after'));
  if (Number.isFinite(seconds) && seconds > 0) return seconds * 1000;
  return undefined;
}

/**
 * Provider errors are described by status, code and request id only — never the message, type or
 * param, which come from the response body and may quote the input. The code and request id are
 * kept only when they look like identifiers.
 */
const IDENTIFIER = /^[A-Za-z0-9_.:-]{1,80}$/;

function safeToken(value: unknown): string | null {
  return typeof value === 'string' && IDENTIFIER.test(value) ? value : null;
}

function nameOf(error: unknown): unknown {
  return error instanceof Error ? error.name : typeof error;
}

interface ProviderError {
  text: string;
  code: string | null;
  requestId: string | null;
}

function describeProviderError(error: InstanceType<typeof OpenAI.APIError>): ProviderError {
  const code = safeToken(error.code) ?? safeToken(error.type);
  const requestId = safeToken(error.requestID);
  const text = [`OpenAI ${error.status ?? 0}`, code, requestId ? `(request ${requestId})` : null]
    .filter(Boolean)
    .join(' ');
  return { text, code, requestId };
}

/** A connection error's system code (ECONNRESET, …), when the SDK kept one. */
function causeCode(error: Error): string {
  const cause = error.cause as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = safeToken(cause?.code) ?? safeToken(cause?.cause?.code);
  return code ? ` (${code})` : '';
}

export function createOpenAIAnalyzer(options: OpenAIAnalyzerOptions): Analyzer {
  const client = new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries ?? 2,
    // The SDK's own logger (OPENAI_LOG=debug) prints request bodies, i.e. the diary: never on.
    logLevel: 'off',
  });
  const responseFormat = zodResponseFormat(analysisOutputSchema, 'diary_analysis');
  let cooldownUntil = 0;

  async function call(messages: Message[], request: AnalyzeRequest) {
    const wait = cooldownUntil - Date.now();
    if (wait > 0) await sleep(wait, request.signal);
    try {
      return await client.chat.completions
        .create(
          {
            model: request.model,
            messages,
            response_format: responseFormat,
            temperature: request.temperature,
            max_completion_tokens: request.maxOutputTokens,
            safety_identifier: request.userHash,
          },
          { signal: request.signal },
        )
        .withResponse();
    } catch (error) {
      // Nothing of the SDK's error leaves this function, not even as `cause`: its message is the
      // provider's error body, which may quote the input (the diary), and pino prints causes.
      if (error instanceof OpenAI.APIUserAbortError) {
        throw new RetryableAnalysisError('the call was aborted (the worker is stopping)');
      }
      if (error instanceof OpenAI.APIConnectionTimeoutError) {
        throw new RetryableAnalysisError(`OpenAI timed out after ${options.timeoutMs} ms`);
      }
      if (error instanceof OpenAI.APIConnectionError) {
        throw new RetryableAnalysisError(`OpenAI unreachable${causeCode(error)}`);
      }
      if (error instanceof OpenAI.APIError) {
        const status = error.status ?? 0;
        const said = describeProviderError(error);
        if (status === 429 || status === 408 || status === 409 || status >= 500) {
          const after = status === 429 ? (retryAfterMs(error) ?? 20_000) : undefined;
          if (after) cooldownUntil = Math.max(cooldownUntil, Date.now() + after);
          throw new RetryableAnalysisError(said.text, { retryAfterMs: after });
        }
        if (status === 401 || status === 403 || status === 404) {
          // Configuration: every call will fail until an operator fixes the key or the model. Retry later.
          options.log?.error(
            { status, code: said.code, requestId: said.requestId },
            'OpenAI refused our credentials or model',
          );
          throw new RetryableAnalysisError(`${said.text}: check OPENAI_API_KEY and the analysis model`);
        }
        return { rejected: said.text, requestId: said.requestId };
      }
      // Anything else (a body that is not JSON, a bug in the SDK): its name only, for the same reason.
      throw new RetryableAnalysisError(`OpenAI call failed (${safeToken(nameOf(error)) ?? 'unknown error'})`);
    }
  }

  return {
    name: 'openai',
    async analyze(request: AnalyzeRequest): Promise<AnalyzeResult> {
      const started = performance.now();
      const messages: Message[] = [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: request.prompt },
      ];
      let tokens: TokenUsage = { input: 0, output: 0, cached: 0, reasoning: 0 };
      let model = request.model;
      let requestId: string | null = null;
      let repairAttempted = false;
      const record = () => ({
        analyzer: 'openai',
        analyzerVersion: SDK_VERSION,
        model,
        requestId,
        tokens,
        latencyMs: Math.round(performance.now() - started),
        repairAttempted,
      });
      for (let attempt = 0; ; attempt++) {
        const answer = await call(messages, request);
        if ('rejected' in answer) {
          requestId = answer.requestId;
          return { outcome: 'rejected', problems: [answer.rejected], call: record() };
        }
        const completion = answer.data;
        requestId = answer.request_id ?? requestId;
        model = completion.model || model;
        tokens = add(tokens, usageOf(completion));
        const choice = completion.choices[0];
        if (!choice)
          return { outcome: 'invalid_output', problems: ['the answer had no choices'], call: record() };
        if (choice.message.refusal)
          return { outcome: 'refused', problems: ['the model refused'], call: record() };
        if (choice.finish_reason === 'length') {
          return {
            outcome: 'truncated',
            problems: ['the answer was cut off at max_output_tokens'],
            call: record(),
          };
        }
        if (choice.finish_reason === 'content_filter') {
          return {
            outcome: 'content_filter',
            problems: ['the answer was stopped by the content filter'],
            call: record(),
          };
        }
        const content = choice.message.content ?? '';
        let problems: string[];
        try {
          const parsed = parseAnalysis(JSON.parse(content));
          if (parsed.ok) return { outcome: 'ok', output: parsed.value, call: record() };
          problems = parsed.problems;
        } catch {
          // Never the parser's message: V8 quotes the offending text, which may echo the diary.
          problems = ['the answer is not valid JSON'];
        }
        if (attempt >= request.repairAttempts) return { outcome: 'invalid_output', problems, call: record() };
        // One repair round-trip: show the model what was wrong, never our own guess at the values.
        repairAttempted = true;
        messages.push(
          { role: 'assistant', content },
          {
            role: 'user',
            content: `That answer does not satisfy the schema: ${problems.join('; ')}. Reply again with the complete corrected JSON object only.`,
          },
        );
      }
    },
  };
}
