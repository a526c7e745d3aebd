/**
 * Soak: `sumda worker` daemons (every queue, offline analyzer) under a steady arrival of diary
 * entries for SOAK_DURATION (default 30m), one worker SIGKILLed and replaced every SOAK_KILL_EVERY
 * (default 5m) — never worker 1, which lives the whole run so its memory can be judged. Every
 * SOAK_SAMPLE (10s) it records each worker's memory — RSS and its anonymous part from /proc, and from
 * the worker's own /metrics (prom-client's default metrics, as Prometheus would scrape them) V8's
 * heap (committed and used, new and old space) and external memory, so the summary says which part
 * grows — the connections to the soak's database and the depth of analysis.run and slip.check. At
 * the end arrivals stop, the queues drain, and it checks:
 * - memory: each worker's RSS from the end of its warm-up (5 min) to its last sample (growth per 10
 *   minutes), judged for workers that lived 10 warm minutes or more;
 * - connections: bounded by what the pools allow, and not climbing;
 * - queue depth: the backlog in the last third of the run is no larger than in the first;
 * - nothing lost, nothing twice: every entry written has exactly one analysis and one completed
 *   slip check, even for jobs a killed worker held (they are redone elsewhere: counted as redone).
 *
 * `npm exec -- node bench/soak.ts`; SOAK_DURATION, SOAK_KILL_EVERY, SOAK_SAMPLE (durations such as
 * 10m, 90s), SOAK_WORKERS (2), SOAK_RATE (entries per second, 20), SOAK_POOL (3 connections per pool),
 * SOAK_SAMPLES_FILE (write every memory sample there as NDJSON).
 * It prints a summary and exits 1 when a check fails. Not part of `npm run bench`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { sql } from 'kysely';
import { activePrompt, enqueueAnalyses } from '../src/analysis/run.ts';
import { createKeyring, seal } from '../src/crypto/index.ts';
import { createDb, type Db } from '../src/db/connect.ts';
import { PolicyResolver } from '../src/policy/resolver.ts';
import { createBoss } from '../src/queue/boss.ts';
import { parseDuration } from '../src/time/grammar.ts';
import { hasMsg, type SumdaProcess, startSumda } from '../test/support/process.ts';
import { closeBench, contention, num, openBench, progress, scratchDatabase } from './support.ts';

const env = process.env;
const DURATION_MS = parseDuration(env.SOAK_DURATION ?? '30m', 'SOAK_DURATION');
const KILL_EVERY_MS = parseDuration(env.SOAK_KILL_EVERY ?? '5m', 'SOAK_KILL_EVERY');
const SAMPLE_MS = parseDuration(env.SOAK_SAMPLE ?? '10s', 'SOAK_SAMPLE');
const WORKERS = Number(env.SOAK_WORKERS) || 2;
const RATE = Number(env.SOAK_RATE) || 20;
const POOL = Number(env.SOAK_POOL) || 3;
const SAMPLES_FILE = env.SOAK_SAMPLES_FILE;
/**
 * The workers start as a deployment starts them: Node reads the worker's settings from
 * deploy/worker.env (`--env-file`, as deploy/Dockerfile and the systemd unit do).
 */
const WORKER_ENV_FILE = fileURLToPath(new URL('../deploy/worker.env', import.meta.url));
/**
 * For experiments: more environment for the workers, `NAME=value` separated by spaces; it wins over
 * deploy/worker.env (SOAK_WORKER_ENV='NODE_OPTIONS=--max-semi-space-size=8').
 */
const WORKER_ENV: Record<string, string> = Object.fromEntries(
  (env.SOAK_WORKER_ENV ?? '')
    .split(/\s+(?=[A-Z_]+=)/)
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);
const USERS = 500;
/**
 * A worker's first five minutes (module loading, caches, pools filling, V8 growing its heap to the
 * size the load needs) are not held against it: RSS climbs for minutes before it levels.
 */
