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
 */
import type { AnalysisOutput, ContextTag, Emotion, EthicsTag } from '../schema.ts';
import { CONTEXT_TAGS, EMOTIONS, ETHICS_TAGS } from '../schema.ts';
import {
  CONTRAST,
  EN_DIMINISHERS,
  EN_EXPLICIT_INTENT,
  EN_ILLEGAL,
  EN_INTENSIFIERS,
  EN_PRE_NEGATION,
  EN_REFLECTION,
  EN_SELF_HARM,
  EN_SELF_HARM_INTENT,
  EN_SELF_HARM_NEGATION,
  EN_STOPWORDS,
  EN_TOPICS,
  EN_VIOLENCE,
  KO_DIMINISHERS,
  KO_EXPLICIT_INTENT,
  KO_ILLEGAL,
  KO_INTENSIFIERS,
  KO_PARTICLES,
  KO_POST_INTENSIFIERS,
  KO_POST_NEGATION,
  KO_REFLECTION,
  KO_SELF_HARM,
  KO_SELF_HARM_INTENT,
  KO_SELF_HARM_NEGATION,
  KO_STOPWORDS,
  KO_TOPICS,
  KO_VIOLENCE,
  LEXICON,
  type LexEntry,
} from './lexicon.ts';

/** Labels recorded in analysis metadata instead of a model name. */
export const OFFLINE_ANALYZER = Object.freeze({ name: 'sumda-offline', version: '1.0.0' });

/** Longer texts are read up to here; the app caps diaries far below this. */
const MAX_ANALYSED_CHARS = 40_000;
const MAX_FLOW_STEPS = 8;
const SUMMARY_MAX = 120;

type Lang = 'ko' | 'en';

// ---------------------------------------------------------------------------------------------
// Character classes and the term index

const isHangul = (c: number): boolean => (c >= 0xac00 && c <= 0xd7a3) || (c >= 0x3131 && c <= 0x318e);
const isLatin = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
/** Inside an English word: letters, digits and the apostrophe of "won't". */
const isWordChar = (c: number): boolean => isLatin(c) || (c >= 48 && c <= 57) || c === 39;

interface Termed {
  readonly term: string;
}

/**
 * Terms bucketed by their first UTF-16 unit, longest first, so a scan tries few candidates; `first`
 * flags the units that start any term, a cheaper test than a Map lookup for the many that do not.
 */
interface TermIndex<T> {
  readonly first: Uint8Array;
  readonly buckets: Map<number, T[]>;
}

function buildIndex<T extends Termed>(entries: readonly T[]): TermIndex<T> {
  const buckets = new Map<number, T[]>();
  const first = new Uint8Array(65536);
  for (const e of entries) {
    const key = e.term.charCodeAt(0);
    first[key] = 1;
    const bucket = buckets.get(key);
    if (bucket) bucket.push(e);
    else buckets.set(key, [e]);
  }
  for (const bucket of buckets.values()) bucket.sort((a, b) => b.term.length - a.term.length);
  return { first, buckets };
}

const LEX_INDEX = buildIndex(LEXICON);
// Maps, not `in` on object literals: an English token like "constructor" must not look like a topic
const KO_TOPIC_MAP = new Map(Object.entries(KO_TOPICS));
const EN_TOPIC_MAP = new Map(Object.entries(EN_TOPICS));

/** Does `e` match `t` at `i`, respecting word boundaries for English and eojeol starts for '^' terms? */
function termMatches(t: string, i: number, term: string, whole: boolean, wordStart: boolean): boolean {
  if (!t.startsWith(term, i)) return false;
  const first = term.charCodeAt(0);
  if (isLatin(first)) {
    if (i > 0 && isWordChar(t.charCodeAt(i - 1))) return false;
    if (whole) {
      const after = i + term.length;
      if (after < t.length && isWordChar(t.charCodeAt(after))) return false;
    }
  } else if (wordStart && i > 0 && isHangul(t.charCodeAt(i - 1))) {
    return false;
  }
  return true;
}

type RiskKind = 'self_harm' | 'intent' | 'explicit_intent' | 'violence' | 'illegal';
interface RiskPhrase {
  readonly term: string;
  readonly kind: RiskKind;
}
const riskList = (kind: RiskKind, terms: readonly string[]): RiskPhrase[] =>
  terms.map((term) => ({ term, kind }));

