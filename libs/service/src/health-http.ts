import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsResponse } from './metrics.js';

export interface HealthHttp {
  port: number;
  close(): Promise<void>;
}

/**
 * `GET /healthz` → 200 with the report, or 503 while degraded or draining; `GET /metrics` → the
 * Prometheus text from `metrics` (when given).
 */
export async function startHealthHttp(
  host: string,
  port: number,
  report: () => Promise<{ status: string }>,
  metrics?: () => MetricsResponse,
): Promise<HealthHttp> {
  const routes = metrics ? 'GET /healthz and GET /metrics' : 'GET /healthz';
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics' && metrics) {
      const m = metrics();
      res.writeHead(m.status, { 'content-type': m.contentType, 'cache-control': 'no-store' }).end(m.body);
      return;
    }
    if (req.method !== 'GET' || path !== '/healthz') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `only ${routes} here` } }));
      return;
    }
    report().then(
      (r) => res.writeHead(r.status === 'ok' ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(r)),
      (err: unknown) => res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'degraded', error: String(err) })),
    );
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
