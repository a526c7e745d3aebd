/**
 * Foundation: how fast sumda starts, migrates and seeds, each against a baseline of the same run.
 * - `sumda --help` and `sumda policy list` vs `node -e 0` (interleaved spawns, started as an
 *   operator starts them; medians of each process's CPU time as the OS accounts it, and of wall
 *   time): what the CLI adds to Node's own start, with and without the
 *   compile cache; and `policy list` beside its floor (bench/read-floor.ts: kysely and pg doing the
 *   same reads, nothing of sumda's), in the same series, for what sumda's own code adds;
 * - `sumda db migrate` on an empty database vs the same migration called in-process: what the
 *   process, the imports and the CLI add to the schema work;
 * - `seed()` of 10,000 users × 90 days vs a hand-written `INSERT … SELECT` that writes as many diary
 *   rows with random bytea of the same average size in one statement (the set-based anchor).
 * BENCH_STARTUP_ONLY=cli measures the command start-ups alone.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { buildCli, CJS_OUTPUT, CODE_OUTPUT, lazyBuiltins } from '../scripts/build.ts';
import { createKeyring } from '../src/crypto/index.ts';
import { createDb } from '../src/db/connect.ts';
import { migrate } from '../src/db/migrator.ts';
import { ensureQueueSchema } from '../src/queue/boss.ts';
import { seed } from '../src/seed/index.ts';
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
  timed,
} from './support.ts';

const SUMDA = fileURLToPath(new URL('../bin/sumda', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SPAWNS = Number(process.env.BENCH_SPAWNS) || 15;
const SEED_USERS = Number(process.env.BENCH_SEED_USERS) || 10_000;
const SEED_DAYS = 90;

/**
 * Where `npx sumda` and npm scripts put Node 24 and `sumda`: a command is started as an operator
 * starts it, through bin/sumda's own first line (`#!/usr/bin/env -S node …`) and its Node flags.
 */
const BIN = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
const onPath = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, PATH: `${BIN}:${env.PATH ?? ''}` });
/** The Node flags on bin/sumda's first line, which the floor is started with too. */
const SUMDA_FLAGS = (/^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(SUMDA, 'utf8'))?.[1] ?? '')
  .trim()
  .split(/\s+/)
  .filter(Boolean);

interface Spawned {
  wallMs: number;
  cpuMs: number;
}

/** Each sample is this many starts in a row: bash reports whole milliseconds, so a sample of four is to 0.25 ms. */
const REPEAT = Number(process.env.BENCH_REPEAT) || 4;

/**
 * One process's wall and CPU time (user + system, every thread, from exec to exit: what `time`
 * prints), as the OS accounts it to the bash that started it: the mean of `repeat` starts in a row.
 * Nothing is loaded into the process to measure it, and Node's own teardown counts, as it does for
 * `node -e 0`.
 */