const KO_RISK_INDEX = buildIndex([
  ...riskList('self_harm', KO_SELF_HARM),
  ...riskList('intent', KO_SELF_HARM_INTENT),
  ...riskList('explicit_intent', KO_EXPLICIT_INTENT),
  ...riskList('violence', KO_VIOLENCE),
  ...riskList('illegal', KO_ILLEGAL),
]);
const EN_RISK_INDEX = buildIndex([
  ...riskList('self_harm', EN_SELF_HARM),
  ...riskList('intent', EN_SELF_HARM_INTENT),
  ...riskList('explicit_intent', EN_EXPLICIT_INTENT),
  ...riskList('violence', EN_VIOLENCE),
  ...riskList('illegal', EN_ILLEGAL),
]);

// ---------------------------------------------------------------------------------------------
// Sentences

const isTerminator = (c: number): boolean =>
  c === 46 || c === 33 || c === 63 || c === 0x3002 || c === 0xff1f || c === 0xff01 || c === 0x2026; // . ! ? 。 ？ ！ …
const isCloser = (c: number): boolean =>
  c === 41 ||
  c === 34 ||
  c === 39 ||
  c === 0x201d ||
  c === 0x2019 ||
  c === 126 ||
  c === 0x300d ||
  c === 0x300f; // ) " ' ” ’ ~ 」 』
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
/** A run without punctuation this long is split again at Korean sentence endings ("…했다 그리고"). */
const LONG_SEGMENT = 160;
const KO_ENDING_SPLIT_G = /(?<=[다요죠네음함])\s+/g;
const isSpace = (c: number): boolean =>
  c === 32 || c === 9 || c === 10 || c === 13 || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200b);

/** Sentence boundaries as [from, to) offsets, trimmed of surrounding whitespace. */
function splitSentences(text: string): [number, number][] {
  const out: [number, number][] = [];
  const push = (from: number, to: number): void => {
    while (from < to && isSpace(text.charCodeAt(from))) from++;
    while (to > from && isSpace(text.charCodeAt(to - 1))) to--;
    if (from === to) return;
    if (to - from <= LONG_SEGMENT) {
      out.push([from, to]);
      return;
    }
    const segment = text.slice(from, to);
    let at = from;
    for (const m of segment.matchAll(KO_ENDING_SPLIT_G)) {
      const end = from + m.index;
      if (end > at) out.push([at, end]);
      at = end + m[0].length;
    }
    if (to > at) out.push([at, to]);
  };
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      push(start, i);
      start = i + 1;
      continue;
    }
    if (!isTerminator(c)) continue;
    if (c === 46 && i > 0 && isDigit(text.charCodeAt(i - 1)) && isDigit(text.charCodeAt(i + 1))) continue; // 3.5km
    let j = i + 1;
    while (j < n && (isTerminator(text.charCodeAt(j)) || isCloser(text.charCodeAt(j)))) j++;
    push(start, j);
    start = j;
    i = j - 1;
  }
  push(start, n);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scoring

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

interface Sentence {
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

const clamp = (x: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, x));
const round2 = (x: number): number => Math.round(x * 100) / 100;

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

const EMOTION_INDEX: Readonly<Record<Emotion, number>> = Object.fromEntries(
  EMOTIONS.map((e, i) => [e, i]),
) as Record<Emotion, number>;

