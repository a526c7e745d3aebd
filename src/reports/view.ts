/**
 * Looking at reports: one user's report of a period (found by an instant or date inside it), its
 * terminal rendering (sparkline waveform, emotion bars, keywords, representative sentence, change),
 * and the admin dashboard figures over many reports (`report stats`).
 */
import { type Kysely, sql } from 'kysely';
import { POSITIVE_EMOTIONS } from '../analysis/schema.ts';
import type { Database } from '../db/types.ts';
import { NotFoundError } from '../errors.ts';
import { type PeriodType, periodContaining } from '../time/calendar.ts';
import { parseSummary, type ReportSummary } from './summary.ts';

export interface UserReport {
  userId: string;
  nickname: string;
  periodType: PeriodType;
  periodStart: string;
  periodEnd: string;
  updatedAt: Date;
  summary: ReportSummary;
}

export async function findReport(
  db: Kysely<Database>,
  userId: string,
  type: PeriodType,
  at: Date,
): Promise<UserReport> {
  const period = periodContaining(type, at);
  const row = await sql<{ nickname: string; summary: unknown; updated_at: Date }>`
    select u.nickname, r.summary, r.updated_at
    from public.users u left join public.reports r
      on r.user_id = u.id and r.period_type = ${type} and r.period_start = ${period.startDate}::date
    where u.id = ${userId}::uuid`.execute(db);
  const found = row.rows[0];
  if (!found) throw new NotFoundError(`--user: no user ${userId}`);
  if (!found.summary) {
    throw new NotFoundError(
      `no ${type} report of user ${userId} for ${period.startDate} .. ${period.endDate} (exclusive): no visible entry then, or not built yet`,
    );
  }
  return {
    userId,
    nickname: found.nickname,
    periodType: type,
    periodStart: period.startDate,
    periodEnd: period.endDate,
    updatedAt: found.updated_at,
    summary: parseSummary(found.summary),
  };
}

const SPARKS = '▁▂▃▄▅▆▇█';

/** One character per point: score −1 … 1 on eight levels; `·` where nothing was analysed. */
export function sparkline(points: readonly (number | null)[]): string {
  return points
    .map((p) => (p === null ? '·' : SPARKS[Math.min(7, Math.max(0, Math.floor(((p + 1) / 2) * 8)))]))
    .join('');
}

export function bar(share: number, width = 20): string {
  const filled = Math.round(share * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

const signed = (n: number) => (n > 0 ? `+${n}` : String(n));
const PREVIOUS: Record<PeriodType, string> = {
  daily: 'the day before',
  weekly: 'last week',
  monthly: 'last month',
  yearly: 'last year',
};

/** The report as terminal lines (English labels, the user's own Korean words as they are). */
export function renderReport(report: UserReport): string[] {
  const s = report.summary;
  const lines: string[] = [];
  lines.push(
    `${report.periodType} report of ${report.nickname} (${report.userId}), ${report.periodStart} .. ${report.periodEnd} (exclusive)`,
  );
  lines.push(
    `  written   ${s.entries} entr${s.entries === 1 ? 'y' : 'ies'} (${s.analysed_entries} analysed) on ${s.days_written} day(s); longest streak ${s.longest_streak_days} day(s)`,
  );
  lines.push(
    s.emotion_score
      ? `  score     avg ${s.emotion_score.avg} (min ${s.emotion_score.min}, max ${s.emotion_score.max}; −1 … 1)`
      : '  score     nothing analysed yet',
  );
  const unit = { entry: 'per entry', day: 'per day', month: 'per month' }[s.waveform.unit];
  lines.push(
    `  waveform  ${sparkline(s.waveform.points)}  (${unit} from ${s.waveform.start}; · = nothing analysed)`,
  );
  if (s.emotions.length > 0) {
    lines.push('  emotions');
    const width = Math.max(...s.emotions.map((e) => e.emotion.length));
    for (const e of s.emotions.slice(0, 6)) {
      lines.push(`    ${e.emotion.padEnd(width)}  ${bar(e.share)} ${Math.round(e.share * 100)}%`);
    }
  }
  if (s.keywords.length > 0)
    lines.push(`  keywords  ${s.keywords.map((k) => `${k.keyword} ×${k.count}`).join(', ')}`);
  if (s.representative) {
    lines.push(
      `  sentence  “${s.representative.sentence}” (${s.representative.date}, score ${s.representative.score})`,
    );
  }
  if (s.change) {
    const c = s.change;
    lines.push(
      `  change    vs ${PREVIOUS[report.periodType]}: entries ${signed(c.entries)} (was ${c.previous.entries}), days ${signed(c.days_written)} (was ${c.previous.days_written})` +
        (c.avg_score === null
          ? ''
          : `, avg score ${signed(Math.round(c.avg_score * 1000) / 1000)} (was ${c.previous.avg_score})`),
    );
  } else lines.push(`  change    nothing written ${PREVIOUS[report.periodType]}`);
  return lines;
}

export interface PeriodStats {
  period_start: string;
  users: number;
  /** Mean of the users' average scores. */
  avg_score: number | null;
  /** Mean share of positive emotions; `positive_shift` is its change from the period before. */
  positive_share: number | null;
  positive_shift: number | null;
  avg_entries: number;
  avg_days_written: number;
  top_emotion: string | null;
}

/** Dashboard figures per period of a type since a date: users with reports, trend, distribution shift, frequency. */
export async function reportStats(
  db: Kysely<Database>,
  type: PeriodType,
  sinceDate: string,
): Promise<PeriodStats[]> {
  const rows = await sql<PeriodStats>`
    with r as (
      select period_start, summary from public.reports where period_type = ${type} and period_start >= ${sinceDate}::date
    ),
    p as (
      select period_start, count(*)::int as users,
             round(avg((summary->'emotion_score'->>'avg')::numeric), 3)::float8 as avg_score,
             round(avg(case when jsonb_array_length(summary->'emotions') > 0 then
                         coalesce((select sum((e->>'share')::numeric) from jsonb_array_elements(summary->'emotions') e
                                   where e->>'emotion' = any(${[...POSITIVE_EMOTIONS]}::text[])), 0) end), 3)::float8 as positive_share,
             round(avg((summary->>'entries')::numeric), 2)::float8 as avg_entries,
             round(avg((summary->>'days_written')::numeric), 2)::float8 as avg_days_written
      from r group by period_start
    ),
    top as (
      select distinct on (period_start) period_start, e->>'emotion' as emotion
      from r cross join jsonb_array_elements(r.summary->'emotions') e
      group by period_start, e->>'emotion'
      order by period_start, sum((e->>'share')::numeric) desc, e->>'emotion'
    )
    select p.period_start::text as period_start, p.users, p.avg_score, p.positive_share,
           round((p.positive_share - lag(p.positive_share) over (order by p.period_start))::numeric, 3)::float8 as positive_shift,
           p.avg_entries, p.avg_days_written, top.emotion as top_emotion
    from p left join top on top.period_start = p.period_start
    order by p.period_start`.execute(db);
  return rows.rows;
}
