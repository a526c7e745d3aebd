/**
 * `worker --once` against a database that stops answering: a daemon keeps retrying its fetches (and
 * reports not ready), but a one-shot run gives up after 5 consecutive failed fetches and ends with a
 * readable error instead of retrying forever — a cron or CI job must end.
 */
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorker } from '../../jobs/runtime.ts';
import { createLocalAnalyzer } from '../../src/analysis/local.ts';
import { activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss } from '../../src/queue/boss.ts';
import { QUEUES } from '../../src/queue/catalog.ts';
import { QueuePump } from '../../src/queue/pump.ts';
import { captureLogs, createUser, testConfig, testKeys, writeDiary } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { waitUntil } from '../support/process.ts';
import { type PgProxy, startProxy } from '../support/proxy.ts';

const database = useTestDatabase();

/** A pg-boss whose fetch fails the first `failures` times (Infinity: always), then finds nothing. */
function flakyBoss(failures: number) {
  const calls = { fetch: 0 };
  const boss = {
    async fetch() {
      calls.fetch += 1;
      if (calls.fetch <= failures) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return [];
    },
  } as unknown as PgBoss;
  return { boss, calls };
}

function pump(boss: PgBoss) {
  const { log, lines } = captureLogs('info');
  const p = new QueuePump(boss, QUEUES.slipCheck, async () => [], {
    batchSize: 1,
    concurrency: 1,
    pollIntervalMs: 1,
    once: true,
    isPaused: () => false,
    log,
  });
  return { p, lines };
}

const fetchFailedLines = (lines: string[]) => lines.filter((l) => l.includes('fetch failed')).length;

describe('a one-shot pump and failed fetches', () => {
  it('gives up after 5 consecutive failed fetches and keeps the error', async () => {
    const { boss, calls } = flakyBoss(Number.POSITIVE_INFINITY);
    const { p, lines } = pump(boss);
    await p.start();
    await p.drained();
    expect(calls.fetch).toBe(5);
    expect(fetchFailedLines(lines)).toBe(5);
    expect(p.fetchError?.message).toMatch(/ECONNREFUSED/);
  });

  it('does not give up after 4: the fifth fetch succeeds and the run ends normally', async () => {
    const { boss, calls } = flakyBoss(4);
    const { p, lines } = pump(boss);
    await p.start();
    await p.drained();
    expect(calls.fetch).toBe(5);
    expect(fetchFailedLines(lines)).toBe(4);
    expect(p.fetchError).toBeUndefined();
  });

  it('a daemon pump keeps trying past 5 failures', async () => {
    const { boss, calls } = flakyBoss(Number.POSITIVE_INFINITY);
    const { log } = captureLogs('info');
    const p = new QueuePump(boss, QUEUES.slipCheck, async () => [], {
      batchSize: 1,
      concurrency: 1,
      pollIntervalMs: 1,
      once: false,
      isPaused: () => false,
      log,
    });
    void p.start();
    await waitUntil(() => calls.fetch > 10, { what: 'more than 10 fetch attempts' });
    p.stop();
    await p.drained();
    expect(p.fetchError).toBeUndefined();
  });
});

describe('worker --once when the database goes away mid-run', { timeout: 60_000 }, () => {
  let proxy: PgProxy;
  beforeAll(async () => {
    proxy = await startProxy(new URL(database.url));
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('ends with "could not fetch" after 5 failed fetches instead of retrying forever', async () => {
    const keys = testKeys();
    const boss = createBoss(database.url);
    await boss.start();
    try {
      const userId = await createUser(database.db);
      const diaryId = await writeDiary(database.db, keys.keyring, userId, '오늘은 조용히 산책을 했다.');
      await enqueueAnalyses(boss, [diaryId], await activePrompt(new PolicyResolver(database.db)));
    } finally {
      await boss.stop({ graceful: false, close: true });
    }

    const { log, lines } = captureLogs('info');
    const local = createLocalAnalyzer();
    // The one analysis in flight cuts the database off, and answers only once the pump, still
    // polling beside it, has seen its fetches fail.
    const analyzer = {
      name: local.name,
      async analyze(request: Parameters<typeof local.analyze>[0]) {
        proxy.cut();
        await waitUntil(() => fetchFailedLines(lines) >= 5, { what: 'five failed fetches' });
        return local.analyze(request);
      },
    };
    const url = proxy.url(database.url);
    const run = runWorker({
      url,
      config: testConfig(url, keys.env),
      log,
      queues: ['analysis.run'],
      once: true,
      drainTimeoutMs: 10_000,
      heartbeatMs: 60_000,
      pollIntervalMs: 100,
      signal: new AbortController().signal,
      analyzer,
    });
    await expect(run).rejects.toThrow(/^worker --once: could not fetch from analysis\.run: /);
    expect(fetchFailedLines(lines)).toBe(5);
    proxy.restore();
  });
});
