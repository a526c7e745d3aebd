/**
 * A local OpenAI-compatible HTTP server for tests and benchmarks.
 *
 * Production code talks to it through the real `openai` SDK with `baseURL: fake.url`, so retries,
 * timeouts, error classes and structured-output parsing are the SDK's own. The fake speaks the wire
 * format the SDK reads: status codes, `{"error":{message,type,param,code}}` bodies, `x-request-id`,
 * `retry-after(-ms)`, `x-ratelimit-*`, `openai-processing-ms`, usage with cached/reasoning details and
 * an exact model snapshot name.
 *
 * Glossary:
 * - behaviour: what the fake does with one request (answer, refuse, truncate, fail, hang, …).
 * - responder: the function that picks a behaviour when nothing is enqueued.
 * - attempt: one HTTP request as received; the SDK's retries are separate attempts, all recorded.
 *
 * Usage numbers are deterministic: tokens = ceil(characters / 3) (see `fakeTokenCount`).
 * Hot path: no logging, no pretty-printing, no listeners unless a response is delayed or hangs.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import type { ChatCompletion, ChatCompletionCreateParams } from 'openai/resources/chat/completions';
import type { Moderation, ModerationCreateResponse } from 'openai/resources/moderations';

// ---------------------------------------------------------------------------------------------
// Public types

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  /** The request target as received, query string included. */
  url: string;
  /** Lower-cased header names, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON body; `undefined` when there was none or it was not JSON. */
  body: unknown;
  /** `Date.now()` when the body had arrived. */
  time: number;
  /** The SDK's `x-stainless-retry-count` header: 0 for the first attempt, 1 for the first retry, … */
  retryCount: number;
  /** The `x-request-id` the fake answered this attempt with. */
  requestId: string;
}

/** A recorded request to `/v1/chat/completions` whose body passed the fake's validation. */
export type ChatRequest = Omit<RecordedRequest, 'body'> & { body: ChatCompletionCreateParams };
export type ModerationRequest = Omit<RecordedRequest, 'body'> & {
  body: { input: unknown; model?: string };
};

export interface UsageOverride {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
  reasoningTokens?: number;
}

interface Common {
  /** Wait this long before answering; timers, so concurrent requests overlap. */
  delayMs?: number;
  /** Extra response headers, e.g. `{ 'x-should-retry': 'false' }`. */
  headers?: Record<string, string>;
}

interface AnswerCommon extends Common {
  usage?: UsageOverride;
}

/** A normal answer: `message.content = JSON.stringify(content)`, finish_reason `stop`. */
export interface JsonBehaviour extends AnswerCommon {
  kind: 'json';
  content: unknown;
}
/** Raw `message.content`, e.g. malformed JSON or prose. */
export interface TextBehaviour extends AnswerCommon {
  kind: 'text';
  content: string;
}
/** `message.refusal` set, `content: null`, finish_reason `stop` (what the API does). */
export interface RefusalBehaviour extends AnswerCommon {
  kind: 'refusal';
  refusal: string;
}
/** finish_reason `length`; the content (stringified if not a string) is cut in the middle. */
export interface TruncatedBehaviour extends AnswerCommon {
  kind: 'truncated';
  content: unknown;
}
/** finish_reason `content_filter`, `content: null`. */
export interface ContentFilterBehaviour extends AnswerCommon {
  kind: 'content_filter';
}
export interface ErrorBehaviour extends Common {
  kind: 'error';
  status: 400 | 401 | 403 | 404 | 408 | 409 | 422 | 429 | 500 | 502 | 503 | 504;
  /** Sent as `retry-after: <seconds>`. The SDK ignores values above 60 s and backs off instead. */
  retryAfterSeconds?: number;
  /** Sent as `retry-after-ms`; the SDK prefers it over `retry-after`. */
  retryAfterMs?: number;
  /** Defaults per status, e.g. `rate_limit_exceeded` for 429; pass `insufficient_quota` for quota. */
  code?: string | null;
  message?: string;
  type?: string;
  param?: string | null;
}
/** Never answers (until the client gives up or the fake closes): for timeouts. */
export interface HangBehaviour extends Common {
  kind: 'hang';
}
/** Destroys the socket without an answer: a connection error for the SDK. */
export interface DisconnectBehaviour extends Common {
  kind: 'disconnect';
}

