/**
 * The deterministic offline analyzer: what sumda uses instead of the LLM when no OPENAI_API_KEY is
 * set. It returns the same AnalysisOutput contract (src/analysis/schema.ts) for any input, with
 * no randomness and no clock, fast enough for bulk use (tens of thousands of entries per second).
 *
 * How it reads an entry:
 * 1. split into sentences (Korean endings, punctuation, newlines);
 * 2. scan each sentence for lexicon terms (longest term wins at a position; see lexicon.ts), then
 *    apply modifiers around each hit: intensifiers before it ('너무', 'really'), diminishers
 *    ('조금', 'a bit'), hyperbole after it ('행복해 죽겠다'), negation ('안 ', '-지 않', "n't");
 * 3. sentence scores become the emotion flow (merged to at most 8 steps); peak and mean intensity
 *    give tier_a, length/variety/reflection give tier_m, weighted valence gives valence;
 * 4. ethics tags come from separate, precise phrase lists (matched with spaces removed in Korean),
 *    never from emotion scores: intensity is not risk.
 * Summary, question and interpretation are chosen from vetted pools by the dominant emotion; the
 * summary is composed from the keywords and the dominant feeling; it never quotes the diary.
 *
 * The files: lexicon.ts (the terms, data), text.ts (characters, the term index, sentences),
 * scoring.ts (hits and sentence scores), keywords.ts, ethics.ts, phrases.ts (the vetted output
 * words, data), output.ts (summary and flow); this file puts an entry's scores together.
 */
import { type AnalysisOutput, CONTEXT_TAGS, type ContextTag, EMOTIONS, type Emotion } from '../schema.ts';
import { ethicsOf } from './ethics.ts';
import { pickKeywords } from './keywords.ts';
import { EN_REFLECTION, KO_REFLECTION } from './lexicon.ts';
import { buildFlow, buildSummary, choose, hashText } from './output.ts';
import { ARC, INTERPRETATIONS, type PoolKey, QUESTIONS } from './phrases.ts';
import { clamp, dominantOf, EMOTION_INDEX, round2, scoreSentence } from './scoring.ts';
import { countLetters, EN_TOPIC_MAP, KO_TOPIC_MAP, languageOf, splitSentences } from './text.ts';

/** Labels recorded in analysis metadata instead of a model name. */
export const OFFLINE_ANALYZER = Object.freeze({ name: 'sumda-offline', version: '1.0.0' });

/** Longer texts are read up to here; the app caps diaries far below this. */
const MAX_ANALYSED_CHARS = 40_000;

/** Decomposed Hangul (conjoining jamo, e.g. from macOS input) must be composed before matching. */
const NEEDS_NFC = /[\u1100-\u11ff]|[\u0300-\u036f]/;

const FIRST_PERSON_KO = /(?:^|\s)(?:나는|내가|나를|나한테|나도|나의|내 |저는|제가)/g;
const FIRST_PERSON_EN = /\b(?:i|i'm|i've|my|me)\b/g;

