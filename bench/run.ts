/**
 * `npm run bench`: every benchmark in one run, on one PostgreSQL, then the headline figures with
 * their ratios and goals. Each benchmark also runs alone: `npm exec -- node bench/<name>.ts`.
 * `BENCH_ONLY=engine,latency` picks some; `BENCH_RUNS=n` changes the median-of-3 repetitions.
 * The numbers are printed, never asserted: a missed goal is a finding, not a failure.
 */
import { runAnalysis } from './analysis.ts';
import { runBilling } from './billing.ts';
import { runCorpus } from './corpus.ts';
import { runEngine } from './engine.ts';
import { runLatency } from './latency.ts';
import { runNotifications } from './notifications.ts';
import { runPoints } from './points.ts';
import { runReports } from './reports.ts';
import { runStartup } from './startup.ts';
import {
  type Bench,
  closeBench,
  contention,
  num,
  openBench,
  printSummaries,
  ratio,
  type Summary,
} from './support.ts';

const BENCHMARKS: [string, (bench: Bench) => Promise<Summary>][] = [
  ['startup', runStartup],
  ['engine', runEngine],
  ['analysis', runAnalysis],
  ['latency', runLatency],
  ['corpus', runCorpus],
  ['billing', runBilling],
  ['notifications', runNotifications],
  ['points', runPoints],
  ['reports', runReports],
];

const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim());
const bench = await openBench();
const summaries: Summary[] = [];
const started = performance.now();
try {
  console.log(`machine: ${bench.machine}`);
  console.log(`load before: ${await contention(bench)}`);
  for (const [name, fn] of BENCHMARKS) {
    if (only && !only.includes(name)) continue;
    process.stderr.write(`\n${name}…\n`);
    try {
      const summary = await fn(bench);
      summaries.push(summary);
      printSummaries([summary]);
    } catch (error) {
      // One broken benchmark must not hide the others' numbers.
      console.log(`\n== ${name}: FAILED — ${(error as Error).stack ?? error}`);
    }
  }
  console.log(`\n${'='.repeat(100)}`);
  console.log(`summary (${num((performance.now() - started) / 1000)} s)`);
  console.log(`machine: ${bench.machine}`);
  console.log(`load after: ${await contention(bench)}`);
  for (const summary of summaries) {
    for (const f of summary.figures.filter((x) => x.headline)) {
      const r = f.ratio === undefined ? '' : `  ${ratio(f.ratio)}${f.against ? ` vs ${f.against}` : ''}`;
      const goal = f.goal ? `  goal ${f.goal}: ${f.met === undefined ? '—' : f.met ? 'met' : 'MISSED'}` : '';
      console.log(`  [${summary.name.split(':')[0]}] ${f.label}: ${f.value}${r}${goal}`);
    }
  }
} finally {
  await closeBench(bench);
}
