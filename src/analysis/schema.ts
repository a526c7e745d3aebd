/**
 * The shape of one diary analysis, shared by the OpenAI structured-output call and the offline
 * analyzer, validated again after parsing. Glossary:
 * - tier_a (감정 강도, "sentimental score"): how strong the feelings are, 0.1–4.0; 1.0 is an ordinary day,
 *   4.0 an emotional explosion. Intensity is not risk: joy can be 3.8.
 * - tier_m (몰입 척도): how immersed/complex the writing is, 0.1–4.0.
 * - valence: overall positivity, -1 (very negative) … 1 (very positive). With context_tags it is what
 *   separates "healthy high intensity" (achievement, joy, focus) from risky high intensity.
 * - ethics_tags: risk labels from a closed set; self_harm* route to the crisis flow, violence /
 *   sexual_minors / illegal put the entry in the moderation queue.
 * This schema is the contract; bump ANALYSIS_SCHEMA_VERSION on any change.
 */
import { z } from 'zod';

export const ANALYSIS_SCHEMA_VERSION = 'analysis.v1';

/** The emotions that feel good; reports count them +1 (src/reports/summary.ts EMOTION_POLARITY). */
export const POSITIVE_EMOTIONS = ['joy', 'gratitude', 'calm', 'pride', 'excitement', 'love', 'hope'] as const;
/** The emotions that hurt; reports count them −1. */
export const NEGATIVE_EMOTIONS = [
  'sadness',
  'anxiety',
  'anger',
  'fear',
  'loneliness',
  'exhaustion',
  'shame',
  'despair',
] as const;
/** Every emotion, in this order (the offline analyzer indexes by it): positive, neutral, negative. */
export const EMOTIONS = [...POSITIVE_EMOTIONS, 'neutral', ...NEGATIVE_EMOTIONS] as const;
export type Emotion = (typeof EMOTIONS)[number];

export const ETHICS_TAGS = [
  'self_harm', // talk of hurting oneself or wishing not to exist
  'self_harm_intent', // a plan, means or time: the most urgent signal
  'violence', // threats or intent to hurt others
  'sexual_minors',
  'sexual',
  'illegal',
  'hate',
  'harassment',
] as const;
export type EthicsTag = (typeof ETHICS_TAGS)[number];

export const CONTEXT_TAGS = [
  'achievement',
  'joy',
  'focus',
  'gratitude',
  'rest',
  'relationship',
  'work',
  'study',
  'health',
  'conflict',
  'loss',
  'anxiety',
  'anger',
  'loneliness',
  'exhaustion',
] as const;
export type ContextTag = (typeof CONTEXT_TAGS)[number];

export const emotionStepSchema = z
  .object({
    phase: z
      .string()
      .min(1)
      .max(40)
      .describe('where in the day or the entry this step is, e.g. "아침", "퇴근길"'),
    emotion: z.enum(EMOTIONS),
    intensity: z.number().min(0).max(1).describe('0 = barely there, 1 = overwhelming'),
    note: z.string().min(1).max(200).describe('one short sentence in the language of the entry'),
  })
  .strict();

/** What the model must return. Every field required and no extras: OpenAI strict structured output. */
export const analysisOutputSchema = z
  .object({
    language: z.enum(['ko', 'en']),
    summary: z.string().min(1).max(300).describe('"오늘의 장면": the day in one or two sentences'),
    emotion_flow: z.array(emotionStepSchema).min(1).max(8),
    reflection_question: z
      .string()
      .min(2)
      .max(200)
      .describe('exactly one open question for the writer, ending with a question mark'),
    interpretation: z.string().min(1).max(800).describe('a kind, non-judgemental reading of the entry'),
    keywords: z.array(z.string().min(1).max(30)).min(3).max(5),
    tier_a: z.number().min(0.1).max(4),
    tier_m: z.number().min(0.1).max(4),
    valence: z.number().min(-1).max(1),
    context_tags: z.array(z.enum(CONTEXT_TAGS)).max(6),
    ethics_tags: z.array(z.enum(ETHICS_TAGS)).max(ETHICS_TAGS.length),
  })
  .strict();
export type AnalysisOutput = z.infer<typeof analysisOutputSchema>;

/**
 * What is safely normalisable in a schema-valid answer, normalised rather than thrown away with a
 * paid call: the schema sent allows repeated items (OpenAI's strict mode has no uniqueItems), so a
 * tag or keyword given twice is kept once. Order is kept.
 */
export function normaliseAnalysis(output: AnalysisOutput): AnalysisOutput {
  const seen = new Set<string>();
  const keywords = output.keywords.filter((k) => {
    const key = k.trim().toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return {
    ...output,
    keywords,
    context_tags: [...new Set(output.context_tags)],
    ethics_tags: [...new Set(output.ethics_tags)],
  };
}

/**
 * Checks a normalised answer for what JSON Schema cannot say: exactly one question, and at least
 * three distinct keywords once repeats are dropped. Returns every problem (empty = good).
 */
export function semanticProblems(output: AnalysisOutput): string[] {
  const problems: string[] = [];
  const q = output.reflection_question.trim();
  const marks = (q.match(/[?？]/g) ?? []).length;
  if (marks !== 1 || !/[?？]$/.test(q))
    problems.push('reflection_question must be exactly one question ending with "?"');
  const lowered = new Set(output.keywords.map((k) => k.trim().toLowerCase()));
  if (lowered.size < 3) problems.push('keywords must be at least 3 distinct words');
  return problems;
}

/** Parses an unknown answer fully: schema, then semantics. */
export function parseAnalysis(
  value: unknown,
): { ok: true; value: AnalysisOutput } | { ok: false; problems: string[] } {
  const parsed = analysisOutputSchema.safeParse(value);
  if (!parsed.success) {
    return {
      ok: false,
      // Problems are recorded (error_logs, job output): never zod's list of unrecognized keys, which
      // repeats the model's own key names — text that may echo the diary.
      problems: parsed.error.issues.map(
        (i) =>
          `${i.path.join('.') || '(root)'}: ${i.code === 'unrecognized_keys' ? `${i.keys.length} field(s) not in the schema` : i.message}`,
      ),
    };
  }
  const normalised = normaliseAnalysis(parsed.data);
  const problems = semanticProblems(normalised);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: normalised };
}