export type Behaviour =
  | JsonBehaviour
  | TextBehaviour
  | RefusalBehaviour
  | TruncatedBehaviour
  | ContentFilterBehaviour
  | ErrorBehaviour
  | HangBehaviour
  | DisconnectBehaviour;

export type Responder = (request: ChatRequest) => Behaviour;

export const MODERATION_CATEGORIES = [
  'harassment',
  'harassment/threatening',
  'hate',
  'hate/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;
export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];
/** Scores in 0–1; missing categories score 0. A category is flagged at `MODERATION_THRESHOLD`. */
export type ModerationScores = Partial<Record<ModerationCategory, number>>;
export const MODERATION_THRESHOLD = 0.5;

/** A moderation answer with explicit scores (one entry per input, or one for all inputs). */
export interface ModerationResultBehaviour extends Common {
  kind: 'moderation';
  scores: ModerationScores | ModerationScores[];
}
export type ModerationBehaviour =
  | ModerationResultBehaviour
  | ErrorBehaviour
  | HangBehaviour
  | DisconnectBehaviour;
/** Called once per input text (image inputs are seen as ''). */
export type ModerationResponder = (text: string, request: ModerationRequest) => ModerationScores;

export interface FakeOpenAIOptions {
  /** Default responder for chat completions; default: `defaultResponder`. */
  responder?: Responder;
  /** Default responder for moderations; default: all scores 0. */
  moderationResponder?: ModerationResponder;
  /** When set, any other bearer token gets 401 `invalid_api_key`. Default: any token is accepted. */
  apiKey?: string;
  /** Extra or overriding snapshot names: requested model → response `model`. */
  snapshots?: Record<string, string>;
  /** Reported in `x-ratelimit-*` (informational; the fake never enforces them). */
  rateLimits?: { requestsPerMinute?: number; tokensPerMinute?: number };
  /** Keep `requests` (default true). Turn off for long benchmarks. */
  record?: boolean;
}

export interface FakeOpenAI {
  /** The SDK's `baseURL`, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  /** Every attempt, in arrival order (including 401s, 404s and retries). */
  readonly requests: RecordedRequest[];
  /** Chat completion responder used when the queue is empty; assign per test. */
  responder: Responder;
  moderationResponder: ModerationResponder;
  /** The next chat completion attempts get these behaviours, in order, then the responder's. */
  enqueue(...behaviours: Behaviour[]): void;
  enqueueModeration(...behaviours: ModerationBehaviour[]): void;
  /** `requests` to `/v1/chat/completions` (attempts, so retries count). */
  chatRequests(): ChatRequest[];
  moderationRequests(): ModerationRequest[];
  /** Forget requests, queues, prompt cache and rate-limit window; restore the initial responders. */
  reset(): void;
  /** Stop listening and drop every open connection (hanging responses included). */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Deterministic numbers

/** The fake's tokenizer: one token per three characters, rounded up. */
export function fakeTokenCount(text: string): number {
  return Math.ceil(text.length / 3);
}

/** Requested model → the dated snapshot the API reports back. */
const SNAPSHOTS: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
  'gpt-4.1-nano': 'gpt-4.1-nano-2025-04-14',
  o1: 'o1-2024-12-17',
  o3: 'o3-2025-04-16',
  'o3-mini': 'o3-mini-2025-01-31',
  'o4-mini': 'o4-mini-2025-04-16',
  'gpt-5': 'gpt-5-2025-08-07',
  'gpt-5-mini': 'gpt-5-mini-2025-08-07',
  'gpt-5-nano': 'gpt-5-nano-2025-08-07',
  'omni-moderation-latest': 'omni-moderation-2024-09-26',
  'text-moderation-latest': 'text-moderation-007',
};
const UNKNOWN_SNAPSHOT_SUFFIX = '-2025-01-01';
const DATED = /-\d{4}-\d{2}-\d{2}$/;
const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