/** Analyses one diary entry without any network call. Same input, same output. */
export function analyzeOffline(input: string): AnalysisOutput {
  const raw = typeof input === 'string' ? input : '';
  const capped = raw.length > MAX_ANALYSED_CHARS ? raw.slice(0, MAX_ANALYSED_CHARS) : raw;
  const text = NEEDS_NFC.test(capped) ? capped.normalize('NFC') : capped;
  const counts = countLetters(text);
  const lang = languageOf(counts);
  const lower = text.toLowerCase();
  // lower-casing keeps offsets for Korean and almost all Latin text; where it does not ('İ'), each
  // sentence is lower-cased on its own
  const sameOffsets = lower.length === text.length;
  const sentences = splitSentences(text).map(([from, to]) =>
    scoreSentence(
      text.slice(from, to),
      sameOffsets ? lower.slice(from, to) : text.slice(from, to).toLowerCase(),
    ),
  );
  const ethics = ethicsOf(lower, counts);

  // emotion totals, valence (later sentences weigh a little more: how the day ended matters)
  const weights = new Float64Array(EMOTIONS.length);
  let vNum = 0;
  let vDen = 0;
  let peak = 0;
  let hitSentences = 0;
  let intensitySum = 0;
  const half = sentences.length / 2;
  let firstV = 0;
  let firstW = 0;
  let lastV = 0;
  let lastW = 0;
  const emotionsSeen = new Set<Emotion>();
  const tagScores = new Map<ContextTag, number>();
  sentences.forEach((s, idx) => {
    const position = sentences.length > 1 ? idx / (sentences.length - 1) : 1;
    const w = 1 + 0.5 * position;
    for (const h of s.hits) {
      weights[EMOTION_INDEX[h.emotion]] = (weights[EMOTION_INDEX[h.emotion]] as number) + h.intensity * w;
      vNum += w * h.intensity * h.valence;
      vDen += w * h.intensity;
      if (h.emotion !== 'neutral') emotionsSeen.add(h.emotion);
      for (const tag of h.tags) tagScores.set(tag, (tagScores.get(tag) ?? 0) + h.intensity);
    }
    for (const t of s.topics) {
      const tag = KO_TOPIC_MAP.get(t) ?? EN_TOPIC_MAP.get(t);
      if (tag) tagScores.set(tag, (tagScores.get(tag) ?? 0) + 0.35);
    }
    if (s.hits.length > 0) {
      hitSentences++;
      intensitySum += s.intensity;
      if (s.intensity > peak) peak = s.intensity;
      if (idx < half) {
        firstV += s.valence * s.intensity;
        firstW += s.intensity;
      } else {
        lastV += s.valence * s.intensity;
        lastW += s.intensity;
      }
    }
  });
  const valence = clamp(vDen > 0 ? vNum / (vDen + 0.25) : 0, -1, 1);
  const dominant: Emotion = ethics.selfHarm ? 'despair' : (dominantOf(weights) ?? 'neutral');
  const hasLetters = sentences.some((s) => s.hasLetters);

  // tier_a: mostly the peak, partly the mean over emotional sentences; 1.0 ≈ an ordinary day
  const mean = hitSentences > 0 ? intensitySum / hitSentences : 0;
  const f = 0.6 * peak + 0.4 * mean;
  const tierA = hasLetters || hitSentences > 0 ? clamp(0.4 + 3.6 * f ** 1.3, 0.1, 4) : 0.1;

  // tier_m: length, sentence count, first-person reflection, emotional variety
  const letters = counts.hangul + counts.latin;
  const reflection = (lower.match(KO_REFLECTION)?.length ?? 0) + (lower.match(EN_REFLECTION)?.length ?? 0);
  const firstPerson =
    (lower.match(FIRST_PERSON_KO)?.length ?? 0) + (lower.match(FIRST_PERSON_EN)?.length ?? 0);
  const tierM =
    letters === 0
      ? 0.1
      : clamp(
          0.1 +
            1.3 * Math.min(1, letters / 500) +
            0.8 * Math.min(1, sentences.length / 8) +
            1.0 * Math.min(1, (reflection + 0.25 * firstPerson) / 3) +
            0.8 * Math.min(1, Math.max(0, emotionsSeen.size - 1) / 4),
          0.1,
          4,
        );

  const contextTags = [...tagScores.entries()]
    .filter(([, score]) => score >= 0.3)
    .sort((a, b) => b[1] - a[1] || CONTEXT_TAGS.indexOf(a[0]) - CONTEXT_TAGS.indexOf(b[0]))
    .slice(0, 6)
    .map(([tag]) => tag);

  let key: PoolKey = dominant;
  if (ethics.selfHarm) key = 'self_harm';
  else if (valence > 0 && contextTags[0] === 'focus') key = 'focus';
  else if (valence > 0 && contextTags[0] === 'achievement') key = 'pride';

  const hash = hashText(text);
  let interpretation = choose(INTERPRETATIONS[lang][key], hash, 0x51ed);
  if (!ethics.selfHarm && firstW > 0 && lastW > 0) {
    const early = firstV / firstW;
    const late = lastV / lastW;
    if (early < -0.2 && late > 0.2) interpretation += ` ${ARC[lang].up}`;
    else if (early > 0.2 && late < -0.2) interpretation += ` ${ARC[lang].down}`;
  }

  const keywords = pickKeywords(sentences, lang);
  return {
    language: lang,
    summary: buildSummary(
      lang,
      keywords,
      dominant,
      ethics.selfHarm,
      dominant === 'calm' && contextTags[0] === 'focus',
    ),
    emotion_flow: buildFlow(sentences, lang),
    reflection_question: choose(QUESTIONS[lang][key], hash, 0x9a3c),
    interpretation,
    keywords,
    tier_a: round2(tierA),
    tier_m: round2(tierM),
    valence: round2(valence),
    context_tags: contextTags,
    ethics_tags: ethics.tags,
  };
}
