import { mintJoinToken } from '@strata/auth';
import { isValidId } from '@strata/protocol';
import type { HealthReport, MetricsResponse } from '@strata/service';
import type { HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import type { RegionStatus } from './region-status.js';
import type { StaticFile } from './static-files.js';

export interface HttpDeps {
  region: string;
  report: () => Promise<HealthReport>;
  /** The kit's `GET /metrics` answer (ServiceContext.metrics). */
  metrics: () => MetricsResponse;
  status: RegionStatus;
  files: Map<string, StaticFile>;
  /** Set when SIGNALING_DEV_TOKENS is on. */
  devTokens: { secret: string; wsUrl: () => string } | undefined;
}

function json(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(body));
  });
}

function error(res: HttpResponse, status: string, code: string, message: string): void {
  json(res, status, { error: { code, message } });
}

const STATUS_LINE: Record<MetricsResponse['status'], string> = { 200: '200 OK', 500: '500 Internal Server Error' };

/** The gateway's plain HTTP side: health, metrics, region status, dev tokens and the demo page. */
export function mountHttpRoutes(app: TemplatedApp, deps: HttpDeps): void {
  app.get('/healthz', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    deps.report().then(
      (r) => !aborted && json(res, r.status === 'ok' ? '200 OK' : '503 Service Unavailable', r),
      (err: unknown) => !aborted && json(res, '503 Service Unavailable', { status: 'degraded', error: String(err) }),
    );
  });

  app.get('/metrics', (res) => {
    const m = deps.metrics();
    res.cork(() => {
      res.writeStatus(STATUS_LINE[m.status]).writeHeader('content-type', m.contentType).writeHeader('cache-control', 'no-store').end(m.body);
    });
  });

  app.get('/api/region', (res) => json(res, '200 OK', { region: deps.region, services: deps.status.live() }));

  app.get('/dev/token', (res, req) => {
    const dev = deps.devTokens;
    if (!dev) return error(res, '404 Not Found', 'NOT_FOUND', 'dev tokens are disabled (SIGNALING_DEV_TOKENS=false)');
    const q = new URLSearchParams(req.getQuery() ?? '');
    const room = q.get('room') ?? '';
    const identity = q.get('identity') || `guest-${Math.random().toString(36).slice(2, 8)}`;
    const name = q.get('name') ?? undefined;
    if (!isValidId(room)) return error(res, '400 Bad Request', 'INVALID_MESSAGE', 'room must be 1-64 characters of A-Z a-z 0-9 _ -');
    if (identity.length > 128 || (name !== undefined && name.length > 128))
      return error(res, '400 Bad Request', 'INVALID_MESSAGE', 'identity and name are at most 128 characters');
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void mintJoinToken(dev.secret, { room, identity, ...(name ? { name } : {}) }).then(
      (token) => !aborted && json(res, '200 OK', { token, wsUrl: dev.wsUrl(), identity }),
    );
  });

  app.get('/*', (res, req) => {
    const path = req.getUrl() === '/' ? '/index.html' : req.getUrl();
    const file = deps.files.get(path);
    if (!file) return error(res, '404 Not Found', 'NOT_FOUND', `no ${path} here`);
    res.cork(() => {
      res.writeHeader('content-type', file.type).end(file.body);
    });
  });

  app.any('/*', (res) => error(res, '405 Method Not Allowed', 'BAD_REQUEST', 'method not allowed'));
}