const WARMUP_MS = 5 * 60_000;
/** Memory growth per 10 minutes (half a worker's samples against the other half) judged as growing. */
const MEMORY_GROWTH_LIMIT = 0.1;
/** A worker's warm life shorter than this is reported but not judged (half-samples of a few minutes are GC noise). */
const MEMORY_JUDGED_MINUTES = 10;
/** How long the queues get to drain after arrivals stop. */
const DRAIN_LIMIT_MS = 180_000;
const QUEUES = ['analysis.run', 'slip.check'];

interface Worker {
  id: number;
  process: SumdaProcess;
  startedAt: number;
  killedAt: number | null;
  /** Its /metrics port. */
  metricsPort: number;
  memory: Memory[];
}

/** One reading of a worker's memory, in MB; `at` in ms since the soak started. */
interface Memory {
  at: number;
  /** Resident set (VmRSS). */
  rss: number;
  /** Of it, anonymous memory: V8's heap, malloc's arenas, thread stacks (the rest is mapped files: the binary, libraries). */
  anon: number;
  /** V8's heap, committed (heapTotal) and live at the last collection or since (heapUsed). */
  heapTotal: number;
  heapUsed: number;
  /** Of heapTotal: the young generation (new space) and the old. */
  newSpace: number;
  oldSpace: number;
  /** Memory V8 accounts to objects outside its heap (Buffers, ArrayBuffers). */
  external: number;
  /**
   * Anonymous memory that is neither V8's heap nor external: malloc's arenas, stacks, code — an
   * estimate (V8 counts heap it has reserved but not yet touched, so it can read a little below zero).
   */
  native: number;
  /** Major (mark-compact) collections so far, and seconds spent in collections of any kind. */
  majorGcs: number;
  gcSeconds: number;
  /** CPU seconds the process has used so far (user + system). */
  cpu: number;
}

interface Sample {
  at: number;
  connections: number;
  waiting: Record<string, number>;
  active: Record<string, number>;
  /** Of the waiting, those that failed an attempt and wait for their retry. */
  retry: Record<string, number>;
}

const MB = 1024 * 1024;

/** A worker's memory from /proc/<pid>/smaps_rollup and its /metrics; null when it is gone. */
async function readMemory(pid: number, port: number, at: number): Promise<Memory | null> {
  let rollup: string;
  try {
    rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) / 1024;
  let cpu: number;
  try {
    // utime and stime, fields 14 and 15 of /proc/<pid>/stat (after the command name in parentheses).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    cpu = (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
  let text: string;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    text = await res.text();
  } catch {
    return null;
  }
  const metric = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.slice(name.length + 1)) : 0;
  };
  const space = (name: string) => metric(`nodejs_heap_space_size_total_bytes{space="${name}"}`) / MB;
  const rss = kb('Rss');
  const anon = kb('Anonymous');
  const heapTotal = metric('nodejs_heap_size_total_bytes') / MB;
  const external = metric('nodejs_external_memory_bytes') / MB;
  return {
    at,
    rss,
    anon,
    heapTotal,
    heapUsed: metric('nodejs_heap_size_used_bytes') / MB,
    newSpace: space('new'),
    oldSpace: space('old'),
    external,
    native: anon - heapTotal - external,
    majorGcs: metric('nodejs_gc_duration_seconds_count{kind="major"}'),
    gcSeconds: ['major', 'minor', 'incremental', 'weakcb']
      .map((kind) => metric(`nodejs_gc_duration_seconds_sum{kind="${kind}"}`))
      .reduce((a, b) => a + b, 0),
    cpu,
  };
}

