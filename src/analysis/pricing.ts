/**
 * What an analysis cost, from a versioned price table (USD per 1M tokens). Costs are recorded with
 * the table version that priced them, so old rows stay explainable after prices change.
 * Models are matched by the longest known prefix of the exact snapshot name the API returned.
 */
export const PRICE_TABLE = {
  version: '2026-11-01',
  currency: 'USD',
  perMillion: {
    'gpt-4o-mini': { input: 0.15, cachedInput: 0.075, output: 0.6 },
    'gpt-4o': { input: 2.5, cachedInput: 1.25, output: 10 },
    'gpt-4.1-nano': { input: 0.1, cachedInput: 0.025, output: 0.4 },
    'gpt-4.1-mini': { input: 0.4, cachedInput: 0.1, output: 1.6 },
    'gpt-4.1': { input: 2, cachedInput: 0.5, output: 8 },
    'gpt-5-nano': { input: 0.05, cachedInput: 0.005, output: 0.4 },
    'gpt-5-mini': { input: 0.25, cachedInput: 0.025, output: 2 },
    'gpt-5': { input: 1.25, cachedInput: 0.125, output: 10 },
    'o4-mini': { input: 1.1, cachedInput: 0.275, output: 4.4 },
    o3: { input: 2, cachedInput: 0.5, output: 8 },
  } as Record<string, { input: number; cachedInput: number; output: number }>,
} as const;

export interface TokenUsage {
  input: number;
  output: number;
  cached: number;
  reasoning: number;
}

export function costOf(model: string, tokens: TokenUsage): { usd: number; priceTable: string } | null {
  const key = Object.keys(PRICE_TABLE.perMillion)
    .filter((prefix) => model.startsWith(prefix))
    .sort((a, b) => b.length - a.length)[0];
  if (!key) return null;
  const price = PRICE_TABLE.perMillion[key]!;
  const uncached = Math.max(0, tokens.input - tokens.cached);
  // Reasoning tokens are billed as output tokens and already included in `output`.
  const usd =
    (uncached * price.input + tokens.cached * price.cachedInput + tokens.output * price.output) / 1_000_000;
  return { usd: Math.round(usd * 1e8) / 1e8, priceTable: PRICE_TABLE.version };
}
