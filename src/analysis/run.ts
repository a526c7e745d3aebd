/**
 * Analysing diary entries, a batch at a time: load the entries, skip what is done or paused,
 * decrypt in memory, render the prompt named by the analysis policy, ask the analyzer (calls run
 * concurrently), validate, and store every result with its private metadata — plus the slip check
 * it triggers — in one transaction. Failures are recorded (sumda.analysis_failures, and a line in
 * admin.error_logs), never papered over.
 * Safe to run twice: results are unique per (diary, prompt name, prompt version).
 */
import { type Kysely, sql } from 'kysely';
import type { PgBoss } from 'pg-boss';
import { type Keyring, open, safetyIdentifier } from '../crypto/index.ts';
import type { Database } from '../db/types.ts';
import { recordError } from '../errorlog.ts';
import type { Logger } from '../log.ts';
import { policyStamp } from '../policy/resolve.ts';
import type { PolicyResolver } from '../policy/resolver.ts';
import { findPrompt, type PromptRecord, renderTemplate } from '../prompts/index.ts';
import { enqueueMany } from '../queue/boss.ts';
import type { Budget } from '../queue/budget.ts';
import { seoulDate } from '../time/calendar.ts';
import type { AnalyzeResult, Analyzer } from './analyzer.ts';
import { notFailedUnder, recordAnalysisFailures } from './failures.ts';
import { costOf } from './pricing.ts';
import { ANALYSIS_SCHEMA_VERSION, type AnalysisOutput } from './schema.ts';

export interface AnalysisJob {
  jobId: string;
  diaryId: string;
  promptName: string;
  promptVersion: string;
  requestId?: string | undefined;
}

export type AnalysisJobResult =
  | { jobId: string; status: 'stored'; analysisId: string }
  | { jobId: string; status: 'skipped'; reason: 'missing' | 'deleted' | 'exists' | 'paused' }
  | { jobId: string; status: 'failed'; outcome: string; problems: string[] }
  | { jobId: string; status: 'retry'; error: Error };

export interface AnalysisDeps {
  db: Kysely<Database>;
  boss: PgBoss;
  keyring: Keyring;
  resolver: PolicyResolver;
  analyzer: Analyzer;
  budget: Budget;
  log: Logger;
  /** Prompts are immutable: cached for the life of the process. */
  prompts?: Map<string, PromptRecord>;
}

const HANGUL = /[\uac00-\ud7a3]/g;

function languageOf(text: string): 'ko' | 'en' {
  const hangul = text.match(HANGUL)?.length ?? 0;
  return hangul >= Math.max(3, text.replace(/\s/g, '').length * 0.2) ? 'ko' : 'en';
}

async function promptFor(deps: AnalysisDeps, name: string, version: string): Promise<PromptRecord> {
  deps.prompts ??= new Map();
  const key = `${name}\u0000${version}`;
  let prompt = deps.prompts.get(key);
  if (!prompt) {
    prompt = await findPrompt(deps.db, name, version);
    deps.prompts.set(key, prompt);
  }
  return prompt;
}

interface Pending {
  job: AnalysisJob;
  userId: string;
  createdAt: Date;
  contentEnc: Buffer;
  result?: AnalyzeResult;
  prompt?: PromptRecord;
  stamp?: ReturnType<typeof policyStamp>;
  model?: string;
  replaced?: boolean;
  output?: AnalysisOutput;
  error?: Error;
}

type Stored = Pending & { result: Extract<AnalyzeResult, { outcome: 'ok' }> };
type Failed = Pending & { result: Exclude<AnalyzeResult, { outcome: 'ok' }> };

/**
 * The steps of a batch: load the entries (one round trip), set aside what needs no model call,
 * analyse the rest concurrently, then store results and record failures in one transaction.
 * Errors thrown on the way (temporary trouble and surprises alike) send the job back to the queue.
 */
export async function analyzeBatch(
  deps: AnalysisDeps,
  jobs: AnalysisJob[],
  signal?: AbortSignal,
): Promise<AnalysisJobResult[]> {
  // Nothing to do (e.g. every payload of the batch was rejected); `in ()` is not valid SQL.
  if (jobs.length === 0) return [];
  const results = new Map<string, AnalysisJobResult>();
  const entries = await loadEntries(deps.db, [...new Set(jobs.map((j) => j.diaryId))]);
  const pending = setAside(jobs, entries, results);
  await Promise.all(pending.map((p) => analyzeEntry(deps, p, signal)));

  const stored = pending.filter((p): p is Stored => p.result?.outcome === 'ok');
  const failed = pending.filter((p): p is Failed => p.result !== undefined && p.result.outcome !== 'ok');
  await deps.db.transaction().execute(async (trx) => {
    await storeAnalyses(trx, deps.boss, stored, results);
    await recordFailed(trx, failed, results);
  });

  for (const p of pending) {
    // Temporary trouble (RetryableAnalysisError) and surprises alike go back to the queue, which
    // retries with backoff and dead-letters past the limit; the worker records each failure.
    if (p.error) results.set(p.job.jobId, { jobId: p.job.jobId, status: 'retry', error: p.error });
  }
  return jobs.map(
    (j) => results.get(j.jobId) ?? { jobId: j.jobId, status: 'retry', error: new Error('no result') },
  );
}

