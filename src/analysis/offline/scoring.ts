/**
 * Scoring for the offline analyzer: lexicon hits in a sentence with the modifiers around them
 * (intensifiers, diminishers, hyperbole, negation, a contrast turn), and the sentence's score.
 */
import { type ContextTag, EMOTIONS, type Emotion } from '../schema.ts';
import { nounsOf } from './keywords.ts';
import {
  CONTRAST,
  EN_DIMINISHERS,
  EN_INTENSIFIERS,
  EN_PRE_NEGATION,
  KO_DIMINISHERS,
  KO_INTENSIFIERS,
  KO_POST_INTENSIFIERS,
  KO_POST_NEGATION,
  type LexEntry,
} from './lexicon.ts';
import { isHangul, isLatin, LEX_INDEX, termMatches } from './text.ts';

interface Hit {
  readonly emotion: Emotion;
  readonly valence: number;
  intensity: number;
  /** where the hit starts in its sentence */
  readonly at: number;
  readonly keyword: string | null;
  readonly tags: readonly ContextTag[];
  readonly negated: boolean;
}

export interface Sentence {
  readonly text: string;
  readonly hits: Hit[];
  /** 0 … 1 */
  readonly intensity: number;
  readonly emotion: Emotion;
  readonly valence: number;
  readonly hasLetters: boolean;
  /** calm that is really deep focus (몰입): worded as focus, since the schema has no such emotion */
  readonly focus: boolean;
  readonly topics: string[];
  readonly generic: string[];
}

export const clamp = (x: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, x));
export const round2 = (x: number): number => Math.round(x * 100) / 100;

function koPreNegated(t: string, i: number): boolean {
  let p = i - 1;
  if (p >= 0 && t.charCodeAt(p) === 32) p--;
  if (p < 0) return false;
  const c = t[p];
  if (c !== '안' && c !== '못') return false;
  return p === 0 || !isHangul(t.charCodeAt(p - 1));
}

const INTENSIFY_ONE = 1.3;
const INTENSIFY_TWO = 1.55;
const DIMINISH = 0.6;
const HYPERBOLE = 1.3;
const NEGATED = 0.5;
const EXCLAMATION_STEP = 0.06;
const EXCLAMATION_MAX = 0.18;

function scanHits(t: string): Hit[] {
  const hits: Hit[] = [];
  const n = t.length;
  let i = 0;
  while (i < n) {
    const code = t.charCodeAt(i);
    if (LEX_INDEX.first[code] === 0) {
      i++;
      continue;
    }
    const bucket = LEX_INDEX.buckets.get(code);
    let entry: LexEntry | undefined;
    if (bucket !== undefined) {
      for (const e of bucket) {
        if (termMatches(t, i, e.term, e.whole, e.wordStart)) {
          entry = e;
          break;
        }
      }
    }
    if (entry === undefined) {
      i++;
      continue;
    }
    const end = i + entry.term.length;
    let next = end;
    if (entry.arousal === 0) {
      i = next; // a blocker: hides the span, carries no feeling
      continue;
    }
    let factor = 1;
    let negated = false;
    const first = entry.term.charCodeAt(0);
    if (isHangul(first)) {
      const before = t.slice(Math.max(0, i - 10), i);
      const ints = before.match(KO_INTENSIFIERS)?.length ?? 0;
      if (ints > 0) factor *= ints > 1 ? INTENSIFY_TWO : INTENSIFY_ONE;
      if (KO_DIMINISHERS.test(before)) factor *= DIMINISH;
      const after = t.slice(end, end + 10);
      for (const p of KO_POST_INTENSIFIERS) {
        const at = after.indexOf(p);
        if (at >= 0 && at <= 5) {
          factor *= HYPERBOLE;
          next = end + at + p.length; // "죽겠" here is hyperbole, not a word of its own
          break;
        }
      }
      negated = koPreNegated(t, i) || (next === end && KO_POST_NEGATION.test(after));
    } else if (isLatin(first)) {
      const before = t.slice(Math.max(0, i - 24), i);
      const ints = before.match(EN_INTENSIFIERS)?.length ?? 0;
      if (ints > 0) factor *= ints > 1 ? INTENSIFY_TWO : INTENSIFY_ONE;
      if (EN_DIMINISHERS.test(before)) factor *= DIMINISH;
      negated = EN_PRE_NEGATION.test(before);
    }
    let intensity = entry.arousal * factor;
    let valence = entry.valence;
    let emotion = entry.emotion;
    if (negated) {
      // "행복하지 않았다" is mildly sad, "불안하지 않았다" mildly calm; neither is the opposite extreme
      intensity *= NEGATED;
      if (valence > 0) {
        valence = -0.5 * valence;
        emotion = entry.valence >= 0.4 ? 'sadness' : 'neutral';
      } else if (valence < 0) {
        // relief, but "죽고 싶지는 않다" is not a good feeling either: the darkest words turn neutral
        valence = entry.valence <= -0.8 ? 0 : 0.3 * -valence;
        emotion = entry.valence <= -0.8 ? 'neutral' : 'calm';
      }
    }
    hits.push({
      emotion,
      valence,
      intensity: clamp(intensity, 0, 1),
      at: i,
      keyword: negated ? null : entry.keyword,
      tags: negated ? [] : entry.tags,
      negated,
    });
    i = next;
  }
  if (hits.length > 1) discountBeforeTurn(t, hits);
  return hits;
}