function dominantOf(weights: Float64Array): Emotion | null {
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

function scoreSentence(text: string, lower: string): Sentence {
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

// ---------------------------------------------------------------------------------------------
// Keywords and topics

/** Final syllables that mark a verb/adjective form rather than a noun ("갔다", "먹고", "좋은"). */
const KO_VERBAL_FINALS = new Set(
  '다요고서며면지게니데까네던는은을한했된될할운아어워져해러자죠겠었았였듯록든나걸건려라냐쯤며'.split(''),
);
/** Particles by their last syllable, longest first: one Map lookup instead of trying them all. */
const PARTICLES_BY_LAST = (() => {
  const m = new Map<string, string[]>();
  for (const p of KO_PARTICLES) {
    const last = p[p.length - 1] as string;
    const list = m.get(last);
    if (list) list.push(p);
    else m.set(last, [p]);
  }
  for (const list of m.values()) list.sort((a, b) => b.length - a.length);
  return m;
})();

function stripParticle(token: string): string {
  const list = PARTICLES_BY_LAST.get(token[token.length - 1] as string);
  if (list === undefined) return token;
  for (const p of list) {
    if (token.length > p.length && token.endsWith(p)) return token.slice(0, token.length - p.length);
  }
  return token;
}

interface TokenInfo {
  /** a topic noun from the lists (keyword candidate and context tag) */
  readonly topic: string | null;
  /** otherwise, a word that looks like a noun: a keyword only when repeated */
  readonly generic: string | null;
}
const NOT_A_KEYWORD: TokenInfo = Object.freeze({ topic: null, generic: null });

function classifyToken(token: string): TokenInfo {
  if (isHangul(token.charCodeAt(0))) {
    if (KO_TOPIC_MAP.has(token)) return { topic: token, generic: null };
    let t = token;
    for (let pass = 0; pass < 2; pass++) {
      const stripped = stripParticle(t);
      if (stripped === t) break;
      t = stripped;
      if (KO_TOPIC_MAP.has(t)) return { topic: t, generic: null };
    }
    if (t.length < 2 || t.length > 6 || KO_STOPWORDS.has(t)) return NOT_A_KEYWORD;
    for (let i = 0; i < t.length; i++) if (!isHangul(t.charCodeAt(i))) return NOT_A_KEYWORD;
    if (KO_VERBAL_FINALS.has(t[t.length - 1] as string)) return NOT_A_KEYWORD;
    return { topic: null, generic: t };
  }
  const w = token.endsWith("'s") ? token.slice(0, -2) : token;
  if (EN_TOPIC_MAP.has(w)) return { topic: w, generic: null };
  if (w.endsWith('s') && EN_TOPIC_MAP.has(w.slice(0, -1))) return { topic: w.slice(0, -1), generic: null };
  if (w.length < 4 || EN_STOPWORDS.has(w) || w.includes("'") || /(?:ly|ing|ed)$/.test(w))
    return NOT_A_KEYWORD;
  return { topic: null, generic: w };
}

/**
 * Diaries reuse a small vocabulary, so token classes are memoised. Bounded: cleared when full, which
 * changes speed only, never results.
 */
const TOKEN_MEMO = new Map<string, TokenInfo>();
const TOKEN_MEMO_MAX = 50_000;

function tokenInfo(token: string): TokenInfo {
  let info = TOKEN_MEMO.get(token);
  if (info === undefined) {
    info = classifyToken(token);
    if (TOKEN_MEMO.size >= TOKEN_MEMO_MAX) TOKEN_MEMO.clear();
    TOKEN_MEMO.set(token, info);
  }
  return info;
}

/** Topic nouns and noun-like words of one sentence, in order of appearance. */
function nounsOf(lower: string): { topics: string[]; generic: string[] } {
  const topics: string[] = [];
  const generic: string[] = [];
  const n = lower.length;
  let start = -1;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? lower.charCodeAt(i) : 32;
    // a token is a run of Hangul syllables, a-z and apostrophes (lower-cased text)
    if ((c >= 0xac00 && c <= 0xd7a3) || (c >= 97 && c <= 122) || c === 39) {
      if (start < 0) start = i;
      continue;
    }
    if (start < 0) continue;
    const info = tokenInfo(lower.slice(start, i));
    start = -1;
    if (info.topic !== null) topics.push(info.topic);
    else if (info.generic !== null) generic.push(info.generic);
  }
  return { topics, generic };
}

const KO_FALLBACK_KEYWORDS = ['일상', '하루', '기록', '마음', '오늘'];
const EN_FALLBACK_KEYWORDS = ['everyday', 'day', 'journal', 'feelings', 'today'];
const MAX_KEYWORD_CHARS = 30;

function pickKeywords(sentences: readonly Sentence[], lang: Lang): string[] {
  const scores = new Map<string, { score: number; first: number }>();
  let order = 0;
  const add = (word: string, score: number): void => {
    const key = word.slice(0, MAX_KEYWORD_CHARS);
    const cur = scores.get(key);
    if (cur) cur.score += score;
    else scores.set(key, { score, first: order++ });
  };
  const generic = new Map<string, number>();
  for (const s of sentences) {
    for (const t of s.topics) add(t, scores.has(t) ? 1 : 2);
    for (const h of s.hits) if (h.keyword !== null) add(h.keyword, 1.5 + h.intensity);
    for (const g of s.generic) generic.set(g, (generic.get(g) ?? 0) + 1);
  }
  for (const [word, count] of generic) if (count >= 2) add(word, 0.8 * count);
  const ranked = [...scores.entries()].sort((a, b) => b[1].score - a[1].score || a[1].first - b[1].first);
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [word] of ranked) {
    const k = word.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(word);
    if (out.length === 5) break;
  }
  for (const f of lang === 'ko' ? KO_FALLBACK_KEYWORDS : EN_FALLBACK_KEYWORDS) {
    if (out.length >= 3) break;
    if (!seen.has(f)) {
      seen.add(f);
      out.push(f);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ethics tags

interface RiskFlags {
  selfHarm: boolean;
  intent: boolean;
  violence: boolean;
  illegal: boolean;
}

function scanRisk(t: string, index: TermIndex<RiskPhrase>, english: boolean, flags: RiskFlags): void {
  let planOrMeans = false;
  let ideation = false;
  for (let i = 0; i < t.length; i++) {
    const code = t.charCodeAt(i);
    if (index.first[code] === 0) continue;
    const bucket = index.buckets.get(code) as RiskPhrase[];
    for (const r of bucket) {
      if (!t.startsWith(r.term, i)) continue;
      if (english && i > 0 && isWordChar(t.charCodeAt(i - 1))) continue;
      const end = i + r.term.length;
      if (r.kind === 'self_harm') {
        const negated = english
          ? EN_SELF_HARM_NEGATION.test(t.slice(Math.max(0, i - 12), i))
          : KO_SELF_HARM_NEGATION.test(t.slice(end, end + 12));
        if (negated) continue;
        ideation = true;
      } else if (r.kind === 'intent') planOrMeans = true;
      else if (r.kind === 'explicit_intent') {
        ideation = true;
        flags.intent = true;
      } else if (r.kind === 'violence') flags.violence = true;
      else flags.illegal = true;
      break;
    }
  }
  if (ideation) flags.selfHarm = true;
  // a plan, means or time counts only alongside self-harm language in the same entry
  if (ideation && planOrMeans) flags.intent = true;
}

function ethicsOf(lower: string, counts: LetterCounts): { tags: EthicsTag[]; selfHarm: boolean } {
  const flags: RiskFlags = { selfHarm: false, intent: false, violence: false, illegal: false };
  // Korean phrases are matched with spaces removed (spacing varies: 죽고 싶다 / 죽고싶다), English
  // ones with spaces collapsed; a script that does not occur is not scanned at all
  if (counts.hangul > 0) scanRisk(lower.replace(/\s+/g, ''), KO_RISK_INDEX, false, flags);
  if (counts.latin > 0) scanRisk(lower.replace(/\s+/g, ' '), EN_RISK_INDEX, true, flags);
  const tags: EthicsTag[] = [];
  for (const tag of ETHICS_TAGS) {
    if (
      (tag === 'self_harm' && (flags.selfHarm || flags.intent)) ||
      (tag === 'self_harm_intent' && flags.intent) ||
      (tag === 'violence' && flags.violence) ||
      (tag === 'illegal' && flags.illegal)
    ) {
      tags.push(tag);
    }
  }
  return { tags, selfHarm: flags.selfHarm || flags.intent };
}

// ---------------------------------------------------------------------------------------------
// Words for the output

const KO_HEART: Readonly<Record<Emotion, string>> = {
  joy: '기쁜 마음',
  gratitude: '고마운 마음',
  calm: '편안한 마음',
  pride: '뿌듯한 마음',
  excitement: '설레는 마음',
  love: '아끼는 마음',
  hope: '기대하는 마음',
  neutral: '담담한 마음',
  sadness: '슬픈 마음',
  anxiety: '불안한 마음',
  anger: '화난 마음',
  fear: '두려운 마음',
  loneliness: '외로운 마음',
  exhaustion: '지친 마음',
  shame: '스스로를 탓하는 마음',
  despair: '무겁게 가라앉은 마음',
};
const KO_NOUN: Readonly<Record<Emotion, string>> = {
  joy: '기쁨이',
  gratitude: '고마움이',
  calm: '편안함이',
  pride: '뿌듯함이',
  excitement: '설렘이',
  love: '애정이',
  hope: '기대가',
  neutral: '담담함이',
  sadness: '슬픔이',
  anxiety: '불안이',
  anger: '화가',
  fear: '두려움이',
  loneliness: '외로움이',
  exhaustion: '지친 마음이',
  shame: '자책이',
  despair: '무거운 마음이',
};
const EN_NOUN: Readonly<Record<Emotion, string>> = {
  joy: 'joy',
  gratitude: 'gratitude',
  calm: 'calm',
  pride: 'pride',
  excitement: 'excitement',
  love: 'affection',
  hope: 'hope',
  neutral: 'a matter-of-fact mood',
  sadness: 'sadness',
  anxiety: 'worry',
  anger: 'anger',
  fear: 'fear',
  loneliness: 'loneliness',
  exhaustion: 'tiredness',
  shame: 'self-blame',
  despair: 'heaviness',
};

const PHASES: Readonly<Record<Lang, readonly (readonly string[])[]>> = {
  ko: [
    ['하루 전체'],
    ['처음', '마지막'],
    ['처음', '중간', '마지막'],
    ['처음', '초반', '후반', '마지막'],
    ['처음', '초반', '중간', '후반', '마지막'],
    ['처음', '초반', '중간', '중간 이후', '후반', '마지막'],
    ['처음', '초반', '초중반', '중간', '중후반', '후반', '마지막'],
    ['처음', '초반', '초중반', '중간', '중간 이후', '중후반', '후반', '마지막'],
  ],
  en: [
    ['the whole day'],
    ['beginning', 'end'],
    ['beginning', 'middle', 'end'],
    ['beginning', 'early', 'late', 'end'],
    ['beginning', 'early', 'middle', 'late', 'end'],
    ['beginning', 'early', 'middle', 'past the middle', 'late', 'end'],
    ['beginning', 'early', 'early middle', 'middle', 'late middle', 'late', 'end'],
    ['beginning', 'early', 'early middle', 'middle', 'past the middle', 'late middle', 'late', 'end'],
  ],
};

function stepNote(
  lang: Lang,
  emotion: Emotion,
  intensity: number,
  topic: string | null,
  focus: boolean,
): string {
  if (lang === 'ko') {
    if (emotion === 'neutral')
      return topic ? `'${topic}' 이야기를 담담하게 적었어요.` : '담담하게 흘러간 부분이에요.';
    const band = intensity < 0.35 ? '살짝' : intensity < 0.7 ? '또렷하게' : '아주 강하게';
    const heart = focus ? '깊이 몰입한 마음' : KO_HEART[emotion];
    return `${topic ? `'${topic}' 이야기에서 ` : ''}${heart}이 ${band} 드러나요.`;
  }
  if (emotion === 'neutral')
    return topic ? `A matter-of-fact moment about "${topic}".` : 'A matter-of-fact moment.';
  const band = intensity < 0.35 ? 'faintly' : intensity < 0.7 ? 'clearly' : 'very strongly';
  const noun = focus ? 'deep focus' : EN_NOUN[emotion];
  return `${noun.charAt(0).toUpperCase()}${noun.slice(1)} comes through ${band}${topic ? ` around "${topic}"` : ''}.`;
}

type PoolKey = Emotion | 'focus' | 'self_harm';

const QUESTIONS: Readonly<Record<Lang, Readonly<Record<PoolKey, readonly string[]>>>> = {
  ko: {
    pride: [
      '오늘 가장 뿌듯했던 순간은 무엇이었나요?',
      '이 성취를 위해 가장 애썼던 부분은 무엇이었나요?',
      '오늘의 나에게 어떤 칭찬을 해 주고 싶나요?',
    ],
    joy: [
      '오늘 가장 크게 웃었던 순간은 언제였나요?',
      '이 기쁨을 누구와 나누고 싶나요?',
      '오늘의 즐거움을 내일도 이어 가려면 무엇을 해 볼 수 있을까요?',
    ],
    excitement: ['지금 가장 기대되는 일은 무엇인가요?', '이 설렘을 어떻게 간직하고 싶나요?'],
    gratitude: [
      '오늘 고마운 마음을 전하고 싶은 사람은 누구인가요?',
      '오늘 감사했던 작은 순간 하나를 꼽는다면 무엇인가요?',
    ],
    calm: ['오늘 마음이 가장 편안했던 순간은 언제였나요?', '이런 잔잔한 하루를 만들어 준 것은 무엇이었나요?'],
    focus: [
      '시간 가는 줄 모르고 몰입했던 그 순간에는 어떤 기분이었나요?',
      '무엇이 그렇게 깊이 집중하게 해 주었나요?',
    ],
    love: [
      '오늘 그 사람에게 가장 전하고 싶은 말은 무엇인가요?',
      '소중한 사람과 보낸 시간 중 가장 기억에 남는 장면은 무엇인가요?',
    ],
    hope: [
      '내일의 나에게 어떤 말을 건네고 싶나요?',
      '지금 바라는 변화를 위해 작게 시작할 수 있는 일은 무엇일까요?',
    ],
    neutral: [
      '오늘 하루 중 다시 떠올리고 싶은 작은 장면이 있나요?',
      '평범한 오늘 속에서 나를 미소 짓게 한 것은 무엇이었나요?',
      '오늘 하루를 한 단어로 표현한다면 무엇일까요?',
    ],
    sadness: [
      '지금 내 마음에 가장 필요한 위로는 무엇일까요?',
      '오늘 속상했던 마음을 누구에게 이야기해 보고 싶나요?',
      '이 슬픔이 나에게 알려 주는 것은 무엇일까요?',
    ],
    anxiety: [
      '지금 가장 걱정되는 일 중에서 내가 할 수 있는 작은 일은 무엇일까요?',
      '불안한 마음이 들 때 나를 진정시켜 주는 것은 무엇인가요?',
      '걱정하는 일이 잘 풀린다면 어떤 모습일까요?',
    ],
    fear: [
      '두려운 마음이 들 때 곁에 있어 주었으면 하는 사람은 누구인가요?',
      '이 두려움을 조금 줄이기 위해 할 수 있는 일은 무엇일까요?',
    ],
    anger: [
      '오늘 화가 났던 순간, 내 마음이 정말로 바랐던 것은 무엇이었을까요?',
      '이 감정을 건강하게 풀어 낼 수 있는 방법은 무엇일까요?',
    ],
    loneliness: [
      '오늘 연락해 보고 싶은 사람이 떠오르나요?',
      '혼자라고 느껴질 때 나를 위로해 주는 것은 무엇인가요?',
    ],
    exhaustion: [
      '오늘 나를 가장 지치게 한 것은 무엇이었나요?',
      '지금 나에게 가장 필요한 쉼은 어떤 모습인가요?',
      '내일 하루 중 나를 위해 비워 둘 수 있는 시간이 있을까요?',
    ],
    shame: [
      '친한 친구가 같은 일을 겪었다면 어떤 말을 해 주고 싶나요?',
      '오늘의 나를 조금 너그럽게 바라본다면 어떤 점이 보이나요?',
    ],
    despair: [
      '오늘 하루 중 아주 잠깐이라도 숨을 돌릴 수 있었던 순간이 있었나요?',
      '지금 이 마음을 나눌 수 있는 사람이 떠오르나요?',
    ],
    self_harm: ['지금 이 마음을 조금이라도 함께 나눌 수 있는 사람이 떠오르나요?'],
  },
  en: {
    pride: ['What was the proudest moment of your day?', 'What did it take to get here?'],
    joy: ['When did you laugh the most today?', 'Who would you like to share this joy with?'],
    excitement: ['What are you looking forward to most right now?'],
    gratitude: ['Who would you like to thank today?', 'What small moment are you grateful for today?'],
    calm: ['When did you feel most at ease today?', 'What made today feel so steady?'],
    focus: ['How did it feel to be so absorbed in what you were doing?'],
    love: ['What would you most like to tell that person today?'],
    hope: ['What would you like to say to yourself tomorrow?'],
    neutral: [
      'Is there a small moment from today you would like to remember?',
      'If today were one word, what would it be?',
    ],
    sadness: [
      'What kind of comfort do you need most right now?',
      'Who could you talk to about what hurt today?',
    ],
    anxiety: [
      'Of everything you are worried about, what is one small thing you can do?',
      'What usually helps you feel calmer?',
    ],
    fear: ['Who would you like beside you when you feel afraid?'],
    anger: [
      'What did you really need in the moment you got angry?',
      'How could you let this feeling out in a way that is kind to you?',
    ],
    loneliness: ['Is there someone you would like to reach out to?'],
    exhaustion: ['What drained you most today?', 'What kind of rest do you need right now?'],
    shame: ['What would you say to a friend who went through the same thing?'],
    despair: ['Was there even a brief moment today when you could breathe a little easier?'],
    self_harm: ['Is there someone you could let in on how you are feeling right now?'],
  },
};

const INTERPRETATIONS: Readonly<Record<Lang, Readonly<Record<PoolKey, readonly string[]>>>> = {
  ko: {
    pride: [
      '오늘은 스스로 해낸 일이 분명하게 빛나는 하루였어요. 그 성취는 우연이 아니라 쌓아 온 시간의 결과예요.',
      '노력한 만큼 결과가 따라온 하루였네요. 이 뿌듯함을 충분히 누려도 괜찮아요.',
      '오늘의 기록에서 나를 향한 자부심이 느껴져요. 이런 순간을 기억해 두면 힘든 날에 든든한 버팀목이 될 거예요.',
    ],
    joy: [
      '기쁜 순간이 하루를 환하게 채운 것 같아요. 무엇이 이런 기분을 만들었는지 기억해 두면 좋겠어요.',
      '오늘은 웃을 일이 많았던 하루였네요. 작은 기쁨을 알아차리는 것도 소중한 힘이에요.',
      '즐거운 마음이 글 곳곳에서 느껴져요. 이런 날이 있다는 걸 잊지 않으면 좋겠어요.',
    ],
    excitement: [
      '설렘이 가득한 하루였네요. 기대하는 마음이 앞으로의 날들에 좋은 힘이 되어 줄 거예요.',
      '무언가를 기다리는 두근거림이 느껴져요. 그 마음을 천천히 즐겨 보세요.',
    ],
    gratitude: [
      '고마운 마음이 오늘의 중심에 있었던 것 같아요. 주변을 따뜻하게 바라보는 시선이 느껴져요.',
      '감사함을 알아차린 하루였네요. 그런 마음은 나 자신에게도 좋은 위로가 돼요.',
    ],
    calm: [
      '큰 물결 없이 잔잔하게 흘러간 하루였네요. 이렇게 편안한 날도 마음에는 좋은 쉼이 돼요.',
      '오늘은 차분하게 나를 돌본 하루 같아요. 조용한 시간도 충분히 의미 있어요.',
    ],
    focus: [
      '무언가에 깊이 몰입한 하루였네요. 시간을 잊을 만큼 집중한 경험은 그 자체로 큰 에너지가 돼요.',
      '오늘은 온전히 한 가지에 마음을 쏟은 하루 같아요. 그렇게 몰입할 수 있었던 나를 칭찬해 주세요.',
    ],
    love: [
      '소중한 사람과의 시간이 하루를 따뜻하게 만든 것 같아요. 그 마음을 표현해 보는 것도 좋겠어요.',
      '누군가를 아끼는 마음이 잘 느껴지는 기록이에요. 그런 관계가 곁에 있다는 건 큰 힘이에요.',
    ],
    hope: [
      '앞으로를 바라보는 마음이 느껴지는 하루였어요. 작은 다짐도 충분히 소중해요.',
      '조금씩 나아지고 있다는 믿음이 글에 담겨 있어요. 그 마음을 천천히 이어 가 보세요.',
    ],
    neutral: [
      '특별한 일 없이 지나간 하루도 나의 소중한 일상이에요. 담담하게 하루를 기록한 것 자체가 좋은 습관이에요.',
      '평범한 하루였네요. 이런 날들이 쌓여 나만의 리듬이 만들어져요.',
      '오늘은 조용히 흘러간 하루 같아요. 작은 장면 하나라도 떠올려 보면 새로운 의미가 보일지도 몰라요.',
    ],
    sadness: [
      '오늘은 마음이 조금 가라앉은 하루였던 것 같아요. 슬픈 마음도 충분히 느껴도 괜찮아요.',
      '속상한 일이 마음에 오래 남았네요. 그 감정을 글로 적어 본 것만으로도 한 걸음이에요.',
      '마음이 무거웠던 하루였네요. 오늘은 스스로에게 조금 더 다정해져도 좋겠어요.',
    ],
    anxiety: [
      '걱정과 긴장이 하루를 채운 것 같아요. 불안은 그만큼 소중하게 여기는 일이 있다는 뜻이기도 해요.',
      '생각이 많아 마음이 바빴던 하루였네요. 지금 할 수 있는 작은 일 하나에 집중해 보는 것도 도움이 될 수 있어요.',
    ],
    fear: [
      '두려운 마음이 컸던 하루였네요. 그런 마음을 알아차리고 적어 본 것만으로도 용기 있는 일이에요.',
      '겁이 나는 순간이 있었던 것 같아요. 혼자 감당하기 어렵다면 가까운 사람에게 기대어도 괜찮아요.',
    ],
    anger: [
      '화가 날 만한 일이 있었던 것 같아요. 그 감정은 나에게 중요한 무언가가 지켜지지 않았다는 신호일 수 있어요.',
      '억울하고 답답한 마음이 느껴져요. 감정을 글로 꺼내 놓은 것이 마음을 정리하는 데 도움이 됐기를 바라요.',
    ],
    loneliness: [
      '외로움이 깊게 느껴진 하루였네요. 그 마음을 알아차리고 적어 준 것이 반가워요.',
      '혼자라는 느낌이 마음에 남았던 것 같아요. 아주 작은 연결이라도 떠올려 보면 좋겠어요.',
    ],
    exhaustion: [
      '몸도 마음도 많이 지친 하루였네요. 오늘은 쉬는 것도 해야 할 일 중 하나예요.',
      '하루를 버텨 낸 것만으로도 충분히 애썼어요. 푹 쉬면서 나를 돌봐 주세요.',
    ],
    shame: [
      '스스로를 탓하는 마음이 느껴져요. 실수 하나가 나라는 사람 전체를 말해 주지는 않아요.',
      '부끄러운 마음이 들었던 하루였네요. 그 마음을 솔직하게 적은 것 자체가 성장의 일부예요.',
    ],
    despair: [
      '많이 버거운 하루였던 것 같아요. 이런 무게를 혼자 다 짊어지지 않아도 괜찮아요.',
      '마음이 깊이 가라앉은 하루였네요. 믿을 수 있는 사람에게 지금의 마음을 조금이라도 나눠 보면 좋겠어요.',
    ],
    self_harm: [
      '오늘은 마음이 정말 많이 무겁고 지쳐 있었던 것 같아요. 그 마음을 글로 꺼내 놓은 것만으로도 쉽지 않은 일이었을 거예요. 혼자 견디지 않아도 괜찮아요. 이야기를 나눌 사람이 필요하면 언제든 109(24시간)에 전화할 수 있어요.',
    ],
  },
  en: {
    pride: [
      'Today you did something that clearly matters to you. That result comes from the time you put in.',
      'Your effort paid off today. It is okay to enjoy this feeling fully.',
    ],
    joy: [
      'Moments of joy seem to have filled your day. It may help to remember what made it feel this way.',
      'A day with plenty to smile about. Noticing small joys is a strength of its own.',
    ],
    excitement: [
      'There is a lot of anticipation in today. That excitement can carry you into the days ahead.',
    ],
    gratitude: [
      'Gratitude sits at the centre of today. You are looking at the people around you with warmth.',
    ],
    calm: [
      'A quiet, steady day. Days like this give your mind a good rest.',
      'It sounds like you looked after yourself calmly today. Quiet time counts too.',
    ],
    focus: ['You were deeply absorbed in something today. That kind of focus is a real source of energy.'],
    love: ['Time with someone you care about warmed your day. It might be nice to tell them so.'],
    hope: ['There is a forward-looking feeling here. Small resolutions matter.'],
    neutral: [
      'An ordinary day is still part of your life worth keeping. Writing it down is a good habit in itself.',
      'A fairly plain day. Days like this build your own rhythm.',
    ],
    sadness: [
      'Your heart seems a little heavy today. It is okay to let yourself feel sad.',
      'Something stayed with you today. Writing it down is already a step.',
    ],
    anxiety: [
      'Worry and tension filled much of today. Anxiety often means something matters to you.',
      'Your mind was busy today. Focusing on one small thing you can do may help.',
    ],
    fear: ['Fear was strong today. Noticing it and writing it down takes courage.'],
    anger: [
      'Something today made you angry. That feeling can be a sign that something important to you was not respected.',
      'There is frustration here. I hope putting it into words helped you sort through it.',
    ],
    loneliness: ['Loneliness came through today. Thank you for noticing it and writing it down.'],
    exhaustion: [
      'You sound worn out, body and mind. Resting is one of the things you need to do today.',
      'Getting through today was effort enough. Please take good care of yourself tonight.',
    ],
    shame: ['You seem hard on yourself today. One mistake does not define who you are.'],
    despair: ['Today sounds very heavy. You do not have to carry all of it alone.'],
    self_harm: [
      "It sounds like today weighed on you very heavily. Putting it into words is not easy. You don't have to carry this alone: in Korea you can call 109 at any hour to talk with someone.",
    ],
  },
};

const ARC: Readonly<Record<Lang, { up: string; down: string }>> = {
  ko: {
    up: '하루의 끝으로 갈수록 마음이 조금씩 풀려 간 흐름도 보여요.',
    down: '좋게 시작한 하루가 뒤로 갈수록 무거워진 것 같아요.',
  },
  en: {
    up: 'The day seems to have eased as it went on.',
    down: 'The day started well and grew heavier as it went on.',
  },
};

/** FNV-1a over the text: a stable choice among pool entries, so the same entry gets the same words. */
function hashText(text: string): number {
  let h = 0x811c9dc5;
  const n = Math.min(text.length, 4000);
  for (let i = 0; i < n; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function choose<T>(items: readonly T[], hash: number, salt: number): T {
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
function buildSummary(
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

// ---------------------------------------------------------------------------------------------
// The analyzer

interface Step {
  emotion: Emotion;
  intensity: number;
  topic: string | null;
  focus: boolean;
}

function buildFlow(sentences: readonly Sentence[], lang: Lang): AnalysisOutput['emotion_flow'] {
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

interface LetterCounts {
  readonly hangul: number;
  readonly latin: number;
}

function countLetters(text: string): LetterCounts {
  let hangul = 0;
  let latin = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isHangul(c)) hangul++;
    else if (isLatin(c)) latin++;
  }
  return { hangul, latin };
}

/** A Hangul syllable carries about as much as two or three Latin letters; empty text is Korean. */
const languageOf = (counts: LetterCounts): Lang => (counts.latin > counts.hangul * 2 ? 'en' : 'ko');

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