function spawnMs(command: string[], env: NodeJS.ProcessEnv = process.env, repeat = REPEAT): Spawned {
  const result = spawnSync(
    'bash',
    [
      '-c',
      'TIMEFORMAT="sumda-bench-time %3R %3U %3S"; n=$1; shift; time { for ((i = 0; i < n; i++)); do "$@" >/dev/null || exit; done; }',
      'sumda-bench',
      String(repeat),
      ...command,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = result.stderr?.toString() ?? '';
  if (result.status !== 0) {
    throw new Error(`${command.join(' ')} exited ${result.status}: ${stderr.slice(0, 500)}`);
  }
  const times = /sumda-bench-time ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(stderr);
  if (!times) throw new Error(`${command.join(' ')}: no time reported: ${stderr.slice(0, 500)}`);
  const [real, user, system] = times.slice(1).map((x) => (Number(x) * 1000) / repeat) as [
    number,
    number,
    number,
  ];
  return { wallMs: real, cpuMs: user + system };
}

/** Medians of a series of spawns. */
function pick(xs: Spawned[]): Spawned {
  return { wallMs: median(xs.map((x) => x.wallMs)), cpuMs: median(xs.map((x) => x.cpuMs)) };
}

/**
 * Interleaved spawns of `node -e 0` and each command, so drift and load hit all of them alike;
 * medians of each.
 */
function interleaved(commands: { args: string[]; env: NodeJS.ProcessEnv }[]): {
  node: Spawned;
  runs: Spawned[];
} {
  const env = commands[0]!.env;
  const node0 = [process.execPath, '-e', '0'];
  spawnMs(node0, env);
  for (const c of commands) spawnMs(c.args, c.env); // warms the file cache and the compile cache
  const node: Spawned[] = [];
  const runs = commands.map((): Spawned[] => []);
  for (let i = 0; i < SPAWNS; i++) {
    node.push(spawnMs(node0, env));
    for (const [j, c] of commands.entries()) runs[j]!.push(spawnMs(c.args, c.env));
  }
  return { node: pick(node), runs: runs.map(pick) };
}

function paired(args: string[], env: NodeJS.ProcessEnv): { node: Spawned; cli: Spawned } {
  const { node, runs } = interleaved([{ args, env }]);
  return { node, cli: runs[0]! };
}

const GOAL = 2.5; // issue 14: a command's process within 2.5x of `node -e 0`

async function helpStartup(bench: Bench): Promise<Figure[]> {
  progress(`spawning \`node -e 0\` and sumda commands ${SPAWNS} times each (interleaved)`);
  const env = onPath({ ...process.env, NO_COLOR: '1' });
  // `npm run build` first: the commands as an installation that ran it starts them.
  await buildCli();
  const help = paired([SUMDA, '--help'], env);
  const cold = paired([SUMDA, '--help'], { ...env, NODE_DISABLE_COMPILE_CACHE: '1' });
  const db = await scratchDatabase(bench, 'startup_read', { migrated: true });
  let read: ReturnType<typeof paired>;
  let unbundled: ReturnType<typeof paired>;
  let floor: ReturnType<typeof paired>;
  const floorDir = await mkdtemp(join(tmpdir(), 'sumda-read-floor-'));
  try {
    const dbEnv = { ...env, DATABASE_URL: db.url };
    // The read and its floor in one series: what sumda adds is measured under the same load.
    const both = interleaved([
      { args: [SUMDA, 'policy', 'list'], env: dbEnv },
      { args: [process.execPath, ...SUMDA_FLAGS, await buildFloor(floorDir)], env: dbEnv },
    ]);
    read = { node: both.node, cli: both.runs[0]! };
    floor = { node: both.node, cli: both.runs[1]! };
    unbundled = paired([SUMDA, 'policy', 'list'], { ...dbEnv, SUMDA_NO_BUNDLE: '1' });
  } finally {
    await db.drop();
    await rm(floorDir, { recursive: true, force: true });
  }
  const figures: Figure[] = [
    {
      label: '`node -e 0` (median)',
      value: `${num(help.node.cpuMs, 1)} ms CPU, ${num(help.node.wallMs, 1)} ms wall`,
    },
  ];
  for (const [label, m, headline] of [
    ['`sumda --help` (after `npm run build`)', help, true],
    ['`sumda --help` without the compile cache', cold, false],
    ['`sumda policy list` (a read command, local PostgreSQL; after `npm run build`)', read, true],
    ['`sumda policy list` from source (no `npm run build`)', unbundled, false],
    [
      'the floor: kysely + pg, connect, the same two queries, close (bench/read-floor.ts, bundled)',
      floor,
      false,
    ],
  ] as const) {
    const r = m.cli.cpuMs / m.node.cpuMs;
    figures.push({
      label: `${label} (median)`,
      value: `${num(m.cli.cpuMs, 1)} ms CPU, ${num(m.cli.wallMs, 1)} ms wall (${num(m.cli.wallMs / m.node.wallMs, 1)}x wall)`,
      ratio: r,
      against: '`node -e 0` CPU',
      // The floor is a measure of the libraries, not of sumda, and the source is what runs only
      // between an edit and `npm run build` (`npm ci` builds): neither has a goal of its own.
      ...(m === floor || m === unbundled ? {} : { goal: `≤ ${GOAL}x`, met: r <= GOAL }),
      headline,
    });
  }
  // What sumda adds to the least a read with its libraries costs: the part its own code can change.
  const overFloor = read.cli.cpuMs / floor.cli.cpuMs;
  figures.push({
    label: '`sumda policy list` against the floor (median CPU)',
    value: `${num(read.cli.cpuMs - floor.cli.cpuMs, 1)} ms more`,
    ratio: overFloor,
    against: 'the floor',
  });
  return figures;
}

/**
 * bench/read-floor.ts bundled as `npm run build` bundles sumda (CommonJS written the same way, the
 * same built-ins made lazy) behind an entry that runs it as bin/sumda runs the bundle (runBundle,
 * its code cache included). Returns the entry's path; it is started with bin/sumda's Node flags.
 */
async function buildFloor(dir: string): Promise<string> {
  const { build } = await import('rolldown');
  await build({
    input: fileURLToPath(new URL('./read-floor.ts', import.meta.url)),
    cwd: ROOT,
    platform: 'node',
    logLevel: 'warn',
    plugins: [lazyBuiltins()],
    output: { file: join(dir, 'floor.cjs'), ...CJS_OUTPUT, ...CODE_OUTPUT },
  });
  const entry = join(dir, 'entry.mjs');
  await writeFile(
    entry,
    `import { runBundle } from ${JSON.stringify(new URL('../bin/bundle.mjs', import.meta.url).href)};\nrunBundle(new URL(${JSON.stringify(new URL('..', import.meta.url).href)}), new URL('./', import.meta.url), 'floor.cjs', 'floor');\n`,
  );
  return entry;
}

async function migrateTimes(bench: Bench): Promise<Figure[]> {
  const n = runs();
  progress(`\`sumda db migrate\` on an empty database, ${n} times, and in-process migrate() ${n} times`);
  const cli: number[] = [];
  let withQueues = false;
  for (let i = 0; i < n; i++) {
    const db = await scratchDatabase(bench, `migrate_cli${i}`);
    try {
      cli.push(
        spawnMs(
          [SUMDA, 'db', 'migrate'],
          {
            ...onPath(process.env),
            DATABASE_URL: db.url,
            LOG_LEVEL: 'warn',
            NO_COLOR: '1',
            SUMDA_ENV_FILE: '/nonexistent/.env',
          },
          1, // once: a second run would find nothing to migrate
        ).wallMs,
      );
      const kysely = createDb(db.url, { max: 1 });
      const ns = await sql<{ ns: string | null }>`select to_regnamespace('pgboss')::text as ns`.execute(
        kysely,
      );
      withQueues = Boolean(ns.rows[0]?.ns);
      await kysely.destroy();
    } finally {
      await db.drop();
    }
  }
  // The same work in-process: the schema (and the job queues if the CLI installed them too).
  const inProcess: number[] = [];
  for (let i = 0; i < n; i++) {
    const db = await scratchDatabase(bench, `migrate_lib${i}`);
    try {
      const { ms } = await timed(async () => {
        await migrate({ url: db.url, appliedBy: 'bench' });
        if (withQueues) await ensureQueueSchema(db.url);
      });
      inProcess.push(ms);
    } finally {
      await db.drop();
    }
  }
  const lib = median(inProcess);
  const wall = median(cli);
  const what = withQueues ? 'migrate() + ensureQueueSchema()' : 'migrate()';
  return [
    { label: `in-process ${what} (median)`, value: `${num(lib)} ms` },
    {
      label: '`sumda db migrate`, empty db (median)',
      value: `${num(wall)} ms${withQueues ? ' (schema + job queues)' : ' (schema only)'}`,
      ratio: wall / lib,
      against: 'in-process',
      headline: true,
    },
  ];
}

async function seedThroughput(bench: Bench): Promise<Figure[]> {
  const db = await scratchDatabase(bench, 'seed', { migrated: true });
  const kysely = createDb(db.url, { max: 4, applicationName: 'sumda-bench' });
  try {
    progress(`seed(): ${num(SEED_USERS)} users × ${SEED_DAYS} days (one run; it is not cheap)`);
    const keyring = createKeyring([{ id: 'bench', key: randomBytes(32) }]);
    let usersDone = 0;
    let diariesDone = 0;
    const result = await seed(
      kysely,
      keyring,
      { actor: null, requestId: randomUUID(), command: 'bench seed' },
      { users: SEED_USERS, days: SEED_DAYS, seed: 7, endDate: '2025-06-30' },
      (phase) => {
        if (phase === 'users') usersDone = performance.now();
        if (phase === 'diaries') diariesDone = performance.now();
      },
    );
    const totalMs = result.ms;
    const diaryMs = diariesDone - usersDone;
    const totalRows =
      result.users +
      result.diaries +
      result.subscriptions +
      result.payments +
      result.logins +
      result.attendance;

    // The anchor writes as many diary rows, of the same average size, into a fresh copy of the
    // table (same columns, defaults, checks, indexes and generated column, plus the user foreign
    // key): truncating diary_entries itself would cascade to the append-only moderation log,
    // which refuses TRUNCATE.
    const shape = await sql<{ n: number; bytes: number; titled: number; title_chars: number }>`
      select count(*)::int as n, round(avg(octet_length(content_enc)))::int as bytes,
             avg((title is not null)::int)::float8 as titled,
             coalesce(round(avg(char_length(title))), 0)::int as title_chars
      from public.diary_entries`.execute(kysely);
    const { n, bytes, titled, title_chars } = shape.rows[0]!;
    const anchorRuns: number[] = [];
    for (let i = 0; i < runs(); i++) {
      await sql`drop table if exists public.bench_diary_anchor`.execute(kysely);
      await sql`create table public.bench_diary_anchor (like public.diary_entries including all)`.execute(
        kysely,
      );
      await sql`alter table public.bench_diary_anchor add foreign key (user_id) references public.users (id)`.execute(
        kysely,
      );
      await sql`checkpoint`.execute(kysely).catch(() => {});
      progress(`set-based anchor: INSERT … SELECT of ${num(n)} rows, ~${bytes} bytes each (run ${i + 1})`);
      const { ms } = await timed(() => anchorInsert(kysely, n, bytes, titled, title_chars));
      anchorRuns.push(ms);
    }
    const anchorMs = median(anchorRuns);
    const anchorRate = rate(n, anchorMs);
    const diaryRate = rate(result.diaries, diaryMs);
    return [
      {
        label: `seed ${num(SEED_USERS)} users × ${SEED_DAYS} days`,
        value: `${num(totalMs / 1000, 1)} s for ${num(totalRows)} rows (${num(result.diaries)} diaries, ~${bytes} B sealed each)`,
      },
      { label: 'seed: all rows/s (whole run)', value: `${num(rate(totalRows, totalMs))} rows/s` },
      {
        label: 'seed: diaries/s (whole run)',
        value: `${num(rate(result.diaries, totalMs))} rows/s`,
      },
      {
        label: 'seed: diaries/s (diary phase)',
        value: `${num(diaryRate)} rows/s over ${num(diaryMs / 1000, 1)} s`,
        ratio: diaryRate / anchorRate,
        against: 'set-based anchor',
        headline: true,
      },
      {
        label: 'set-based INSERT … SELECT anchor (median)',
        value: `${num(anchorRate)} rows/s (${num(anchorMs / 1000, 2)} s)`,
      },
    ];
  } finally {
    await kysely.destroy();
    await db.drop();
  }
}

/**
 * One statement: `n` rows spread over the seeded users, a valid ciphertext header (format byte,
 * key-id length, key id) and random bytes from a 1 MiB pool so the lengths average `bytes` — into
 * a copy of diary_entries with the same indexes, checks, generated column and user foreign key.
 */
async function anchorInsert(
  db: ReturnType<typeof createDb>,
  n: number,
  bytes: number,
  titled: number,
  titleChars: number,
): Promise<void> {
  const header = 2 + 'bench'.length;
  const body = Math.max(28, bytes - header);
  await sql`
    with pool as (
      select string_agg(sha256(int4send(g)), ''::bytea) as b from generate_series(1, 32768) g
    ), u as (
      select array_agg(id order by id) as ids, count(*)::int as n from public.users
    )
    insert into public.bench_diary_anchor (id, user_id, title, content_enc, created_at, updated_at)
    select gen_random_uuid(), u.ids[1 + (i % u.n)],
           case when random() < ${titled} then left(repeat('오늘의 일기 ', 20), ${titleChars}) end,
           '\\x0105'::bytea || convert_to('bench', 'UTF8')
             || substring(pool.b from 1 + (random() * 500000)::int for ${body} - 40 + (random() * 80)::int),
           t.at, t.at
    from generate_series(0, ${n - 1}) i
    cross join pool cross join u
    cross join lateral (select timestamptz '2025-06-30' - random() * interval '90 days' + i * interval '0') t(at)`.execute(
    db,
  );
}

export async function runStartup(bench: Bench): Promise<Summary> {
  // BENCH_STARTUP_ONLY=cli: the command start-ups alone (seconds, not minutes).
  if (process.env.BENCH_STARTUP_ONLY === 'cli') {
    return { name: 'startup: CLI start-up', figures: await helpStartup(bench) };
  }
  const figures = [
    ...(await helpStartup(bench)),
    ...(await migrateTimes(bench)),
    // A failing seed benchmark must not hide the start-up figures above it.
    ...(await seedThroughput(bench).catch((error: Error) => [
      { label: 'seed', value: `FAILED: ${error.message.split('\n')[0]}` },
    ])),
  ];
  return { name: 'startup: CLI start-up, migrate, seed', figures };
}

if (import.meta.main) await runStandalone(runStartup);
