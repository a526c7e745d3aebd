/**
 * The worker's HTTP endpoints for Prometheus and orchestrators:
 * - `GET /metrics`: the registry in Prometheus text format;
 * - `GET /healthz`: 200 while the process's loop is alive (a timer ticked recently), else 503 —
 *   for a liveness probe: restart a wedged process;
 * - `GET /readyz`: 200 when the database answers, its schema is this build's and the worker is not
 *   draining, else 503 with the failing checks — for a readiness probe and the "no worker ready" alert.
 * Bodies of the probes are small JSON documents naming each check.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

export interface ProbeServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Named checks; ready when every one is ok. Each should bound its own time. */
  readiness: () => Promise<Record<string, ReadinessCheck>>;
  /** Longest quiet period of the liveness timer before /healthz fails. */
  stallMs?: number;
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

const TICK_MS = 1000;

export async function startProbeServer(options: ProbeServerOptions): Promise<ProbeServer> {
  const stallMs = options.stallMs ?? 10_000;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    lastTick = performance.now();
  }, TICK_MS);
  ticker.unref();

  const send = (res: import('node:http').ServerResponse, status: number, type: string, body: string) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const json = (res: import('node:http').ServerResponse, status: number, body: object) =>
    send(res, status, 'application/json', `${JSON.stringify(body)}\n`);

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method not allowed' });
    if (path === '/metrics') {
      options.registry
        .metrics()
        .then((text) => send(res, 200, options.registry.contentType, text))
        .catch((error: unknown) =>
          send(res, 500, 'text/plain', `metrics failed: ${(error as Error).message}\n`),
        );
      return;
    }
    if (path === '/healthz') {
      const quietMs = Math.round(performance.now() - lastTick);
      const ok = quietMs < stallMs;
      return json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'stalled', loopQuietMs: quietMs });
    }
    if (path === '/readyz') {
      options
        .readiness()
        .then((checks) => {
          const ok = Object.values(checks).every((c) => c.ok);
          json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', checks });
        })
        .catch((error: unknown) =>
          json(res, 503, { status: 'not ready', error: (error as Error).message ?? String(error) }),
        );
      return;
    }
    json(res, 404, { error: 'not found', paths: ['/metrics', '/healthz', '/readyz'] });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    async close() {
      clearInterval(ticker);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
