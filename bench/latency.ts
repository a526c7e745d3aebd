/**
 * Latency hiding: 2,000 entries through the real pipeline while the fake model takes 300 ms per
 * answer, analysis concurrency 32 (the catalog's batch size 8). Ideal wall time with 32 calls always
 * in flight: 2,000 × 0.3 s / 32 = 18.75 s; the ratio to it says how much the pump's refill and the
 * database work around each batch leave the model idle.
 */
import { analyse, analysisTemplate } from './pipeline.ts';
import { type Bench, num, progress, runStandalone, type Summary } from './support.ts';

const ENTRIES = Number(process.env.BENCH_LATENCY_ENTRIES) || 2000;
const DELAY_MS = 300;
const CONCURRENCY = 32;
export const LATENCY_GOAL = 1.3;

export async function runLatency(bench: Bench): Promise<Summary> {
  const template = await analysisTemplate(bench, 'latency_tpl', ENTRIES);
  try {
    const idealMs = (ENTRIES * DELAY_MS) / CONCURRENCY;
    progress(
      `latency: ${num(ENTRIES)} entries, model answering in ${DELAY_MS} ms, concurrency ${CONCURRENCY}`,
    );
    const run = await analyse(bench, template, {
      label: 'latency',
      analyzer: 'openai',
      fake: 'process',
      delayMs: DELAY_MS,
      concurrency: CONCURRENCY,
    });
    const problems =
      run.stored === run.entries && run.failed === 0
        ? ''
        : ` — stored ${num(run.stored)} of ${num(run.entries)}, ${num(run.failed)} failed`;
    return {
      name: `latency: ${num(ENTRIES)} entries, ${DELAY_MS} ms model, concurrency ${CONCURRENCY}`,
      figures: [
        {
          label: `ideal ${num(ENTRIES)} × ${DELAY_MS / 1000} s / ${CONCURRENCY}`,
          value: `${num(idealMs / 1000, 2)} s`,
        },
        {
          label: 'processing (first batch → last)',
          value: `${num(run.processingMs / 1000, 2)} s${problems}`,
          ratio: run.processingMs / idealMs,
          against: 'ideal',
          goal: `≤ ${LATENCY_GOAL.toFixed(2)}×`,
          met: run.processingMs / idealMs <= LATENCY_GOAL,
          headline: true,
        },
        {
          label: 'whole `worker --once` run',
          value: `${num(run.totalMs / 1000, 2)} s`,
          ratio: run.totalMs / idealMs,
          against: 'ideal',
        },
      ],
    };
  } finally {
    await template.db.drop();
  }
}

if (import.meta.main) await runStandalone(runLatency);
