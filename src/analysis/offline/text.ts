/**
 * Reading text for the offline analyzer: character classes, the term index (lexicon terms
 * bucketed for fast scans), letter counts and the language they imply, and sentence splitting.
 */
import { EN_TOPICS, KO_TOPICS, LEXICON } from './lexicon.ts';

export type Lang = 'ko' | 'en';

export const isHangul = (c: number): boolean => (c >= 0xac00 && c <= 0xd7a3) || (c >= 0x3131 && c <= 0x318e);
export const isLatin = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
/** Inside an English word: letters, digits and the apostrophe of "won't". */
export const isWordChar = (c: number): boolean => isLatin(c) || (c >= 48 && c <= 57) || c === 39;

interface Termed {
  readonly term: string;
}

/**
 * Terms bucketed by their first UTF-16 unit, longest first, so a scan tries few candidates; `first`
 * flags the units that start any term, a cheaper test than a Map lookup for the many that do not.
 */
export interface TermIndex<T> {
  readonly first: Uint8Array;
  readonly buckets: Map<number, T[]>;
}

export function buildIndex<T extends Termed>(entries: readonly T[]): TermIndex<T> {
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

export const LEX_INDEX = buildIndex(LEXICON);
// Maps, not `in` on object literals: an English token like "constructor" must not look like a topic
export const KO_TOPIC_MAP = new Map(Object.entries(KO_TOPICS));
export const EN_TOPIC_MAP = new Map(Object.entries(EN_TOPICS));

/** Does `e` match `t` at `i`, respecting word boundaries for English and eojeol starts for '^' terms? */
export function termMatches(t: string, i: number, term: string, whole: boolean, wordStart: boolean): boolean {
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

export interface LetterCounts {
  readonly hangul: number;
  readonly latin: number;
}

export function countLetters(text: string): LetterCounts {
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
export const languageOf = (counts: LetterCounts): Lang => (counts.latin > counts.hangul * 2 ? 'en' : 'ko');

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
export function splitSentences(text: string): [number, number][] {
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
