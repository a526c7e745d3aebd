/**
 * Composing the offline analyzer's output: a stable choice among vetted pool entries, the summary
 * (from keywords and the dominant feeling, never the diary's sentences) and the emotion flow.
 */
import type { AnalysisOutput, Emotion } from '../schema.ts';
import { EN_NOUN, KO_NOUN, PHASES, stepNote } from './phrases.ts';
import { clamp, round2, type Sentence } from './scoring.ts';
import type { Lang } from './text.ts';

const MAX_FLOW_STEPS = 8;
const SUMMARY_MAX = 120;
export function hashText(text: string): number {
  let h = 0x811c9dc5;
  const n = Math.min(text.length, 4000);
  for (let i = 0; i < n; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function choose<T>(items: readonly T[], hash: number, salt: number): T {
  const mixed = Math.imul(hash ^ salt, 0x9e3779b1) >>> 0;
  return items[mixed % items.length] as T;
}

/** Control and format characters (Postgres text refuses NUL; zero-width marks) never reach the summary. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\u2028\u2029]+/gu;

/** One sentence, made printable and clipped at a word boundary to `max` characters with an ellipsis. */
function clip(sentence: string, max: number): string {
  const s = sentence.replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim().toWellFormed();
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  if (space > max * 0.5) cut = cut.slice(0, space);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1); // never split an emoji
  return `${cut.replace(/[\s,.;:·-]+$/, '')}…`;
}

/**
 * "오늘의 장면" without quoting the diary: operators see analyses, never diary text, so the offline
 * summary is composed from the entry's keywords and its dominant feeling, not from its sentences.
 */
export function buildSummary(
  lang: Lang,
  keywords: readonly string[],
  dominant: Emotion,
  selfHarm: boolean,
  focusDay: boolean,
): string {
  if (selfHarm) return lang === 'ko' ? '마음이 많이 무겁고 지쳐 있었던 하루.' : 'A day that felt very heavy.';
  const about = keywords.slice(0, 2).join(lang === 'ko' ? ' · ' : ' and ');
  if (lang === 'ko') {
    if (dominant === 'neutral') return clip(`${about}, 담담하게 흘러간 하루.`, SUMMARY_MAX);
    // KO_NOUN carries its own subject particle (기쁨이, 기대가).
    return clip(`${about} — ${focusDay ? '몰입이' : KO_NOUN[dominant]} 가장 컸던 하루.`, SUMMARY_MAX);
  }
  if (dominant === 'neutral') return clip(`A quiet, ordinary day: ${about}.`, SUMMARY_MAX);
  return clip(`A day of ${about}, marked by ${focusDay ? 'deep focus' : EN_NOUN[dominant]}.`, SUMMARY_MAX);
}

interface Step {
  emotion: Emotion;
  intensity: number;
  topic: string | null;
  focus: boolean;
}

export function buildFlow(sentences: readonly Sentence[], lang: Lang): AnalysisOutput['emotion_flow'] {
  let steps: Step[] = [];
  for (const s of sentences) {
    if (!s.hasLetters && s.hits.length === 0) continue;
    const step: Step =
      s.hits.length > 0
        ? { emotion: s.emotion, intensity: s.intensity, topic: s.topics[0] ?? null, focus: s.focus }
        : { emotion: 'neutral', intensity: 0.1, topic: s.topics[0] ?? null, focus: false };
    const prev = steps[steps.length - 1];
    if (prev !== undefined && prev.emotion === step.emotion) {
      prev.intensity = Math.max(prev.intensity, step.intensity);
      prev.topic ??= step.topic;
      prev.focus ||= step.focus;
    } else steps.push(step);
  }
  if (steps.length > MAX_FLOW_STEPS) {
    // keep the strongest step of each eighth of the entry; when it would only repeat the step
    // before, a comparably strong different feeling is kept instead so real swings stay visible
    const bucketed: Step[] = [];
    const n = steps.length;
    for (let k = 0; k < MAX_FLOW_STEPS; k++) {
      const from = Math.floor((k * n) / MAX_FLOW_STEPS);
      const to = Math.floor(((k + 1) * n) / MAX_FLOW_STEPS);
      const prev = bucketed[bucketed.length - 1];
      let pick: Step | undefined;
      let other: Step | undefined;
      for (let j = from; j < to; j++) {
        const s = steps[j] as Step;
        if (pick === undefined || s.intensity > pick.intensity) pick = s;
        if (
          prev !== undefined &&
          s.emotion !== prev.emotion &&
          (other === undefined || s.intensity > other.intensity)
        ) {
          other = s;
        }
      }
      if (pick === undefined) continue;
      if (
        prev !== undefined &&
        pick.emotion === prev.emotion &&
        other !== undefined &&
        other.intensity >= 0.6 * pick.intensity
      ) {
        pick = other;
      }
      if (prev !== undefined && prev.emotion === pick.emotion)
        prev.intensity = Math.max(prev.intensity, pick.intensity);
      else bucketed.push({ ...pick });
    }
    steps = bucketed;
  }
  if (steps.length === 0) steps = [{ emotion: 'neutral', intensity: 0.1, topic: null, focus: false }];
  const labels = PHASES[lang][steps.length - 1] as readonly string[];
  return steps.map((s, i) => ({
    phase: labels[i] as string,
    emotion: s.emotion,
    intensity: round2(clamp(s.intensity, 0, 1)),
    note: stepNote(lang, s.emotion, s.intensity, s.topic, s.focus),
  }));
}