const CONTRAST_DISCOUNT = 0.35;

/** "걱정했는데 다행히 괜찮았다": the worry before the turn counts half when the feeling flips after it. */
function discountBeforeTurn(t: string, hits: Hit[]): void {
  let turn = -1;
  for (const m of t.matchAll(CONTRAST)) turn = m.index;
  if (turn < 0) return;
  let after = 0;
  for (const h of hits) if (h.at > turn) after += h.valence * h.intensity;
  if (after === 0) return;
  for (const h of hits) {
    if (h.at < turn && Math.sign(h.valence) === -Math.sign(after)) h.intensity *= CONTRAST_DISCOUNT;
  }
}

export const EMOTION_INDEX: Readonly<Record<Emotion, number>> = Object.fromEntries(
  EMOTIONS.map((e, i) => [e, i]),
) as Record<Emotion, number>;

export function dominantOf(weights: Float64Array): Emotion | null {
  let best = -1;
  let bestW = 0;
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k] as number;
    if (w > bestW) {
      bestW = w;
      best = k;
    }
  }
  return best < 0 ? null : (EMOTIONS[best] as Emotion);
}

const SCRATCH_WEIGHTS = new Float64Array(EMOTIONS.length);

export function scoreSentence(text: string, lower: string): Sentence {
  const hits = scanHits(lower);
  let hasLetters = false;
  let exclamations = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 33 || c === 0xff01) exclamations++;
    else if (!hasLetters && (isHangul(c) || isLatin(c))) hasLetters = true;
  }
  let intensity = 0;
  let emotion: Emotion = 'neutral';
  let valence = 0;
  let focus = false;
  if (hits.length > 0) {
    const weights = SCRATCH_WEIGHTS.fill(0);
    let max = 0;
    let sum = 0;
    let vSum = 0;
    for (const h of hits) {
      weights[EMOTION_INDEX[h.emotion]] = (weights[EMOTION_INDEX[h.emotion]] as number) + h.intensity;
      if (h.intensity > max) max = h.intensity;
      sum += h.intensity;
      vSum += h.intensity * h.valence;
    }
    intensity = clamp(
      max + 0.3 * (sum - max) + Math.min(EXCLAMATION_MAX, exclamations * EXCLAMATION_STEP),
      0,
      1,
    );
    emotion = dominantOf(weights) ?? 'neutral';
    if (emotion === 'calm') {
      let focusWeight = 0;
      for (const h of hits) if (h.tags.includes('focus')) focusWeight += h.intensity;
      focus = focusWeight >= 0.5 * (weights[EMOTION_INDEX.calm] as number);
    }
    valence = sum > 0 ? vSum / sum : 0;
  }
  const nouns = nounsOf(lower);
  return {
    text,
    hits,
    intensity,
    emotion,
    valence,
    hasLetters,
    focus,
    topics: nouns.topics,
    generic: nouns.generic,
  };
}