/**
 * One round trip for the batch: each entry with the analyses it already has and whether its
 * author's AI reading is paused (an open slip: their entries are not read).
 */
async function loadEntries(db: Kysely<Database>, ids: string[]) {
  const rows = await db
    .selectFrom('diary_entries as d')
    .select(['d.id', 'd.user_id', 'd.content_enc', 'd.created_at', 'd.moderation_state'])
    .select((eb) => [
      sql<[string, string][]>`coalesce((
        select json_agg(json_build_array(a.prompt_name, a.prompt_version))
        from analysis_results a where a.diary_id = d.id), '[]')`.as('analyses'),
      eb
        .exists(
          eb
            .selectFrom('admin.slip_conditions as s')
            .select('s.id')
            .whereRef('s.user_id', '=', 'd.user_id')
            .where('s.status', '=', 'slipped')
            .where('s.released_at', 'is', null),
        )
        .as('paused'),
    ])
    .where('d.id', 'in', ids)
    .execute();
  return new Map(rows.map((e) => [e.id, e]));
}

/** Jobs that need no model call get their result now (missing, deleted, done, paused); the rest are pending. */
function setAside(
  jobs: AnalysisJob[],
  entries: Awaited<ReturnType<typeof loadEntries>>,
  results: Map<string, AnalysisJobResult>,
): Pending[] {
  const done = new Set(
    [...entries.values()].flatMap((e) =>
      e.analyses.map(([name, version]) => `${e.id}\u0000${name}\u0000${version}`),
    ),
  );
  const paused = new Set([...entries.values()].filter((e) => e.paused).map((e) => e.user_id));
  const pending: Pending[] = [];
  for (const job of jobs) {
    const entry = entries.get(job.diaryId);
    if (!entry) results.set(job.jobId, { jobId: job.jobId, status: 'skipped', reason: 'missing' });
    else if (entry.moderation_state === 'deleted')
      results.set(job.jobId, { jobId: job.jobId, status: 'skipped', reason: 'deleted' });
    else if (done.has(`${job.diaryId}\u0000${job.promptName}\u0000${job.promptVersion}`)) {
      results.set(job.jobId, { jobId: job.jobId, status: 'skipped', reason: 'exists' });
    } else if (paused.has(entry.user_id))
      results.set(job.jobId, { jobId: job.jobId, status: 'skipped', reason: 'paused' });
    else
      pending.push({
        job,
        userId: entry.user_id,
        createdAt: entry.created_at,
        contentEnc: entry.content_enc,
      });
  }
  return pending;
}

/**
 * Resolves the author's policies, renders the prompt and asks the analyzer (within the budget).
 * Sets `p.result` (and the output the user sees), or `p.error` when anything threw.
 */
async function analyzeEntry(deps: AnalysisDeps, p: Pending, signal?: AbortSignal): Promise<void> {
  try {
    const resolution = await deps.resolver.resolve({ userId: p.userId });
    const policies = resolution.configs;
    p.stamp = policyStamp(resolution);
    p.prompt = await promptFor(deps, p.job.promptName, p.job.promptVersion);
    p.model = policies.analysis.model;
    // Plaintext lives only in this scope: rendered into the prompt, sent, and dropped.
    const text = open(deps.keyring, p.contentEnc, p.userId);
    const prompt = renderTemplate(p.prompt.template, {
      diary_text: text,
      language: languageOf(text),
      tone_voice: policies.tone.voice,
      speech_level: policies.tone.speech_level,
      emoji: policies.tone.emoji,
      max_interpretation_chars: policies.tone.max_interpretation_chars,
      mode: policies.mode.mode,
      ask_reflection_question: policies.mode.ask_reflection_question,
      today: seoulDate(p.createdAt),
      schema_version: ANALYSIS_SCHEMA_VERSION,
    });
    await deps.budget.acquire(signal);
    p.result = await deps.analyzer.analyze({
      prompt,
      text,
      model: policies.analysis.model,
      temperature: policies.analysis.temperature,
      maxOutputTokens: policies.analysis.max_output_tokens,
      repairAttempts: policies.analysis.repair_attempts,
      userHash: safetyIdentifier(deps.keyring, p.userId),
      signal,
    });
    if (p.result.outcome === 'ok') {
      const ethics = policies.ethics;
      const crisis = p.result.output.ethics_tags.some((t) => ethics.crisis_tags.includes(t));
      p.replaced = crisis && ethics.replace_output_on_crisis;
      // On crisis entries the user sees the vetted template, never improvised text.
      p.output = p.replaced
        ? {
            ...p.result.output,
            interpretation: ethics.crisis_template.interpretation,
            reflection_question: ethics.crisis_template.reflection_question,
          }
        : p.result.output;
    }
  } catch (error) {
    p.error = error as Error;
  }
}

