/**
 * The report summary (`public.reports.summary`): its keys, fixed in docs/report-summary.md and
 * checked here. Reports are user-facing, so the summary is built only from what a user may see —
 * entries' days and visibility, and the analysis fields shown to the writer (summary, emotion_flow,
 * keywords). Private analysis metadata (tiers, valence, ethics tags, model, tokens) and slip data
 * never reach it; the builder reads an analysis's ethics tags for one thing only: an entry flagged
 * with any (self-harm, violence, …) is never chosen as the representative sentence. Bump REPORT_SCHEMA_VERSION, and the document, on any change of shape or meaning.
 *
 * Glossary
 * - emotion score (감정 점수) of an analysed entry: the mean, over the steps of its `emotion_flow`,
 *   of polarity(emotion) × intensity, where polarity is +1 for the positive emotions, 0 for neutral
 *   and −1 for the negative ones (EMOTION_POLARITY). Range −1 … 1.
 * - the current analysis of an entry: its newest analysis_results row (a re-analysis replaces it).
 * - counted entry: an entry whose moderation_state is `visible` (blocked and deleted entries are left out).
 */
import { z } from 'zod';
import { EMOTIONS, type Emotion, NEGATIVE_EMOTIONS, POSITIVE_EMOTIONS } from '../analysis/schema.ts';

export const REPORT_SCHEMA_VERSION = 1;
/**
 * Accounts that get reports: active and dormant ones (a dormant user who comes back finds them).
 * Banned and resigned accounts are not built for.
 */
export const REPORTED_USER_STATES = ['active', 'inactive'] as const;
/** Most frequent keywords kept in a report. */
export const TOP_KEYWORDS = 5;
/** Decimal places of every score and share. */
export const SCORE_DECIMALS = 3;

/** +1 positive, 0 neutral, −1 negative; an emotion not listed counts 0. */
export const EMOTION_POLARITY: Readonly<Record<Emotion, -1 | 0 | 1>> = Object.fromEntries(
  EMOTIONS.map((e) => [
    e,
    (POSITIVE_EMOTIONS as readonly string[]).includes(e)
      ? 1
      : (NEGATIVE_EMOTIONS as readonly string[]).includes(e)
        ? -1
        : 0,
  ]),
) as Record<Emotion, -1 | 0 | 1>;

const score = z.number().min(-1).max(1);
const count = z.number().int().min(0);
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);

export const reportSummarySchema = z
  .object({
    schema_version: z.literal(REPORT_SCHEMA_VERSION),
    /** Counted entries written in the period (이용 빈도). */
    entries: count.min(1),
    /** Counted entries that have an analysis. */
    analysed_entries: count,
    /** Distinct Seoul days with a counted entry. */
    days_written: count.min(1),
    /** Longest run of consecutive days written inside the period. */
    longest_streak_days: count.min(1),
    /** Over analysed entries (평균/최대/최소 감정 점수); null when none is analysed. */
    emotion_score: z.object({ avg: score, max: score, min: score }).strict().nullable(),
    /** Share of emotion_flow steps per emotion (감정 비율), most frequent first. */
    emotions: z.array(z.object({ emotion: z.string(), share: z.number().min(0).max(1) }).strict()),
    /** Top keywords (상위 키워드): entries naming each, most first, then by code point. */
    keywords: z
      .array(z.object({ keyword: z.string().min(1), count: count.min(1) }).strict())
      .max(TOP_KEYWORDS),
    /** 대표 문장: the analysis summary of the entry with the strongest score (never diary text). */
    representative: z.object({ sentence: z.string(), date, score }).strict().nullable(),
    /** 감정 파형: one point per entry (daily), per day (weekly, monthly) or per month (yearly). */
    waveform: z
      .object({
        unit: z.enum(['entry', 'day', 'month']),
        /** The first day (day/month units) of the series; for `entry`, the period's day. */
        start: date,
        /** Mean score of the bucket; null where nothing analysed was written. */
        points: z.array(score.nullable()),
      })
      .strict(),
    /** Against the previous period of the same type; null when that period had no counted entry. */
    change: z
      .object({
        previous: z
          .object({ entries: count.min(1), days_written: count.min(1), avg_score: score.nullable() })
          .strict(),
        entries: z.number().int(),
        days_written: z.number().int(),
        /** Difference of the rounded averages; null when either is null. */
        avg_score: z.number().min(-2).max(2).nullable(),
      })
      .strict()
      .nullable(),
  })
  .strict();

export type ReportSummary = z.infer<typeof reportSummarySchema>;

/** Parses a stored summary; a summary of another version is reported, not guessed at. */
export function parseSummary(value: unknown): ReportSummary {
  return reportSummarySchema.parse(value);
}
