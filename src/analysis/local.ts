/** The offline analyzer behind the Analyzer contract: no network, no key, labelled as such in metadata. */
import type { AnalyzeRequest, AnalyzeResult, Analyzer } from './analyzer.ts';
import { ZERO_TOKENS } from './analyzer.ts';
import { analyzeOffline, OFFLINE_ANALYZER } from './offline/analyzer.ts';
import { parseAnalysis } from './schema.ts';

export function createLocalAnalyzer(): Analyzer {
  return {
    name: OFFLINE_ANALYZER.name,
    async analyze(request: AnalyzeRequest): Promise<AnalyzeResult> {
      const started = performance.now();
      const parsed = parseAnalysis(analyzeOffline(request.text));
      const call = {
        analyzer: OFFLINE_ANALYZER.name,
        analyzerVersion: OFFLINE_ANALYZER.version,
        model: `${OFFLINE_ANALYZER.name}-${OFFLINE_ANALYZER.version}`,
        requestId: null,
        tokens: ZERO_TOKENS,
        latencyMs: Math.round((performance.now() - started) * 100) / 100,
        repairAttempted: false,
      };
      return parsed.ok
        ? { outcome: 'ok', output: parsed.value, call }
        : { outcome: 'invalid_output', problems: parsed.problems, call };
    },
  };
}