/** Inserts the results (a concurrent twin's is kept: `exists`) and enqueues the slip check of each new one. */
async function storeAnalyses(
  trx: Kysely<Database>,
  boss: PgBoss,
  stored: Stored[],
  results: Map<string, AnalysisJobResult>,
): Promise<void> {
  if (stored.length === 0) return;
  const rows = await trx
    .insertInto('analysis_results')
    .values(stored.map(resultRow))
    .onConflict((oc) => oc.columns(['diary_id', 'prompt_name', 'prompt_version']).doNothing())
    .returning(['id', 'diary_id'])
    .execute();
  const byDiary = new Map(rows.map((r) => [r.diary_id, r.id]));
  for (const p of stored) {
    const id = byDiary.get(p.job.diaryId);
    results.set(
      p.job.jobId,
      id
        ? { jobId: p.job.jobId, status: 'stored', analysisId: id }
        : { jobId: p.job.jobId, status: 'skipped', reason: 'exists' },
    );
  }
  // The slip check exists exactly when the analysis does, and follows the request of its own job.
  const requestIds = new Map(stored.map((p) => [p.job.diaryId, p.job.requestId]));
  await enqueueMany(
    boss,
    'slipCheck',
    rows.map((r) => ({
      payload: { analysisId: r.id, requestId: requestIds.get(r.diary_id) },
      singletonKey: r.id,
    })),
    { trx },
  );
}

/** The analysis_results row of a stored analysis: the output the user sees and its private metadata. */
function resultRow(p: Stored) {
  const r = p.result;
  const o = p.output!;
  const cost = costOf(r.call.model, r.call.tokens);
  return {
    diary_id: p.job.diaryId,
    user_id: p.userId,
    summary: o.summary,
    emotion_flow: JSON.stringify(o.emotion_flow),
    reflection_question: o.reflection_question,
    interpretation: o.interpretation,
    keywords: o.keywords,
    prompt_name: p.prompt!.name,
    prompt_version: p.prompt!.version,
    metadata: JSON.stringify({
      schema_version: ANALYSIS_SCHEMA_VERSION,
      analyzer: r.call.analyzer,
      analyzer_version: r.call.analyzerVersion,
      // What really answered: the requested model for the API, the offline analyzer otherwise.
      model_name: r.call.analyzer === 'openai' ? p.model : r.call.model,
      model_version: r.call.model,
      prompt_name: p.prompt!.name,
      prompt_version: p.prompt!.version,
      prompt_hash: p.prompt!.contentHash,
      language: o.language,
      tier_a: o.tier_a,
      tier_m: o.tier_m,
      valence: o.valence,
      context_tags: o.context_tags,
      ethics_tags: o.ethics_tags,
      slip_input: {
        tier_a: o.tier_a,
        tier_m: o.tier_m,
        valence: o.valence,
        context_tags: o.context_tags,
        ethics_tags: o.ethics_tags,
      },
      ...p.stamp,
      tokens: r.call.tokens,
      latency_ms: r.call.latencyMs,
      request_id: r.call.requestId,
      cost_usd: cost?.usd ?? null,
      price_table: cost?.priceTable ?? null,
      repair_attempted: r.call.repairAttempted,
      output_replaced: p.replaced ?? false,
      job_id: p.job.jobId,
      operator_request_id: p.job.requestId ?? null,
    }),
  };
}

