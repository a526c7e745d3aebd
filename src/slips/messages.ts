/**
 * What the user reads, in plain Korean: slip and release notes from the slip policy's wording
 * (placeholders {duration} and {until} only — never a score), and the crisis note with every
 * crisis line from the ethics policy.
 */
import type { UserMessage } from '../notifications/index.ts';
import type { EthicsConfig, SlipConfig } from '../policy/schemas.ts';
import { seoulTime } from '../time/calendar.ts';
import { parseDuration } from '../time/grammar.ts';

/** `24h` → `24시간`, `3d` → `3일`, `1h30m` → `1시간 30분`. */
export function koreanDuration(duration: string): string {
  const ms = parseDuration(duration);
  // Up to two days reads better in hours ("24시간 동안"), beyond that in days.
  if (ms <= 2 * 86_400_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}시간`;
  const days = Math.floor(ms / 86_400_000);
  const hours = Math.floor((ms % 86_400_000) / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const parts = [days && `${days}일`, hours && `${hours}시간`, minutes && `${minutes}분`].filter(Boolean);
  return parts.length > 0 ? parts.join(' ') : '잠시';
}

/** An instant as Koreans read it: `11월 26일 오후 3시 20분` (Asia/Seoul, 12-hour clock: 오전 12시 is midnight). */
export function koreanTime(at: Date): string {
  const t = seoulTime(at);
  const minute = t.minute === 0 ? '' : ` ${t.minute}분`;
  return `${t.month}월 ${t.day}일 ${t.hour < 12 ? '오전' : '오후'} ${t.hour % 12 || 12}시${minute}`;
}

export function slipMessage(
  slip: SlipConfig,
  kind: 'warning' | 'slipped' | 'released',
  context: { duration?: string | null; until?: Date | null } = {},
): UserMessage {
  const template = slip.messages[kind];
  const fill = (text: string) =>
    text
      .replaceAll('{duration}', context.duration ? koreanDuration(context.duration) : '잠시')
      .replaceAll('{until}', context.until ? koreanTime(context.until) : '곧');
  return { title: fill(template.title), body: fill(template.body) };
}

export function crisisMessage(ethics: EthicsConfig): UserMessage {
  const lines = ethics.crisis_resources.map((r) => `• ${r.name} ${r.phone} (${r.hours}) — ${r.description}`);
  return { title: ethics.crisis_message.title, body: `${ethics.crisis_message.body}\n\n${lines.join('\n')}` };
}
