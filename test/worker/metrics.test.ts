/**
 * `sumda worker --metrics-port`: /metrics in Prometheus text format (parsed with a real parser),
 * with per-queue job counters, duration histograms, model calls, slip decisions and the process
 * metrics, no ids in any label; /healthz and /readyz. Readiness flips when the database goes away
 * (the worker reaches PostgreSQL through a proxy this test cuts) and comes back, and while the
 * worker drains after SIGTERM — liveness stays up in both.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { activePrompt, enqueueAnalyses } from '../../src/analysis/run.ts';
import { PolicyResolver } from '../../src/policy/resolver.ts';
import { createBoss, type PgBoss } from '../../src/queue/boss.ts';
import { createUser, type TestKeys, testKeys, writeDiary } from '../support/analysis.ts';
import { useTestDatabase } from '../support/db.ts';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.ts';
import { hasMsg, type SumdaProcess, startSumda, waitUntil } from '../support/process.ts';
import { type Family, parsePrometheus } from '../support/prometheus.ts';
import { type PgProxy, startProxy } from '../support/proxy.ts';

const database = useTestDatabase();
let boss: PgBoss;
let keys: TestKeys;
let fake: FakeOpenAI;
let worker: SumdaProcess | undefined;

let proxy: PgProxy;

beforeAll(async () => {
  keys = testKeys();
  fake = await startFakeOpenAI();
  boss = createBoss(database.url);
  await boss.start();
  proxy = await startProxy(new URL(database.url));
});

afterEach(async () => {
  await worker?.kill();
  worker = undefined;
  proxy.restore();
});

afterAll(async () => {
  await worker?.kill();
  await boss?.stop({ graceful: false, close: true });
  await proxy?.close();
  await fake?.close();
});

async function startWorker(env: Record<string, string>, extra: string[] = []) {
  worker = startSumda(['worker', '--metrics-port', '0', '--poll-interval', '200ms', ...extra], {
    env: {
      DATABASE_URL: proxy.url(database.url),
      SUMDA_ENCRYPTION_KEYS: keys.env,
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  const line = await worker.waitForLine(hasMsg('metrics and probes listening'), 60_000);
  const port = (JSON.parse(line) as { port: number }).port;
  return `http://127.0.0.1:${port}`;
}

async function get(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

function family(families: Family[], name: string): Family {
  const f = families.find((x) => x.name === name);
  if (!f) throw new Error(`no metric ${name}`);
  return f;
}

function sampleValue(
  families: Family[],
  name: string,
  labels: Record<string, string>,
  sample = name,
): number {
  const found = family(families, name).samples.find(
    (m) => m.name === sample && Object.entries(labels).every(([k, v]) => m.labels[k] === v),
  );
  return found?.value ?? Number.NaN;
}

async function enqueue(n: number): Promise<void> {
  const userId = await createUser(database.db);
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(await writeDiary(database.db, keys.keyring, userId, `비가 와서 ${i + 1}시간 동안 책을 읽었다.`));
  }
  await enqueueAnalyses(boss, ids, await activePrompt(new PolicyResolver(database.db)));
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

// Subprocess workers on a shared 2-core machine: generous bounds (none of them is a timing assertion).
describe('worker --metrics-port', { timeout: 120_000 }, () => {
  it('serves metrics that parse, count jobs, model calls and slip decisions, and carry no ids', async () => {
    await enqueue(6);
    const base = await startWorker({ SUMDA_ANALYZER: 'local' }, ['--queues', 'analysis.run,slip.check']);
    let families: Family[] = [];
    await waitUntil(
      async () => {
        families = parsePrometheus((await get(`${base}/metrics`)).body);
        return (
          sampleValue(families, 'sumda_jobs_completed_total', { queue: 'analysis.run' }) >= 6 &&
          sampleValue(families, 'sumda_jobs_completed_total', { queue: 'slip.check' }) >= 6
        );
      },
      { what: 'six analyses and six slip checks', timeoutMs: 60_000 },
    );
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);

    expect(family(families, 'sumda_jobs_completed_total').type).toBe('counter');
    expect(sampleValue(families, 'sumda_jobs_retried_total', { queue: 'analysis.run' })).toBe(0);
    expect(sampleValue(families, 'sumda_jobs_in_flight', { queue: 'analysis.run' })).toBe(0);
    expect(family(families, 'sumda_job_duration_seconds').type).toBe('histogram');
    const durations = { queue: 'analysis.run', status: 'completed' };
    expect(
      sampleValue(families, 'sumda_job_duration_seconds', durations, 'sumda_job_duration_seconds_count'),
    ).toBe(6);
    expect(
      sampleValue(
        families,
        'sumda_job_duration_seconds',
        { ...durations, le: '+Inf' },
        'sumda_job_duration_seconds_bucket',
      ),
    ).toBe(6);
    expect(
      sampleValue(families, 'sumda_model_calls_total', { model: 'sumda-offline-1.0.0', outcome: 'ok' }),
    ).toBe(6);
    expect(
      sampleValue(families, 'sumda_model_tokens_total', { model: 'sumda-offline-1.0.0', kind: 'input' }),
    ).toBeGreaterThanOrEqual(0);
    const decisions = family(families, 'sumda_slip_decisions_total').samples;
    expect(decisions.reduce((n, m) => n + m.value, 0)).toBe(6);
    for (const m of decisions) expect(['normal', 'warning', 'slipped']).toContain(m.labels.decision);
    // Queue depth and dead letters exist for every queue of the catalog, from pg-boss's counters.
    const depth = family(families, 'sumda_queue_jobs').samples;
    expect(depth.some((m) => m.labels.queue === 'analysis.run' && m.labels.state === 'ready')).toBe(true);
    expect(family(families, 'sumda_dead_letters').samples.map((m) => m.labels.queue)).toContain('slip.check');
    // Default process metrics.
    expect(family(families, 'process_resident_memory_bytes').samples).toHaveLength(1);
    expect(sampleValue(families, 'sumda_worker_ready', {})).toBe(1);
    // No label anywhere carries an id.
    for (const f of families) {
      for (const m of f.samples) {
        for (const v of Object.values(m.labels ?? {})) expect(v).not.toMatch(UUID);
      }
    }
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200 });
    const ready = await get(`${base}/readyz`);
    expect(ready.status, ready.body).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({
      status: 'ready',
      checks: { database: { ok: true }, schema: { ok: true }, accepting: { ok: true } },
    });
    expect((await get(`${base}/nothing`)).status).toBe(404);
  });

  it('readiness fails while the database is unreachable and recovers when it is back; liveness stays up', async () => {
    const base = await startWorker({ SUMDA_ANALYZER: 'local' }, ['--queues', 'slip.check']);
    await worker!.waitForLine(hasMsg('worker started'));
    expect((await get(`${base}/readyz`)).status).toBe(200);
    proxy.cut();
    let body = '';
    await waitUntil(
      async () => {
        const r = await get(`${base}/readyz`);
        body = r.body;
        return r.status === 503;
      },
      { what: 'readiness to fail' },
    );
    expect(JSON.parse(body)).toMatchObject({
      status: 'not ready',
      checks: { database: { ok: false }, accepting: { ok: true } },
    });
    expect((await get(`${base}/healthz`)).status).toBe(200);
    proxy.restore();
    await waitUntil(async () => (await get(`${base}/readyz`)).status === 200, {
      what: 'readiness to come back',
      timeoutMs: 30_000,
    });
  });

  it('readiness fails while the worker drains after SIGTERM; liveness stays up', async () => {
    fake.responder = () => ({ kind: 'hang' });
    await enqueue(1);
    const base = await startWorker(
      { SUMDA_ANALYZER: 'openai', OPENAI_API_KEY: 'test', OPENAI_BASE_URL: fake.url },
      ['--queues', 'analysis.run', '--drain-timeout', '60s'],
    );
    await waitUntil(() => fake.chatRequests().length >= 1, { what: 'a call in flight' });
    expect((await get(`${base}/readyz`)).status).toBe(200);
    worker!.send('SIGTERM');
    await worker!.waitForLine(hasMsg('stopping: no new jobs; waiting for in-flight jobs'));
    const ready = await get(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({
      checks: { database: { ok: true }, accepting: { ok: false, detail: 'draining' } },
    });
    expect((await get(`${base}/healthz`)).status).toBe(200);
    const draining = parsePrometheus((await get(`${base}/metrics`)).body);
    expect(sampleValue(draining, 'sumda_jobs_in_flight', { queue: 'analysis.run' })).toBe(1);
    expect(sampleValue(draining, 'sumda_worker_ready', {})).toBe(0);
  });
});
