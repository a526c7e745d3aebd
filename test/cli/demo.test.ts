import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSumda } from '../support/cli.ts';

/** What one CLI command may take here under load (start-up, the embedded server starting or stopping). */
const STEP_MS = 60_000;

// The newcomer's path: nothing configured, so sumda runs its own embedded PostgreSQL.
describe('sumda demo on the embedded database', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'sumda-demo-'));
  });
  afterAll(async () => {
    await runSumda(['db', 'stop'], { env: { SUMDA_DATA_DIR: dataDir } });
    await rm(dataDir, { recursive: true, force: true });
  }, STEP_MS);

  // Two demo runs of up to 120 s each, then one more command: far beyond the suite's 30 s default.
  it('migrates, seeds and summarises on a fresh data folder, then again idempotently', {
    timeout: 2 * 120_000 + STEP_MS,
  }, async () => {
    const env = { SUMDA_DATA_DIR: dataDir };
    const first = await runSumda(['demo', '--users', '12', '--days', '10', '--json'], {
      env,
      timeoutMs: 120_000,
    });
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.migrations).toBeGreaterThan(0);
    expect(summary.actor).toBe('demo@sumda.local');
    expect(summary.seed.users).toBe(12);
    expect(summary.seed.diaries).toBeGreaterThan(0);
    const rows = Object.fromEntries(
      summary.data.tables.map((t: { table: string; rows: number }) => [t.table, t.rows]),
    );
    expect(rows['public.users']).toBe(12);
    expect(rows['public.diary_entries']).toBe(summary.seed.diaries);
    expect(existsSync(join(dataDir, 'dev-encryption-key'))).toBe(true);
    expect(first.stderr).toContain('DEVELOPMENT encryption key');

    const second = await runSumda(['demo', '--users', '12', '--days', '10', '--json'], {
      env,
      timeoutMs: 120_000,
    });
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout);
    expect(again.migrations).toBe(0);
    expect(again.seed.users).toBe(0);
    expect(again.seed.diaries).toBe(0);
    expect(second.stderr).not.toContain('DEVELOPMENT encryption key');

    // The server stays up between commands (until `db stop` or the idle stop), so the next one
    // does not pay for a start.
    const url = await runSumda(['db', 'url', '--json'], { env });
    expect(JSON.parse(url.stdout)).toMatchObject({ embedded: true, running: true });
  });

  it('with SUMDA_EMBEDDED_IDLE the server stops by itself once no command has used it that long', {
    timeout: 3 * STEP_MS,
  }, async () => {
    const env = { SUMDA_DATA_DIR: dataDir, SUMDA_EMBEDDED_IDLE: '2s' };
    await runSumda(['db', 'stop'], { env });
    expect((await runSumda(['db', 'status'], { env })).code).toBe(0);
    // Waits for an event, not a duration: the idle watcher stops the server (its pid file goes).
    const postmaster = join(dataDir, 'pg', 'postmaster.pid');
    expect(existsSync(postmaster)).toBe(true);
    for (let i = 0; i < 240 && existsSync(postmaster); i++) await new Promise((r) => setTimeout(r, 250));
    const running = JSON.parse((await runSumda(['db', 'url', '--json'], { env })).stdout).running;
    expect(running).toBe(false);
    const stopped = await runSumda(['db', 'stop'], { env });
    expect(stopped.stdout).toContain('embedded PostgreSQL was not running');
  });

  // Seven commands, each starting Node and some the embedded server.
  it('db start keeps the embedded server up across commands until db stop', {
    timeout: 7 * STEP_MS,
  }, async () => {
    const env = { SUMDA_DATA_DIR: dataDir };
    expect((await runSumda(['db', 'start'], { env })).code).toBe(0);
    const url = JSON.parse((await runSumda(['db', 'url', '--json', '--reveal'], { env })).stdout);
    expect(url).toMatchObject({ embedded: true, running: true });
    expect(url.url).toMatch(/^postgres:\/\/postgres:[^*]+@127\.0\.0\.1:\d+\/sumda$/);
    const status = await runSumda(['db', 'status', '--check'], { env });
    expect(status.code).toBe(0);
    expect(JSON.parse((await runSumda(['db', 'url', '--json'], { env })).stdout).running).toBe(true);
    const stopped = await runSumda(['db', 'stop'], { env });
    expect(stopped.stdout).toContain('embedded PostgreSQL stopped');
    expect(JSON.parse((await runSumda(['db', 'url', '--json'], { env })).stdout).running).toBe(false);
  });
});
