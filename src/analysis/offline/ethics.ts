/**
 * Ethics tags for the offline analyzer: precise phrase lists (matched with spaces removed in
 * Korean), never emotion scores — intensity is not risk.
 */
import { ETHICS_TAGS, type EthicsTag } from '../schema.ts';
import {
  EN_EXPLICIT_INTENT,
  EN_ILLEGAL,
  EN_SELF_HARM,
  EN_SELF_HARM_INTENT,
  EN_SELF_HARM_NEGATION,
  EN_VIOLENCE,
  KO_EXPLICIT_INTENT,
  KO_ILLEGAL,
  KO_SELF_HARM,
  KO_SELF_HARM_INTENT,
  KO_SELF_HARM_NEGATION,
  KO_VIOLENCE,
} from './lexicon.ts';
import { buildIndex, isWordChar, type LetterCounts, type TermIndex } from './text.ts';

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

export function ethicsOf(lower: string, counts: LetterCounts): { tags: EthicsTag[]; selfHarm: boolean } {
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
