/**
 * The Korean wall-clock text users read in slip notes, computed on the calendar module: exact
 * strings around midnight and noon, and the same text as ICU's ko-KR formatting (Asia/Seoul) for
 * thousands of seeded instants.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/seed/corpus.ts';
import { koreanTime } from '../../src/slips/messages.ts';

const ICU = new Intl.DateTimeFormat('ko-KR', {
  timeZone: 'Asia/Seoul',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
  hour12: true,
});

function icuKoreanTime(at: Date): string {
  const parts = Object.fromEntries(ICU.formatToParts(at).map((p) => [p.type, p.value]));
  const minute = parts.minute === '00' ? '' : ` ${Number(parts.minute)}분`;
  return `${parts.month}월 ${parts.day}일 ${parts.dayPeriod} ${parts.hour}시${minute}`;
}

describe('koreanTime', () => {
  it('reads the 12-hour clock as Koreans do', () => {
    expect(koreanTime(new Date('2026-11-25T00:00:00+09:00'))).toBe('11월 25일 오전 12시');
    expect(koreanTime(new Date('2026-11-25T00:05:00+09:00'))).toBe('11월 25일 오전 12시 5분');
    expect(koreanTime(new Date('2026-11-25T11:59:59+09:00'))).toBe('11월 25일 오전 11시 59분');
    expect(koreanTime(new Date('2026-11-25T12:00:00+09:00'))).toBe('11월 25일 오후 12시');
    expect(koreanTime(new Date('2026-11-26T15:20:00+09:00'))).toBe('11월 26일 오후 3시 20분');
    // 15:00 UTC is already the next day in Seoul.
    expect(koreanTime(new Date('2026-12-31T15:00:00Z'))).toBe('1월 1일 오전 12시');
  });

  it('says what ICU says for 3,000 random instants', () => {
    const rng = createRng(7);
    const from = Date.UTC(2000, 0, 1);
    const span = Date.UTC(2100, 0, 1) - from;
    for (let i = 0; i < 3000; i++) {
      const at = new Date(from + Math.floor(rng.next() * span));
      expect(koreanTime(at), at.toISOString()).toBe(icuKoreanTime(at));
    }
  });
});