/** The snapshot name the fake reports for a requested model (without per-server overrides). */
export function fakeSnapshot(model: string, overrides?: Record<string, string>): string {
  return (
    overrides?.[model] ?? SNAPSHOTS[model] ?? (DATED.test(model) ? model : model + UNKNOWN_SNAPSHOT_SUFFIX)
  );
}

/** Reasoning models spend hidden tokens; the fake charges a fixed number per effort level. */
const REASONING_MODEL = /^(o\d|gpt-5)/;
const REASONING_TOKENS: Record<string, number> = { minimal: 0, low: 64, medium: 128, high: 256 };
const DEFAULT_REASONING_EFFORT = 'medium';

/** Like the API, prompt caching starts at 1024 tokens and counts in 128-token blocks. */
const CACHE_MIN_TOKENS = 1024;
const CACHE_BLOCK_TOKENS = 128;

/** Per-attempt prompt token count: every message's text (string or text parts). */
function promptText(body: ChatCompletionCreateParams): string {
  let text = '';
  for (const message of body.messages) text += contentText(message.content);
  return text;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (part && typeof part === 'object' && typeof part.text === 'string') text += part.text;
  }
  return text;
}

function fnv1aHex(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/** Go-style durations as in `x-ratelimit-reset-*`: `6ms`, `1.5s`, `2m3s`. */
function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${Math.round(ms) / 1000}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

// ---------------------------------------------------------------------------------------------
// Default answers

/**
 * Answers with a minimal instance of the requested JSON schema (so any zod schema parses), `{}` for
 * `json_object`, and a sentence otherwise.
 */
export const defaultResponder: Responder = (request) => {
  const format = request.body.response_format;
  if (format?.type === 'json_schema') {
    const schema = format.json_schema.schema ?? {};
    return { kind: 'json', content: sampleFromSchema(schema, schema) };
  }
  if (format?.type === 'json_object') return { kind: 'json', content: {} };
  return { kind: 'text', content: 'This is a fake answer.' };
};

type Schema = Record<string, unknown>;

/** The smallest value a strict structured-output schema accepts (enough for zod's bounds). */
export function sampleFromSchema(schema: unknown, root: unknown): unknown {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as Schema;
  if (typeof s.$ref === 'string') return sampleFromSchema(resolveRef(s.$ref, root), root);
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const options = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(options)) {
    const nonNull = options.find((o) => (o as Schema | undefined)?.type !== 'null');
    return sampleFromSchema(nonNull ?? options[0], root);
  }
  if (Array.isArray(s.allOf) && s.allOf.length > 0) return sampleFromSchema(s.allOf[0], root);
  const type = Array.isArray(s.type) ? (s.type.find((t) => t !== 'null') ?? 'null') : s.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (s.properties ?? {}) as Record<string, unknown>;
      for (const [key, value] of Object.entries(properties)) out[key] = sampleFromSchema(value, root);
      return out;
    }
    case 'array': {
      const count = typeof s.minItems === 'number' ? s.minItems : 0;
      return Array.from({ length: count }, () => sampleFromSchema(s.items, root));
    }
    case 'string': {
      if (s.format === 'date-time') return '2025-01-01T00:00:00Z';
      if (s.format === 'date') return '2025-01-01';
      if (s.format === 'uuid') return '00000000-0000-4000-8000-000000000000';
      const min = typeof s.minLength === 'number' ? s.minLength : 0;
      return 'fake'.padEnd(min, '.');
    }
    case 'number':
    case 'integer':
      return sampleNumber(s, type === 'integer');
    case 'boolean':
      return false;
    default:
      return null;
  }
}

function sampleNumber(s: Schema, integer: boolean): number {
  const step = integer ? 1 : 0.5;
  let low = -Infinity;
  let high = Infinity;
  if (typeof s.minimum === 'number') low = s.minimum;
  if (typeof s.exclusiveMinimum === 'number') low = Math.max(low, s.exclusiveMinimum + step);
  if (typeof s.maximum === 'number') high = s.maximum;
  if (typeof s.exclusiveMaximum === 'number') high = Math.min(high, s.exclusiveMaximum - step);
  const value = Math.min(Math.max(0, low), high);
  return integer ? Math.ceil(value) : value;
}

