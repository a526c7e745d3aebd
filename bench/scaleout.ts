/**
 * Scale-out on one PostgreSQL: 1, 2, 4 and 8 `sumda worker` processes (real subprocesses, the
 * catalog's batch size and concurrency, `--db-pool BENCH_SCALEOUT_POOL` each) draining the same
 * backlog of `analysis.run` jobs — first with the offline analyzer, then with the OpenAI analyzer
 * against the zero-latency model double. Throughput per process count and its ratio to 1 process,
 * with the CPU seconds each side spent: the workers, the PostgreSQL backends serving the benchmark's
 * database, and this process (which runs the model double).
 *
 * So that process start-up is not measured (a cold start costs ~1 s of CPU here), the backlog is
 * deferred while the workers start (`start_after` a day ahead), and released in one UPDATE once every
 * worker logged `worker started`. Throughput is jobs over the span from the first job started to the
 * last completed, from pg-boss's own `started_on`/`completed_on`. Slip checks the analyses enqueue
 * are left queued (their inserts are part of the cost; no worker takes them).
 *
 * `node bench/scaleout.ts` (standalone; not part of `npm run bench`). BENCH_SCALEOUT_ENTRIES (6,000),
 * BENCH_SCALEOUT_DAYS (4), BENCH_SCALEOUT_WORKERS (1,2,4,8), BENCH_SCALEOUT_ANALYZERS (local,openai), BENCH_SCALEOUT_POOL (3 connections per pool: a worker has two,
 * so 8 workers hold up to 48 of the server's 100 connections).
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { sql } from 'kysely';
import { createDb, type Db } from '../src/db/connect.ts';
import { hasMsg, type SumdaProcess, startSumda } from '../test/support/process.ts';
import { startFakeModel } from './fake-model.ts';
import { type AnalysisTemplate, analysisTemplate } from './pipeline.ts';
import {
  type Bench,
  type Figure,
  num,
  progress,
  rate,
  runStandalone,
  type Summary,
  scratchDatabase,
} from './support.ts';

const ENTRIES = Number(process.env.BENCH_SCALEOUT_ENTRIES) || 6000;
const COUNTS = (process.env.BENCH_SCALEOUT_WORKERS ?? '1,2,4,8').split(',').map(Number);
const POOL = Number(process.env.BENCH_SCALEOUT_POOL) || 3;
/**
 * Days of diary per seeded user: 4 spreads the backlog over ~2 entries a user, as a re-analysis of
 * recent entries across the user base would; 90 concentrates ~52 entries on each user, whose
 * analyses then queue on that user's report staleness marks (see migration 0021).
 */
const DAYS = Number(process.env.BENCH_SCALEOUT_DAYS) || 4;
const ANALYZERS = (process.env.BENCH_SCALEOUT_ANALYZERS ?? 'local,openai').split(',');
/** Linux's USER_HZ: /proc times are in these ticks. */
const TICKS_PER_SECOND = 100;
const QUEUE = 'analysis.run';

/** CPU seconds (user + system) a process has used, or 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may contain spaces: utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The whole machine's busy and total CPU seconds, from /proc/stat. */
function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

async function backendPids(db: Db, database: string): Promise<number[]> {
  const rows = await sql<{ pid: number }>`
    select pid from pg_stat_activity where datname = ${database} and pid <> pg_backend_pid()`.execute(db);
  return rows.rows.map((r) => r.pid);
}

interface Run {
  workers: number;
  jobs: number;
  spanSeconds: number;
  workerCpu: number;
  postgresCpu: number;
  selfCpu: number;
  /** Share of the whole machine's CPU that was busy during the run (everyone's work). */
  machineBusy: number;
  load: number;
  connections: number;
}

