/**
 * The analyzer seam: the OpenAI model or the deterministic offline analyzer, one contract.
 * Outcomes are explicit: an answer, or a refusal, a length cut-off, a content filter stop, or
 * invalid output after at most one repair attempt — never invented values. Temporary trouble
 * (429, 5xx, timeouts) is thrown as RetryableAnalysisError for the queue to retry later.
 */

import type { TokenUsage } from './pricing.ts';
import type { AnalysisOutput } from './schema.ts';

export interface AnalyzeRequest {
  /** The rendered prompt (instructions with the diary text in place). Never logged. */
  prompt: string;
  /** The diary text alone, for analyzers that read it directly (offline). Never logged. */
  text: string;
  model: string;
  temperature: number;
  maxOutputTokens: number;
  repairAttempts: number;
  /** A hash of the user id: the only identifier that leaves sumda. */
  userHash: string;
  signal?: AbortSignal;
}

export interface CallRecord {
  analyzer: string;
  analyzerVersion: string;
  /** The exact model snapshot that answered. */
  model: string;
  requestId: string | null;
  tokens: TokenUsage;
  latencyMs: number;
  repairAttempted: boolean;
}

export type FailureOutcome = 'refused' | 'truncated' | 'content_filter' | 'invalid_output' | 'rejected';

export type AnalyzeResult =
  | { outcome: 'ok'; output: AnalysisOutput; call: CallRecord }
  | { outcome: FailureOutcome; problems: string[]; call: CallRecord };

export interface Analyzer {
  readonly name: string;
  analyze(request: AnalyzeRequest): Promise<AnalyzeResult>;
}

/** Temporary: try again later (the job is retried with backoff). */
export class RetryableAnalysisError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryableAnalysisError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

export const ZERO_TOKENS: TokenUsage = { input: 0, output: 0, cached: 0, reasoning: 0 };