function resolveRef(ref: string, root: unknown): unknown {
  if (!ref.startsWith('#')) return null;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/')) {
    if (raw === '') continue;
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    node = node && typeof node === 'object' ? (node as Schema)[key] : undefined;
  }
  return node;
}

/**
 * The API's strict structured-output rule: every object has `additionalProperties: false` and lists
 * every property in `required`. Returns the API's error message, or null.
 */
function strictSchemaProblem(name: string, schema: unknown, context: string[] = []): string | null {
  if (!schema || typeof schema !== 'object') return null;
  const s = schema as Schema;
  const where = `Invalid schema for response_format '${name}': In context=(${context.map((c) => `'${c}'`).join(', ')})`;
  const isObject = s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));
  if (isObject) {
    if (s.additionalProperties !== false) {
      return `${where}, 'additionalProperties' is required to be supplied and to be false.`;
    }
    const properties = (s.properties ?? {}) as Record<string, unknown>;
    const required = Array.isArray(s.required) ? s.required : [];
    const missing = Object.keys(properties).find((key) => !required.includes(key));
    if (missing !== undefined) {
      return `${where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`;
    }
    for (const [key, value] of Object.entries(properties)) {
      const problem = strictSchemaProblem(name, value, [...context, 'properties', key]);
      if (problem) return problem;
    }
  }
  const nested: [string, unknown][] = [['items', s.items]];
  for (const group of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = s[group];
    if (Array.isArray(list)) for (const [i, item] of list.entries()) nested.push([`${group}/${i}`, item]);
  }
  for (const group of ['$defs', 'definitions'] as const) {
    const defs = s[group];
    if (defs && typeof defs === 'object') {
      for (const [key, value] of Object.entries(defs)) nested.push([`${group}/${key}`, value]);
    }
  }
  for (const [key, value] of nested) {
    const problem = strictSchemaProblem(name, value, [...context, ...key.split('/')]);
    if (problem) return problem;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// Errors in the API's shape

interface ApiError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

const DEFAULT_ERRORS: Record<number, Omit<ApiError, 'param'>> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
  401: {
    message:
      'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
    type: 'invalid_request_error',
    code: 'invalid_api_key',
  },
  403: {
    message: 'You are not allowed to sample from this model',
    type: 'invalid_request_error',
    code: null,
  },
  404: {
    message: 'The model does not exist or you do not have access to it.',
    type: 'invalid_request_error',
    code: 'model_not_found',
  },
  408: { message: 'Request timed out.', type: 'timeout', code: null },
  409: { message: 'The request conflicted with another request.', type: 'invalid_request_error', code: null },
  422: { message: 'Unprocessable entity.', type: 'invalid_request_error', code: null },
  429: {
    message:
      'Rate limit reached for requests per min (RPM). Please try again in 1s. Visit https://platform.openai.com/account/rate-limits to learn more.',
    type: 'requests',
    code: 'rate_limit_exceeded',
  },
  500: {
    message: 'The server had an error while processing your request. Sorry about that!',
    type: 'server_error',
    code: null,
  },
  502: { message: 'Bad gateway.', type: 'server_error', code: null },
  503: {
    message: 'The engine is currently overloaded, please try again later.',
    type: 'server_error',
    code: null,
  },
  504: { message: 'Gateway timeout.', type: 'server_error', code: null },
};

const MISSING_KEY_MESSAGE =
  "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from https://platform.openai.com/account/api-keys.";

function errorFromBehaviour(b: ErrorBehaviour): ApiError {
  const base = DEFAULT_ERRORS[b.status] ?? DEFAULT_ERRORS[400]!;
  return {
    message: b.message ?? base.message,
    type: b.type ?? (b.code === 'insufficient_quota' ? 'insufficient_quota' : base.type),
    param: b.param ?? null,
    code: b.code === undefined ? base.code : b.code,
  };
}

function invalidRequest(message: string, param: string | null = null, code: string | null = null): ApiError {
  return { message, type: 'invalid_request_error', param, code };
}

const INVALID_JSON = invalidRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
);