async function queueDepth(db: Db): Promise<Pick<Sample, 'waiting' | 'active' | 'retry'>> {
  const rows = await sql<{ name: string; waiting: number; active: number; retry: number }>`
    select name, count(*) filter (where state in ('created', 'retry'))::int as waiting,
           count(*) filter (where state = 'active')::int as active,
           count(*) filter (where state = 'retry')::int as retry
    from pgboss.job where name in (${sql.join(QUEUES)}) group by name`.execute(db);
  const waiting: Record<string, number> = Object.fromEntries(QUEUES.map((q) => [q, 0]));
  const active: Record<string, number> = Object.fromEntries(QUEUES.map((q) => [q, 0]));
  const retry: Record<string, number> = Object.fromEntries(QUEUES.map((q) => [q, 0]));
  for (const r of rows.rows) {
    waiting[r.name] = r.waiting;
    active[r.name] = r.active;
    retry[r.name] = r.retry;
  }
  return { waiting, active, retry };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TEXTS = [
  '오늘은 친구와 오래 걸으며 이야기했다. 마음이 조금 가벼워졌다.',
  '회사 일이 많아 지쳤지만 저녁에 좋아하는 음악을 들었다.',
  '비가 와서 집에서 책을 읽었다. 조용한 하루였다.',
  '발표를 끝내고 나니 뿌듯했다. 내일은 조금 쉬고 싶다.',
];

const bench = await openBench();
let failed = false;
try {
  console.log(`machine: ${bench.machine}`);
  console.log(`load before: ${await contention(bench)}`);
  console.log(
    `soak: ${num(DURATION_MS / 60_000, 1)} min, ${WORKERS} workers (--db-pool ${POOL}, every queue, offline analyzer), ` +
      `${RATE} entries/s, a worker SIGKILLed and replaced every ${num(KILL_EVERY_MS / 60_000, 1)} min, ` +
      `samples every ${num(SAMPLE_MS / 1000)} s`,
  );
  console.log(
    `workers' Node settings: deploy/worker.env ${JSON.stringify(parseEnv(readFileSync(WORKER_ENV_FILE, 'utf8')))}` +
      (Object.keys(WORKER_ENV).length ? `; overridden for this run: ${JSON.stringify(WORKER_ENV)}` : ''),
  );
  const scratch = await scratchDatabase(bench, 'soak', { migrated: true });
  const db = createDb(scratch.url, { max: 3, applicationName: 'sumda-bench' });
  const boss = createBoss(scratch.url, { max: 2 });
  const key = { id: 'soak', key: randomBytes(32) };
  const keyring = createKeyring([key]);
  const workers: Worker[] = [];
  const samples: Sample[] = [];
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  let arriving = true;
  let arrivals: Promise<void> = Promise.resolve();
  try {
    await boss.start();
    const users = (
      await db
        .insertInto('users')
        .values(Array.from({ length: USERS }, (_, i) => ({ nickname: `soak${i}` })))
        .returning('id')
        .execute()
    ).map((u) => u.id);
    const prompt = await activePrompt(new PolicyResolver(db));
    if (SAMPLES_FILE) writeFileSync(SAMPLES_FILE, '');

    let nextId = 1;
    const startWorker = async () => {
      const w: Worker = {
        id: nextId++,
        process: startSumda(
          [
            'worker',
            '--db-pool',
            String(POOL),
            '--poll-interval',
            '200ms',
            '--heartbeat',
            '1h',
            '--metrics-port',
            '0',
            '--metrics-host',
            '127.0.0.1',
          ],
          {
            nodeArgs: [`--env-file=${WORKER_ENV_FILE}`],
            env: {
              ...WORKER_ENV,
              DATABASE_URL: scratch.url,
              SUMDA_ENCRYPTION_KEYS: `${key.id}:${key.key.toString('base64')}`,
              SUMDA_ANALYZER: 'local',
              LOG_LEVEL: 'info',
            },
          },
        ),
        startedAt: since(),
        killedAt: null,
        metricsPort: 0,
        memory: [],
      };
      workers.push(w);
      const listening = await w.process.waitForLine(hasMsg('metrics and probes listening'), 120_000);
      w.metricsPort = (JSON.parse(listening) as { port: number }).port;
      await w.process.waitForLine(hasMsg('worker started'), 120_000);
      return w;
    };
    const live = () => workers.filter((w) => w.killedAt === null);
    progress(`starting ${WORKERS} workers`);
    await Promise.all(Array.from({ length: WORKERS }, startWorker));

    // Arrivals: once a second, RATE entries (random users), enqueued in the transaction that writes them.
    let written = 0;
    arrivals = (async () => {
      let tick = 0;
      const started = performance.now();
      while (arriving) {
        await db.transaction().execute(async (trx) => {
          const rows = await trx
            .insertInto('diary_entries')
            .values(
              Array.from({ length: RATE }, (_, i) => {
                const userId = users[(tick * RATE + i * 7919) % users.length]!;
                const text = TEXTS[(tick + i) % TEXTS.length]!;
                return { user_id: userId, title: null, content_enc: seal(keyring, text, userId) };
              }),
            )
            .returning('id')
            .execute();
          await enqueueAnalyses(
            boss,
            rows.map((r) => r.id),
            prompt,
            randomUUID(),
            trx,
          );
        });
        written += RATE;
        tick += 1;
        const ahead = started + tick * 1000 - performance.now();
        if (ahead > 0) await sleep(ahead);
      }
    })();

    // Samples and kills until the duration is over.
    let nextKill = KILL_EVERY_MS;
    let killed = 0;
    while (since() < DURATION_MS) {
      await sleep(Math.min(SAMPLE_MS, DURATION_MS - since()));
      const at = since();
      for (const w of live()) {
        const m = await readMemory(w.process.pid, w.metricsPort, at);
        if (m !== null) {
          w.memory.push(m);
          if (SAMPLES_FILE) appendFileSync(SAMPLES_FILE, `${JSON.stringify({ worker: w.id, ...m })}\n`);
        }
        w.process.stderr.splice(0);
      }
      const conn = await sql<{ n: number }>`
        select count(*)::int as n from pg_stat_activity where datname = ${scratch.name}`.execute(db);
      samples.push({ at, connections: conn.rows[0]!.n, ...(await queueDepth(db)) });
      if (at >= nextKill && at < DURATION_MS - SAMPLE_MS) {
        // Worker 1 is never killed (with more than one worker): one process lives the whole run,
        // long enough to judge its memory; the others are killed in turn.
        const candidates = live().filter((w) => live().length === 1 || w.id !== 1);
        const victim = candidates[killed % candidates.length]!;
        progress(`${num(at / 60_000, 1)} min: SIGKILL worker ${victim.id}, starting a replacement`);
        victim.process.send('SIGKILL');
        victim.killedAt = at;
        killed += 1;
        nextKill += KILL_EVERY_MS;
        await startWorker();
      }
      const last = samples.at(-1)!;
      progress(
        `${num(at / 60_000, 1)} min: written ${num(written)}; waiting ${QUEUES.map((q) => `${q} ${last.waiting[q]} (${last.retry[q]} retrying)`).join(', ')}; ` +
          `${last.connections} connections; RSS/heap total/heap used ${live()
            .map((w) => {
              const m = w.memory.at(-1);
              return m ? `${num(m.rss)}/${num(m.heapTotal)}/${num(m.heapUsed)}` : '-';
            })
            .join(', ')} MB`,
      );
    }
    arriving = false;
    await arrivals;

    progress('arrivals stopped; draining');
    const drainStarted = performance.now();
    for (;;) {
      const d = await queueDepth(db);
      if (QUEUES.every((q) => d.waiting[q] === 0 && d.active[q] === 0)) break;
      if (performance.now() - drainStarted > DRAIN_LIMIT_MS) break;
      await sleep(1000);
    }
    const drainSeconds = (performance.now() - drainStarted) / 1000;
    const end = await queueDepth(db);
    const queuedAtEnd = Object.fromEntries(QUEUES.map((q) => [q, end.waiting[q]! + end.active[q]!]));
    const drained = QUEUES.every((q) => queuedAtEnd[q] === 0);

    // Nothing lost, nothing twice.
    const effects = (
      await sql<{
        entries: number;
        analysed: number;
        analyses: number;
        checks: number;
        check_jobs: number;
        redone: number;
        failed_jobs: number;
      }>`
      select (select count(*)::int from public.diary_entries) as entries,
             (select count(distinct diary_id)::int from public.analysis_results) as analysed,
             (select count(*)::int from public.analysis_results) as analyses,
             (select count(distinct singleton_key)::int from pgboss.job
               where name = 'slip.check' and state = 'completed') as checks,
             (select count(*)::int from pgboss.job where name = 'slip.check' and state = 'completed') as check_jobs,
             (select count(*)::int from pgboss.job
               where name in ('analysis.run', 'slip.check') and state = 'completed' and retry_count > 0) as redone,
             (select count(*)::int from pgboss.job
               where name in ('analysis.run', 'slip.check') and state = 'failed') as failed_jobs`.execute(db)
    ).rows[0]!;

    // Memory: each worker after its warm-up, the mean of the first half of its samples against the
    // mean of the second (RSS swings with garbage collection; single samples say little).
    const halves = (warm: Memory[], pick: (m: Memory) => number) => {
      const half = Math.floor(warm.length / 2);
      return { before: mean(warm.slice(0, half).map(pick)), after: mean(warm.slice(half).map(pick)) };
    };
    const memory = workers.map((w) => {
      const warm = w.memory.filter((m) => m.at - w.startedAt >= WARMUP_MS);
      const minutes = warm.length > 1 ? (warm.at(-1)!.at - warm[0]!.at) / 60_000 : 0;
      const { before, after } = halves(warm, (m) => m.rss);
      const growth = minutes > 0 && before > 0 ? (after - before) / before / (minutes / 20) : 0;
      return { w, warm, before, after, minutes, growth };
    });
    const third = Math.max(1, Math.floor(samples.length / 3));
    const early = samples.slice(0, third);
    const late = samples.slice(-third);
    const backlog = (s: Sample) => QUEUES.reduce((n, q) => n + s.waiting[q]!, 0);
    const connectionLimit = (WORKERS + 1) * 2 * POOL + 3 + 2;
    const checks = [
      {
        what: 'memory flat',
        ok: memory.every((m) => m.minutes < MEMORY_JUDGED_MINUTES || m.growth <= MEMORY_GROWTH_LIMIT),
        detail: memory
          .filter((m) => m.minutes > 0)
          .map(
            (m) =>
              `worker ${m.w.id}${m.w.killedAt === null ? '' : ' (killed)'}: mean ${num(m.before)} → ${num(m.after)} MB, first half against second, over ${num(m.minutes, 1)} min` +
              (m.minutes >= MEMORY_JUDGED_MINUTES
                ? ` (${(m.growth * 100).toFixed(1)} % per 10 min)`
                : ' (too short to judge)'),
          )
          .join('; '),
      },
      {
        what: 'connections bounded and flat',
        ok:
          Math.max(...samples.map((s) => s.connections)) <= connectionLimit &&
          mean(late.map((s) => s.connections)) <= mean(early.map((s) => s.connections)) + 2 * POOL,
        detail: `min ${Math.min(...samples.map((s) => s.connections))}, max ${Math.max(...samples.map((s) => s.connections))} (limit ${connectionLimit}: ${WORKERS}+1 workers × 2 pools × ${POOL} + the soak's own); mean first third ${num(mean(early.map((s) => s.connections)), 1)}, last third ${num(mean(late.map((s) => s.connections)), 1)}`,
      },
      {
        what: 'queue depth flat (the workers keep up)',
        ok: drained && mean(late.map(backlog)) <= Math.max(mean(early.map(backlog)) * 2, RATE * 10),
        detail: `waiting jobs (analysis.run + slip.check): mean first third ${num(mean(early.map(backlog)))}, last third ${num(mean(late.map(backlog)))}, max ${Math.max(...samples.map(backlog))}; ${drained ? `drained ${num(drainSeconds, 1)} s after arrivals stopped` : `not drained ${num(drainSeconds)} s after arrivals stopped`}`,
      },
      {
        what: 'nothing lost',
        ok:
          effects.analysed === effects.entries &&
          effects.checks === effects.entries &&
          effects.failed_jobs === 0,
        detail: `${num(effects.entries)} entries written, ${num(effects.analysed)} analysed, ${num(effects.checks)} slip-checked; ${effects.failed_jobs} failed jobs`,
      },
      {
        what: 'nothing twice',
        ok: effects.analyses === effects.analysed && effects.check_jobs === effects.checks,
        detail: `${num(effects.analyses)} analysis rows for ${num(effects.analysed)} entries, ${num(effects.check_jobs)} completed slip-check jobs for ${num(effects.checks)} analyses; ${effects.redone} jobs redone after a kill or a failure (work done again, stored once)`,
      },
    ];
    const [one, five] = loadavg();
    console.log(`\n== soak summary (${num(since() / 60_000, 1)} min, ${killed} workers killed)`);
    for (const c of checks) {
      console.log(`  ${c.ok ? 'ok    ' : 'FAILED'} ${c.what}: ${c.detail}`);
      if (!c.ok) failed = true;
    }
    // What the RSS is made of, per worker (reported, not judged): the first warm reading, the last,
    // and the half-means, so an operator sees whether V8's heap or the memory outside it grows.
    console.log('  memory (MB), first warm sample → last, [mean of first half → second]:');
    const parts: [string, (m: Memory) => number][] = [
      ['RSS', (m) => m.rss],
      ['anonymous', (m) => m.anon],
      ['heap total', (m) => m.heapTotal],
      ['new space', (m) => m.newSpace],
      ['old space', (m) => m.oldSpace],
      ['heap used', (m) => m.heapUsed],
      ['external', (m) => m.external],
      ['native (anonymous − heap − external)', (m) => m.native],
    ];
    for (const m of memory.filter((x) => x.warm.length > 1)) {
      const first = m.warm[0]!;
      const last = m.warm.at(-1)!;
      console.log(
        `    worker ${m.w.id}${m.w.killedAt === null ? '' : ' (killed)'}, min ${num(first.at / 60_000, 1)}–${num(last.at / 60_000, 1)}: ` +
          `CPU ${num(last.cpu - first.cpu, 1)} s of which GC ${num(last.gcSeconds - first.gcSeconds, 1)} s, ${last.majorGcs - first.majorGcs} major GCs; ` +
          parts
            .map(([name, pick]) => {
              const h = halves(m.warm, pick);
              return `${name} ${num(pick(first))} → ${num(pick(last))} [${num(h.before)} → ${num(h.after)}]`;
            })
            .join('; '),
      );
    }
    console.log(`  load average at the end ${one?.toFixed(1)} (1 min) / ${five?.toFixed(1)} (5 min)`);
  } catch (error) {
    failed = true;
    console.log(`\nsoak FAILED: ${(error as Error).stack ?? error}`);
  } finally {
    arriving = false;
    await arrivals.catch((error: unknown) => console.log(`arrivals failed: ${(error as Error).message}`));
    const errors = await sql<{ message: string; n: number }>`
      select left(message, 160) as message, count(*)::int as n from admin.error_logs
      group by 1 order by 2 desc limit 5`
      .execute(db)
      .catch(() => ({ rows: [] }));
    for (const e of errors.rows) console.log(`  error_logs ×${e.n}: ${e.message}`);
    for (const w of workers) if (w.killedAt === null) w.process.send('SIGTERM');
    await Promise.all(workers.map((w) => w.process.exited.catch(() => undefined)));
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await db.destroy();
    await scratch.drop();
  }
} finally {
  await closeBench(bench);
}
process.exit(failed ? 1 : 0);
