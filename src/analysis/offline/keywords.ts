/** Keywords and topics for the offline analyzer: nouns of the entry, particles stripped, stopwords dropped. */
import { EN_STOPWORDS, KO_PARTICLES, KO_STOPWORDS } from './lexicon.ts';
import type { Sentence } from './scoring.ts';
import { EN_TOPIC_MAP, isHangul, KO_TOPIC_MAP, type Lang } from './text.ts';

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
export function nounsOf(lower: string): { topics: string[]; generic: string[] } {
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

export function pickKeywords(sentences: readonly Sentence[], lang: Lang): string[] {
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