async function measure(
  bench: Bench,
  template: AnalysisTemplate,
  workers: number,
  analyzer: 'local' | 'openai',
  modelUrl: string | undefined,
): Promise<Run> {
  const clone = await scratchDatabase(bench, `scaleout_${analyzer}_${workers}`, {
    template: template.db.name,
  });
  const db = createDb(clone.url, { max: 2, applicationName: 'sumda-bench' });
  const running: SumdaProcess[] = [];
  try {
    await sql`update pgboss.job set start_after = now() + interval '1 day'
              where name = ${QUEUE} and state = 'created'`.execute(db);
    progress(`${analyzer}: starting ${workers} worker process(es)`);
    for (let i = 0; i < workers; i++) {
      running.push(
        startSumda(
          [
            'worker',
            '--queues',
            QUEUE,
            '--poll-interval',
            '100ms',
            '--db-pool',
            String(POOL),
            '--heartbeat',
            '1h',
          ],
          {
            env: {
              DATABASE_URL: clone.url,
              SUMDA_ENCRYPTION_KEYS: template.key,
              LOG_LEVEL: 'info',
              ...(modelUrl
                ? { SUMDA_ANALYZER: 'openai', OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: modelUrl }
                : { SUMDA_ANALYZER: 'local' }),
            },
          },
        ),
      );
    }
    await Promise.all(running.map((p) => p.waitForLine(hasMsg('worker started'), 120_000)));

    const pids = running.map((p) => p.pid);
    const workerBefore = pids.map(cpuSeconds);
    const backendsBefore = new Map((await backendPids(db, clone.name)).map((pid) => [pid, cpuSeconds(pid)]));
    const selfBefore = process.cpuUsage();
    const machineBefore = machineCpu();
    const [load] = loadavg();

    progress(`${analyzer}: ${workers} worker(s) draining ${num(template.entries)} jobs`);
    await sql`update pgboss.job set start_after = now() where name = ${QUEUE} and state = 'created'`.execute(
      db,
    );
    let connections = 0;
    for (;;) {
      const row = await sql<{ done: number; open: number; connections: number }>`
        select count(*) filter (where state in ('completed', 'failed'))::int as done,
               count(*) filter (where state in ('created', 'retry', 'active'))::int as open,
               (select count(*)::int from pg_stat_activity where datname = ${clone.name}) as connections
        from pgboss.job where name = ${QUEUE}`.execute(db);
      const r = row.rows[0]!;
      connections = Math.max(connections, r.connections);
      if (r.open === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }

    // Backends first: they belong to the workers' pools and close when the workers exit.
    const backends = await backendPids(db, clone.name);
    const postgresCpu = backends.reduce(
      (sum, pid) => sum + cpuSeconds(pid) - (backendsBefore.get(pid) ?? 0),
      0,
    );
    const workerCpu = pids.reduce((sum, pid, i) => sum + cpuSeconds(pid) - workerBefore[i]!, 0);
    const self = process.cpuUsage(selfBefore);
    const machineAfter = machineCpu();

    const span = await sql<{ jobs: number; seconds: number }>`
      select count(*)::int as jobs,
             extract(epoch from max(completed_on) - min(started_on))::float8 as seconds
      from pgboss.job where name = ${QUEUE} and state = 'completed'`.execute(db);
    const { jobs, seconds } = span.rows[0]!;
    return {
      workers,
      jobs,
      spanSeconds: seconds,
      workerCpu,
      postgresCpu,
      selfCpu: (self.user + self.system) / 1e6,
      machineBusy:
        (machineAfter.busy - machineBefore.busy) / Math.max(machineAfter.total - machineBefore.total, 1e-9),
      load: load ?? 0,
      connections,
    };
  } finally {
    for (const p of running) p.send('SIGTERM');
    await Promise.all(running.map((p) => p.exited.catch(() => undefined)));
    await db.destroy();
    await clone.drop();
  }
}

function rows(label: string, runs: Run[]): Figure[] {
  const base = runs.find((r) => r.workers === 1) ?? runs[0]!;
  const baseRate = rate(base.jobs, base.spanSeconds * 1000);
  return runs.map((r) => {
    const jobsPerSecond = rate(r.jobs, r.spanSeconds * 1000);
    return {
      label: `${label}, ${r.workers} worker process${r.workers === 1 ? '' : 'es'}`,
      value:
        `${num(jobsPerSecond)} jobs/s (${num(r.jobs)} in ${num(r.spanSeconds, 1)} s); CPU s: workers ${num(r.workerCpu, 1)}, ` +
        `PostgreSQL ${num(r.postgresCpu, 1)}, bench+double ${num(r.selfCpu, 1)}; machine busy ${num(r.machineBusy * 100)} %; ` +
        `load ${num(r.load, 1)}; ≤ ${r.connections} connections`,
      ratio: jobsPerSecond / baseRate,
      against: '1 process',
      headline: r.workers === Math.max(...COUNTS),
    };
  });
}

/** The README's table. */
function markdown(label: string, runs: Run[]): string {
  const base = runs.find((r) => r.workers === 1) ?? runs[0]!;
  const baseRate = rate(base.jobs, base.spanSeconds * 1000);
  const lines = [
    `| ${label}: processes | jobs/s | × 1 process | CPU s workers | CPU s PostgreSQL | PG share | machine busy | load (1 min) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    const jobsPerSecond = rate(r.jobs, r.spanSeconds * 1000);
    const share = r.postgresCpu / Math.max(r.postgresCpu + r.workerCpu, 1e-9);
    lines.push(
      `| ${r.workers} | ${num(jobsPerSecond)} | ${(jobsPerSecond / baseRate).toFixed(2)}× | ${num(r.workerCpu, 1)} | ${num(r.postgresCpu, 1)} | ${num(share * 100)} % | ${num(r.machineBusy * 100)} % | ${num(r.load, 1)} |`,
    );
  }
  return lines.join('\n');
}

export async function runScaleout(bench: Bench): Promise<Summary> {
  const template = await analysisTemplate(bench, 'scaleout_tpl', ENTRIES, { days: DAYS });
  const model = await startFakeModel(0);
  try {
    const figures: Figure[] = [];
    const tables: string[] = [];
    for (const [analyzer, label, url] of [
      ['local', 'offline analyzer', undefined],
      ['openai', 'OpenAI SDK, 0 ms model double', model.url],
    ] as const) {
      if (!ANALYZERS.includes(analyzer)) continue;
      const runs: Run[] = [];
      for (const workers of COUNTS) runs.push(await measure(bench, template, workers, analyzer, url));
      figures.push(...rows(label, runs));
      tables.push(markdown(label, runs));
    }
    console.log(`\n${tables.join('\n\n')}`);
    return {
      name: `scale-out: ${num(ENTRIES)} analysis.run jobs (${DAYS} diary days a user), ${COUNTS.join('/')} worker processes, --db-pool ${POOL}`,
      figures,
    };
  } finally {
    await model.close();
    await template.db.drop();
  }
}

if (import.meta.main) await runStandalone(runScaleout);
