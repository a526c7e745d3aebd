/**
 * Analysis throughput with a zero-latency fake model: 20,000 seeded entries analysed through the
 * real pipeline — `runWorker` (`once`) with the OpenAI analyzer (the real SDK) pointed at the fake
 * model, with the catalog's batch size (8) and concurrency (32) — and, for comparison, the fake
 * model inside the worker's process, the offline analyzer, and concurrency 128.
 *
 * Baseline of the same run: raw pg-boss `work()` taking as many no-op jobs from a stately queue
 * (analysis.run's policy, one singleton key per job) at the same batch size and jobs in flight —
 * the queue's own floor on this machine, which the pipeline's ratio is read against.
 */
import { createDb } from '../src/db/connect.ts';
import { QUEUES } from '../src/queue/catalog.ts';
import { createNoopQueue, type NoopQueue, rawRun } from './engine.ts';
import {
  type AnalysisRun,
  type AnalysisTemplate,
  analyse,
  analysisTemplate,
  type FakeWhere,
} from './pipeline.ts';
import {
  type Bench,
  type Figure,
  median,
  num,
  progress,
  rate,
  runStandalone,
  runs,
  type Summary,
  scratchDatabase,
} from './support.ts';

const ENTRIES = Number(process.env.BENCH_ANALYSIS_ENTRIES) || 20_000;
/** Each run analyses ENTRIES entries (~10–30 s here): one by default. */
const RUNS = Number(process.env.BENCH_ANALYSIS_RUNS) || 1;
/** The catalog's defaults: what `sumda worker` runs with unless told otherwise. */
const BATCH = QUEUES.analysisRun.worker.batchSize;
const CONCURRENCY = QUEUES.analysisRun.worker.concurrency;
/** The previous, narrower defaults, for comparison (sumda worker --batch-size 8 --concurrency 32). */
const WIDE = { batchSize: 8, concurrency: 32 };
export const ANALYSIS_GOAL = 2000;

function describe(run: AnalysisRun): string {
  const problems =
    run.stored === run.entries && run.failed === 0
      ? ''
      : ` — stored ${num(run.stored)} of ${num(run.entries)}, ${num(run.failed)} failed`;
  return `${num(rate(run.entries, run.processingMs))} entries/s (${num(run.processingMs / 1000, 1)} s; whole run ${num(run.totalMs / 1000, 1)} s)${problems}`;
}

async function measure(
  bench: Bench,
  template: AnalysisTemplate,
  analyzer: 'openai' | 'local',
  options: { fake?: FakeWhere; concurrency?: number; batchSize?: number } = {},
): Promise<AnalysisRun> {
  const all: AnalysisRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const what = `${analyzer}${options.fake ? `, fake model ${options.fake}` : ''}, batch ${options.batchSize ?? BATCH} × concurrency ${options.concurrency ?? CONCURRENCY}`;
    progress(`analysis (${what}): run ${i + 1} of ${RUNS}`);
    all.push(await analyse(bench, template, { label: `analysis_${analyzer}_${i}`, analyzer, ...options }));
  }
  const mid = median(all.map((r) => r.processingMs));
  return all.find((r) => r.processingMs === mid) ?? all[0]!;
}

/** Raw pg-boss over a stately no-op queue at analysis.run's batch size and jobs in flight (median). */
async function queueFloor(bench: Bench): Promise<number> {
  const scratch = await scratchDatabase(bench, 'analysis_floor', { migrated: true });
  const db = createDb(scratch.url, { max: 2, applicationName: 'sumda-bench' });
  const queue: NoopQueue = { name: 'bench.stately', policy: 'stately', jobs: ENTRIES };
  try {
    await createNoopQueue(scratch.url, queue);
    const times: number[] = [];
    for (let i = 0; i < runs(); i++) {
      progress(
        `queue floor: raw pg-boss, stately no-op, batch ${BATCH} × ${CONCURRENCY / BATCH} workers (run ${i + 1})`,
      );
      times.push(
        await rawRun(scratch.url, db, queue, {
          label: 'floor',
          batchSize: BATCH,
          localConcurrency: CONCURRENCY / BATCH,
          output: false,
        }),
      );
    }
    return rate(ENTRIES, median(times));
  } finally {
    await db.destroy();
    await scratch.drop();
  }
}

export async function runAnalysis(bench: Bench): Promise<Summary> {
  const floor = await queueFloor(bench);
  const template = await analysisTemplate(bench, 'analysis_tpl', ENTRIES);
  try {
    const openai = await measure(bench, template, 'openai', { fake: 'process' });
    const inProcess = await measure(bench, template, 'openai', { fake: 'in-process' });
    const local = await measure(bench, template, 'local');
    const wide = await measure(bench, template, 'openai', { fake: 'process', ...WIDE });
    const openaiRate = rate(openai.entries, openai.processingMs);
    const figures: Figure[] = [
      {
        label: `raw pg-boss, stately no-op, batch ${BATCH} × ${CONCURRENCY} in flight`,
        value: `${num(floor)} jobs/s (the queue's floor here)`,
      },
      {
        label: 'openai analyzer, fake model in its own process',
        value: describe(openai),
        ratio: openaiRate / floor,
        against: 'raw pg-boss no-op',
        goal: `≥ ${num(ANALYSIS_GOAL)}/s`,
        met: openaiRate >= ANALYSIS_GOAL,
        headline: true,
      },
      {
        label: 'openai analyzer, fake model in the worker process',
        value: describe(inProcess),
        ratio: rate(inProcess.entries, inProcess.processingMs) / openaiRate,
        against: 'fake in its own process',
      },
      {
        label: 'offline analyzer (no network, no SDK)',
        value: describe(local),
        ratio: rate(local.entries, local.processingMs) / openaiRate,
        against: 'openai analyzer',
        headline: true,
      },
      {
        label: `openai analyzer, batch ${WIDE.batchSize} × concurrency ${WIDE.concurrency} (sumda worker --batch-size ${WIDE.batchSize} --concurrency ${WIDE.concurrency})`,
        value: describe(wide),
        ratio: rate(wide.entries, wide.processingMs) / openaiRate,
        against: 'catalog defaults',
      },
    ];
    return {
      name: `analysis: ${num(ENTRIES)} entries, zero-latency model, batch ${BATCH} × concurrency ${CONCURRENCY} (catalog defaults)${RUNS > 1 ? `, median of ${RUNS}` : ''}`,
      figures,
    };
  } finally {
    await template.db.drop();
  }
}

if (import.meta.main) await runStandalone(runAnalysis);