/** The API's own validation of a chat completion body, as far as this project's calls reach. */
function chatRequestProblem(body: ChatCompletionCreateParams): ApiError | null {
  if (typeof body.model !== 'string' || body.model === '') {
    return invalidRequest('you must provide a model parameter');
  }
  if (!Array.isArray(body.messages)) {
    return invalidRequest(
      "Missing required parameter: 'messages'.",
      'messages',
      'missing_required_parameter',
    );
  }
  if (body.messages.length === 0) {
    return invalidRequest(
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  if (body.stream) return invalidRequest('fake-openai: streaming is not implemented.', 'stream');
  const format = body.response_format;
  if (format?.type === 'json_schema' && format.json_schema.strict) {
    const problem = strictSchemaProblem(format.json_schema.name, format.json_schema.schema);
    if (problem) return invalidRequest(problem, 'response_format');
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The server

const CHAT_PATH = '/v1/chat/completions';
const MODERATION_PATH = '/v1/moderations';
const ORGANIZATION = 'user-fakeopenai';
const API_VERSION = '2020-10-01';
const RATE_WINDOW_MS = 60_000;
const DEFAULT_RPM = 10_000;
const DEFAULT_TPM = 10_000_000;
/** Longer than undici's 4 s client keep-alive, so the client always closes first (no reset races). */
const KEEP_ALIVE_MS = 65_000;

const zeroScores: ModerationResponder = () => ({});

class FakeOpenAIServer implements FakeOpenAI {
  url = '';
  readonly requests: RecordedRequest[] = [];
  responder: Responder;
  moderationResponder: ModerationResponder;

  readonly #options: FakeOpenAIOptions;
  readonly #server = createServer((req, res) => this.#onRequest(req, res));
  #queue: Behaviour[] = [];
  #moderationQueue: ModerationBehaviour[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #open = new Set<ServerResponse>();
  /** First-message texts seen so far: a repeat is a prompt-cache hit. */
  #seenPrefixes = new Set<string>();
  #fingerprints = new Map<string, string>();
  #windowStart = 0;
  #windowRequests = 0;
  #windowTokens = 0;

  constructor(options: FakeOpenAIOptions) {
    this.#options = options;
    this.responder = options.responder ?? defaultResponder;
    this.moderationResponder = options.moderationResponder ?? zeroScores;
    this.#server.keepAliveTimeout = KEEP_ALIVE_MS;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.#server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}/v1`;
  }

  enqueue(...behaviours: Behaviour[]): void {
    this.#queue.push(...behaviours);
  }

  enqueueModeration(...behaviours: ModerationBehaviour[]): void {
    this.#moderationQueue.push(...behaviours);
  }

  chatRequests(): ChatRequest[] {
    return this.requests.filter((r) => r.path === CHAT_PATH) as ChatRequest[];
  }

  moderationRequests(): ModerationRequest[] {
    return this.requests.filter((r) => r.path === MODERATION_PATH) as ModerationRequest[];
  }

  reset(): void {
    this.requests.length = 0; // in place: callers may hold the array
    this.#queue = [];
    this.#moderationQueue = [];
    this.responder = this.#options.responder ?? defaultResponder;
    this.moderationResponder = this.#options.moderationResponder ?? zeroScores;
    this.#seenPrefixes = new Set();
    this.#windowStart = 0;
    this.#windowRequests = 0;
    this.#windowTokens = 0;
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const res of this.#open) res.destroy();
    this.#open.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  // -- request handling -----------------------------------------------------------------------

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.#dispatch(req, res, chunks));
  }

  #dispatch(req: IncomingMessage, res: ServerResponse, chunks: Buffer[]): void {
    const started = Date.now();
    const requestId = `req_${randomUUID().replaceAll('-', '')}`;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const method = req.method ?? 'GET';
    let body: unknown;
    let bodyError = false;
    if (chunks.length > 0) {
      try {
        body = JSON.parse(decodeBody(Buffer.concat(chunks), req.headers['content-encoding']));
      } catch {
        bodyError = true;
      }
    }
    const retryCount = Number(req.headers['x-stainless-retry-count'] ?? 0) || 0;
    const recorded: RecordedRequest = {
      method,
      path,
      url,
      headers: req.headers,
      body,
      time: started,
      retryCount,
      requestId,
    };
    if (this.#options.record !== false) this.requests.push(recorded);
    const reply = new Reply(res, requestId, started, () => this.#rateLimitHeaders(0));

    const rejection = this.#rejection(method, path, req.headers.authorization, body, bodyError);
    if (rejection) reply.error(rejection.status, rejection.error);
    else if (path === CHAT_PATH) this.#chat(recorded as ChatRequest, reply);
    else this.#moderation(recorded as ModerationRequest, reply);
  }

  /** What the API checks before looking at the request itself: key, URL, JSON. */
  #rejection(
    method: string,
    path: string,
    authorization: string | undefined,
    body: unknown,
    bodyError: boolean,
  ): { status: number; error: ApiError } | null {
    const authError = this.#authError(authorization);
    if (authError) return { status: 401, error: authError };
    if (method !== 'POST' || (path !== CHAT_PATH && path !== MODERATION_PATH)) {
      return { status: 404, error: invalidRequest(`Invalid URL (${method} ${path})`) };
    }
    if (bodyError || !body || typeof body !== 'object') return { status: 400, error: INVALID_JSON };
    if (path === CHAT_PATH) {
      const problem = chatRequestProblem(body as ChatCompletionCreateParams);
      if (problem) return { status: 400, error: problem };
    } else if (moderationInputs((body as { input?: unknown }).input) === null) {
      return {
        status: 400,
        error: invalidRequest("Missing required parameter: 'input'.", 'input', 'missing_required_parameter'),
      };
    }
    return null;
  }

  #authError(header: string | undefined): ApiError | null {
    if (!header || !/^Bearer\s+\S/i.test(header)) {
      return {
        message: MISSING_KEY_MESSAGE,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      };
    }
    const expected = this.#options.apiKey;
    const given = header.replace(/^Bearer\s+/i, '');
    if (expected !== undefined && given !== expected) {
      const masked = given.length > 8 ? `${given.slice(0, 3)}*****${given.slice(-4)}` : '*****';
      return {
        message: `Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`,
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      };
    }
    return null;
  }

  #chat(request: ChatRequest, reply: Reply): void {
    const body = request.body;
    const behaviour = this.#queue.shift() ?? this.responder(request);
    const prompt = promptText(body);
    const promptTokens = fakeTokenCount(prompt);
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? null;
    const rateLimit = this.#rateLimitHeaders(promptTokens + (maxTokens ?? 0));
    reply.rateLimit = () => rateLimit;
    this.#perform(reply, behaviour, () => this.#completion(body, behaviour, promptTokens, maxTokens));
  }

  #moderation(request: ModerationRequest, reply: Reply): void {
    const inputs = moderationInputs(request.body.input) ?? [];
    const model = fakeSnapshot(request.body.model ?? DEFAULT_MODERATION_MODEL, this.#options.snapshots);
    const behaviour: ModerationBehaviour = this.#moderationQueue.shift() ?? {
      kind: 'moderation',
      scores: inputs.map((text) => this.moderationResponder(text, request)),
    };
    this.#perform(reply, behaviour, () => {
      const b = behaviour as ModerationResultBehaviour;
      const scores = Array.isArray(b.scores) ? b.scores : inputs.map(() => b.scores as ModerationScores);
      const response: ModerationCreateResponse = {
        id: `modr-${randomUUID().replaceAll('-', '')}`,
        model,
        results: inputs.map((_, i) => moderationResult(scores[i] ?? {})),
      };
      return response;
    });
  }

  /** Applies the transport part of a behaviour (delay, hang, disconnect, error) then answers. */
  #perform(reply: Reply, behaviour: Behaviour | ModerationBehaviour, answer: () => object): void {
    if (behaviour.headers) reply.extraHeaders = behaviour.headers;
    const respond = () => {
      if (behaviour.kind === 'hang') this.#hang(reply.res);
      else if (behaviour.kind === 'disconnect') reply.res.socket?.destroy();
      else if (behaviour.kind === 'error') reply.errorBehaviour(behaviour);
      else reply.json(200, answer());
    };
    const delay = behaviour.delayMs ?? 0;
    if (delay <= 0) {
      respond();
      return;
    }
    const res = reply.res;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      res.off('close', onClose);
      if (!res.destroyed) respond();
    }, delay);
    const onClose = () => {
      clearTimeout(timer);
      this.#timers.delete(timer);
    };
    this.#timers.add(timer);
    res.once('close', onClose);
  }

  #hang(res: ServerResponse): void {
    this.#open.add(res);
    res.once('close', () => this.#open.delete(res));
  }

  #completion(
    body: ChatCompletionCreateParams,
    behaviour: Behaviour,
    promptTokens: number,
    maxTokens: number | null,
  ): ChatCompletion {
    let content: string | null = null;
    let refusal: string | null = null;
    let finish: ChatCompletion.Choice['finish_reason'] = 'stop';
    let override: UsageOverride | undefined;
    switch (behaviour.kind) {
      case 'json':
        content = JSON.stringify(behaviour.content);
        override = behaviour.usage;
        break;
      case 'text':
        content = behaviour.content;
        override = behaviour.usage;
        break;
      case 'refusal':
        refusal = behaviour.refusal;
        override = behaviour.usage;
        break;
      case 'truncated': {
        const full =
          typeof behaviour.content === 'string' ? behaviour.content : JSON.stringify(behaviour.content);
        content = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
        finish = 'length';
        override = behaviour.usage;
        break;
      }
      case 'content_filter':
        finish = 'content_filter';
        override = behaviour.usage;
        break;
      default:
        break;
    }
    const model = fakeSnapshot(body.model, this.#options.snapshots);
    const visible = fakeTokenCount(content ?? refusal ?? '');
    const reasoning =
      override?.reasoningTokens ??
      (REASONING_MODEL.test(body.model)
        ? (REASONING_TOKENS[body.reasoning_effort ?? DEFAULT_REASONING_EFFORT] ?? 0)
        : 0);
    const completionTokens =
      override?.completionTokens ??
      (finish === 'length' && maxTokens !== null ? maxTokens : visible + reasoning);
    const prompt = override?.promptTokens ?? promptTokens;
    const cached = override?.cachedTokens ?? this.#cachedTokens(body, prompt);
    const message: ChatCompletion.Choice['message'] = {
      role: 'assistant',
      content,
      refusal,
      annotations: [],
    };
    const n = typeof body.n === 'number' && body.n > 1 ? body.n : 1;
    const choices: ChatCompletion.Choice[] = [];
    for (let index = 0; index < n; index++) {
      choices.push({ index, message, logprobs: null, finish_reason: finish });
    }
    return {
      id: `chatcmpl-${randomUUID().replaceAll('-', '').slice(0, 29)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices,
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completionTokens,
        total_tokens: prompt + completionTokens,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: reasoning,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
      system_fingerprint: this.#fingerprint(model),
    };
  }

  /** A repeated first message (system prompt) of ≥1024 tokens is served from the prompt cache. */
  #cachedTokens(body: ChatCompletionCreateParams, promptTokens: number): number {
    const first = body.messages[0];
    if (!first) return 0;
    const prefix = contentText(first.content);
    const prefixTokens = fakeTokenCount(prefix);
    if (prefixTokens < CACHE_MIN_TOKENS) return 0;
    if (!this.#seenPrefixes.has(prefix)) {
      this.#seenPrefixes.add(prefix);
      return 0;
    }
    return Math.min(promptTokens, Math.floor(prefixTokens / CACHE_BLOCK_TOKENS) * CACHE_BLOCK_TOKENS);
  }

  #fingerprint(model: string): string {
    let fp = this.#fingerprints.get(model);
    if (fp === undefined) {
      fp = `fp_${fnv1aHex(model)}${fnv1aHex(`${model}#`).slice(0, 2)}`;
      this.#fingerprints.set(model, fp);
    }
    return fp;
  }

  /** Fixed one-minute windows; consumes one request and `tokens` when tokens > 0. */
  #rateLimitHeaders(tokens: number): Record<string, string> {
    const now = Date.now();
    if (now - this.#windowStart >= RATE_WINDOW_MS) {
      this.#windowStart = now;
      this.#windowRequests = 0;
      this.#windowTokens = 0;
    }
    if (tokens > 0) {
      this.#windowRequests++;
      this.#windowTokens += tokens;
    }
    const rpm = this.#options.rateLimits?.requestsPerMinute ?? DEFAULT_RPM;
    const tpm = this.#options.rateLimits?.tokensPerMinute ?? DEFAULT_TPM;
    const reset = formatReset(this.#windowStart + RATE_WINDOW_MS - now);
    return {
      'x-ratelimit-limit-requests': String(rpm),
      'x-ratelimit-limit-tokens': String(tpm),
      'x-ratelimit-remaining-requests': String(Math.max(0, rpm - this.#windowRequests)),
      'x-ratelimit-remaining-tokens': String(Math.max(0, tpm - this.#windowTokens)),
      'x-ratelimit-reset-requests': this.#windowRequests === 0 ? '0s' : reset,
      'x-ratelimit-reset-tokens': this.#windowTokens === 0 ? '0s' : reset,
    };
  }
}

/** Writes one response with the API's headers. */
class Reply {
  res: ServerResponse;
  requestId: string;
  started: number;
  /** Computed when the answer is written, so requests rejected early cost no accounting. */
  rateLimit: () => Record<string, string>;
  extraHeaders: Record<string, string> | undefined;

  constructor(
    res: ServerResponse,
    requestId: string,
    started: number,
    rateLimit: () => Record<string, string>,
  ) {
    this.res = res;
    this.requestId = requestId;
    this.started = started;
    this.rateLimit = rateLimit;
    this.extraHeaders = undefined;
  }

  json(status: number, payload: object, headers?: Record<string, string>): void {
    const text = JSON.stringify(payload);
    this.res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'x-request-id': this.requestId,
      'openai-organization': ORGANIZATION,
      'openai-processing-ms': String(Date.now() - this.started),
      'openai-version': API_VERSION,
      'access-control-expose-headers': 'X-Request-ID',
      ...this.rateLimit(),
      ...headers,
      ...this.extraHeaders,
    });
    this.res.end(text);
  }

  error(status: number, error: ApiError, headers?: Record<string, string>): void {
    this.json(status, { error }, headers);
  }

  errorBehaviour(b: ErrorBehaviour): void {
    const headers: Record<string, string> = {};
    if (b.retryAfterSeconds !== undefined) headers['retry-after'] = String(b.retryAfterSeconds);
    if (b.retryAfterMs !== undefined) headers['retry-after-ms'] = String(b.retryAfterMs);
    this.error(b.status, errorFromBehaviour(b), headers);
  }
}

function decodeBody(raw: Buffer, encoding: string | undefined): string {
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return raw.toString('utf8');
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(raw).toString('utf8');
    case 'deflate':
      return inflateSync(raw).toString('utf8');
    case 'br':
      return brotliDecompressSync(raw).toString('utf8');
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

function moderationInputs(input: unknown): string[] | null {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return null;
  return input.map((item) => {
    if (typeof item === 'string') return item;
    if (item && typeof item === 'object' && (item as { type?: unknown }).type === 'text') {
      const text = (item as { text?: unknown }).text;
      return typeof text === 'string' ? text : '';
    }
    return '';
  });
}

function moderationResult(scores: ModerationScores): Moderation {
  const categories: Record<string, boolean> = {};
  const categoryScores: Record<string, number> = {};
  const applied: Record<string, string[]> = {};
  let flagged = false;
  for (const category of MODERATION_CATEGORIES) {
    const score = scores[category] ?? 0;
    const hit = score >= MODERATION_THRESHOLD;
    categories[category] = hit;
    categoryScores[category] = score;
    applied[category] = ['text'];
    flagged ||= hit;
  }
  return {
    flagged,
    categories: categories as unknown as Moderation['categories'],
    category_scores: categoryScores as unknown as Moderation['category_scores'],
    category_applied_input_types: applied as unknown as Moderation['category_applied_input_types'],
  };
}

/** Starts a fake on 127.0.0.1 at a free port. Close it in `afterAll`/`finally`. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const fake = new FakeOpenAIServer(options);
  await fake.listen();
  return fake;
}