/** Terminal failures: the scan's record (sumda.analysis_failures) and a log line each; never retried. */
async function recordFailed(
  trx: Kysely<Database>,
  failed: Failed[],
  results: Map<string, AnalysisJobResult>,
): Promise<void> {
  await recordAnalysisFailures(
    trx,
    failed.map((p) => ({
      diaryId: p.job.diaryId,
      promptName: p.job.promptName,
      promptVersion: p.job.promptVersion,
      outcome: p.result.outcome,
      jobId: p.job.jobId,
      spend: {
        modelVersion: p.result.call.model,
        inputTokens: p.result.call.tokens.input,
        outputTokens: p.result.call.tokens.output,
        costUsd: costOf(p.result.call.model, p.result.call.tokens)?.usd ?? null,
      },
    })),
  );
  for (const p of failed) {
    const r = p.result;
    await recordError(trx, {
      service: 'analysis',
      severity: 'warn',
      refId: p.job.diaryId,
      message: `analysis ${r.outcome}: ${r.problems[0] ?? ''}`,
      context: {
        terminal: true,
        outcome: r.outcome,
        problems: r.problems.slice(0, 10),
        prompt_name: p.job.promptName,
        prompt_version: p.job.promptVersion,
        model_version: r.call.model,
        request_id: r.call.requestId,
        tokens: r.call.tokens,
        cost_usd: costOf(r.call.model, r.call.tokens)?.usd ?? null,
        repair_attempted: r.call.repairAttempted,
        job_id: p.job.jobId,
      },
    });
    results.set(p.job.jobId, {
      jobId: p.job.jobId,
      status: 'failed',
      outcome: r.outcome,
      problems: r.problems,
    });
  }
}

export interface ActivePrompt {
  promptName: string;
  promptVersion: string;
}

/** The prompt the active (global) analysis policy names. */
export async function activePrompt(resolver: PolicyResolver): Promise<ActivePrompt> {
  const resolution = await resolver.resolve({});
  return {
    promptName: resolution.configs.analysis.prompt_name,
    promptVersion: resolution.configs.analysis.prompt_version,
  };
}

export interface ScanOptions {
  since?: Date;
  until?: Date;
  userId?: string;
  prompt: ActivePrompt;
  /** Skip entries whose analysis under this prompt failed terminally (the schedule does; operators re-running don't). */
  skipFailed: boolean;
  limit?: number;
  /** Keyset cursor: the last row of the previous page. */
  after?: { created_at: Date; id: string };
}

/** Entries with no analysis under the prompt, oldest first, keyset-paged by (created_at, id). */
export async function findUnanalysed(
  db: Kysely<Database>,
  options: ScanOptions,
): Promise<{ id: string; created_at: Date }[]> {
  return unanalysedQuery(db, options).execute();
}

/** How many entries findUnanalysed would return without a limit. */
export async function countUnanalysed(
  db: Kysely<Database>,
  options: Omit<ScanOptions, 'limit' | 'after'>,
): Promise<number> {
  const row = await db
    .selectFrom(unanalysedQuery(db, options).clearOrderBy().as('q'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

function unanalysedQuery(db: Kysely<Database>, options: ScanOptions) {
  let query = db
    .selectFrom('diary_entries as d')
    .select(['d.id', 'd.created_at'])
    .where('d.moderation_state', '<>', 'deleted')
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('analysis_results as a')
            .select('a.id')
            .whereRef('a.diary_id', '=', 'd.id')
            .where('a.prompt_name', '=', options.prompt.promptName)
            .where('a.prompt_version', '=', options.prompt.promptVersion),
        ),
      ),
    )
    // Entries written while the AI reading was paused stay unread.
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('admin.slip_conditions as s')
            .select('s.id')
            .whereRef('s.user_id', '=', 'd.user_id')
            .where('s.status', '=', 'slipped')
            .whereRef('s.triggered_at', '<=', 'd.created_at')
            .where((eb) =>
              eb.or([eb('s.released_at', 'is', null), eb('s.released_at', '>', eb.ref('d.created_at'))]),
            ),
        ),
      ),
    )
    .orderBy('d.created_at')
    .orderBy('d.id');
  if (options.skipFailed) {
    query = query.where(notFailedUnder(options.prompt));
  }
  if (options.since) query = query.where('d.created_at', '>=', options.since);
  if (options.until) query = query.where('d.created_at', '<', options.until);
  if (options.userId) query = query.where('d.user_id', '=', options.userId);
  if (options.after) {
    const { created_at, id } = options.after;
    query = query.where((eb) => eb(eb.refTuple('d.created_at', 'd.id'), '>', eb.tuple(created_at, id)));
  }
  if (options.limit) query = query.limit(options.limit);
  return query;
}

export function analysisSingletonKey(diaryId: string, prompt: ActivePrompt): string {
  return `${diaryId}:${prompt.promptName}:${prompt.promptVersion}`;
}

/** Enqueues analysis jobs for entries; returns how many were created (a job already waiting for the same entry and prompt is not duplicated). */
export async function enqueueAnalyses(
  boss: PgBoss,
  diaryIds: string[],
  prompt: ActivePrompt,
  requestId?: string,
  trx?: Kysely<Database>,
): Promise<number> {
  return enqueueMany(
    boss,
    'analysisRun',
    diaryIds.map((diaryId) => ({
      payload: { diaryId, ...prompt, ...(requestId ? { requestId } : {}) },
      singletonKey: analysisSingletonKey(diaryId, prompt),
    })),
    trx ? { trx } : {},
  );
}
