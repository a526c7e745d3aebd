/**
 * What every benchmark shares: the machine line, a PostgreSQL (127.0.0.1:5432 when it answers, the
 * embedded server otherwise — the same rule as the tests), scratch databases named
 * `sumda_bench_<name>_<pid>` that are migrated like production and dropped at the end, medians and
 * the result table that `bench/run.ts` prints at the end.
 *
 * Benchmarks measure, print and never assert. Every ratio is against a baseline measured in the
 * same run, on the same machine, so numbers from different machines compare only as ratios.
 */
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import pino from 'pino';
import { migrate } from '../src/db/migrator.ts';
import { createLogger, type Logger } from '../src/log.ts';
import { ensureQueueSchema } from '../src/queue/boss.ts';
import { findTestServer, type TestServer, withDatabase } from '../test/support/server.ts';

export { withDatabase };

/** One figure of a benchmark; `ratio` is against the baseline named in `against`. */
export interface Figure {
  label: string;
  value: string;
  ratio?: number;
  against?: string;
  goal?: string;
  /** Whether the goal is met; set with `goal`. */
  met?: boolean;
  /** Repeated in the closing summary of bench/run.ts. */
  headline?: boolean;
}

export interface Summary {
  name: string;
  figures: Figure[];
}

export interface Bench {
  server: TestServer;
  machine: string;
}

const MIN_NODE = 24;

export function assertNode(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < MIN_NODE) {
    process.stderr.write(
      `error: the benchmarks need Node ${MIN_NODE} (this is ${process.version}); run them with \`npm run bench\` or \`npm exec -- node bench/<name>.ts\`\n`,
    );
    process.exit(2);
  }
}

export async function openBench(): Promise<Bench> {
  assertNode();
  const server = await findTestServer();
  const client = new pg.Client({ connectionString: server.adminUrl });
  await client.connect();
  try {
    const version =
      (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0]?.v ?? '?';
    await dropStale(client);
    const cpu = cpus();
    const machine =
      `${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${cpu.length} cores; Node ${process.version}; ` +
      `PostgreSQL ${version} (${server.kind}). PostgreSQL, Node and the fake model share these cores.`;
    return { server, machine };
  } finally {
    await client.end();
  }
}

/** Scratch databases of benchmarks that were killed before they could drop them. */
async function dropStale(client: pg.Client): Promise<void> {
  const stale = await client.query<{ datname: string }>(
    `select datname from pg_database where datname like 'sumda\\_bench\\_%'`,
  );
  for (const { datname } of stale.rows) {
    const pid = Number(datname.split('_').at(-1));
    if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid)) {
      await client.query(`drop database if exists "${datname}" with (force)`).catch(() => {});
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What else is using the machine: the load average and the PostgreSQL sessions busy outside the
 * benchmark's databases. Other work on these 2 cores moves every absolute number; ratios less so.
 */
export async function contention(bench: Bench): Promise<string> {
  const client = new pg.Client({ connectionString: bench.server.adminUrl });
  await client.connect();
  try {
    const busy = await client.query<{ n: number }>(
      `select count(*)::int as n from pg_stat_activity
       where state = 'active' and pid <> pg_backend_pid() and backend_type = 'client backend'
         and coalesce(datname, '') not like 'sumda\\_bench\\_%'`,
    );
    const [one, five] = loadavg();
    return `load average ${one?.toFixed(1)} (1 min) / ${five?.toFixed(1)} (5 min); ${busy.rows[0]?.n ?? 0} other busy PostgreSQL sessions`;
  } finally {
    await client.end();
  }
}

export interface Scratch {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(bench: Bench, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: bench.server.adminUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A database of its own: empty, or migrated with `migrate()` + `ensureQueueSchema()` (what
 * `sumda db migrate` does), or cloned from another scratch database used as a template.
 */
export async function scratchDatabase(
  bench: Bench,
  label: string,
  options: { migrated?: boolean; template?: string } = {},
): Promise<Scratch> {
  const name = `sumda_bench_${label}_${process.pid}`;
  await admin(bench, async (client) => {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(
      options.template
        ? `create database "${name}" template "${options.template}"`
        : `create database "${name}"`,
    );
  });
  const url = withDatabase(bench.server.adminUrl, name);
  if (options.migrated) {
    await migrate({ url, appliedBy: 'bench' });
    await ensureQueueSchema(url);
  }
  return {
    name,
    url,
    drop: () =>
      admin(bench, async (client) => {
        await client.query(`drop database if exists "${name}" with (force)`);
      }),
  };
}

export async function closeBench(bench: Bench): Promise<void> {
  await bench.server.release();
}

/** Runs one benchmark module as a script: open, run, print, close. */
export async function runStandalone(fn: (bench: Bench) => Promise<Summary>): Promise<void> {
  const bench = await openBench();
  try {
    console.log(`machine: ${bench.machine}`);
    console.log(`load before: ${await contention(bench)}`);
    const summary = await fn(bench);
    printSummaries([summary]);
    console.log(`\nload after: ${await contention(bench)}`);
  } finally {
    await closeBench(bench);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export function rate(count: number, ms: number): number {
  return count / (ms / 1000);
}

export function num(value: number, digits = 0): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ratio(value: number): string {
  return `${value.toFixed(2)}×`;
}

/** How many repetitions of the cheap measurements (median of 3 by default). */
export function runs(fallback = 3): number {
  const n = Number(process.env.BENCH_RUNS);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** A logger that formats every line like production but writes to /dev/null (info by default). */
export function sinkLogger(level: 'info' | 'warn' | 'silent' = 'info'): Logger {
  return createLogger({ level, destination: pino.destination({ dest: '/dev/null', sync: true }) });
}

export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}

export function printSummaries(summaries: Summary[]): void {
  for (const summary of summaries) {
    console.log(`\n== ${summary.name}`);
    const width = Math.max(...summary.figures.map((f) => f.label.length));
    for (const f of summary.figures) {
      const parts = [`  ${f.label.padEnd(width)}  ${f.value}`];
      if (f.ratio !== undefined)
        parts.push(`  ratio ${ratio(f.ratio)}${f.against ? ` vs ${f.against}` : ''}`);
      if (f.goal) parts.push(`  (goal ${f.goal}${f.met === undefined ? '' : f.met ? ': met' : ': MISSED'})`);
      console.log(parts.join(''));
    }
  }
}
