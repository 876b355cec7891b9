import { isValidId, StrataError, type ErrorCode } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Recordings } from './recordings.js';

const STATUS: Partial<Record<ErrorCode, string>> = {
  BAD_REQUEST: '400 Bad Request',
  INVALID_MESSAGE: '400 Bad Request',
  UNAUTHORIZED: '401 Unauthorized',
  FORBIDDEN: '403 Forbidden',
  NOT_FOUND: '404 Not Found',
  CONFLICT: '409 Conflict',
  CAPACITY: '503 Service Unavailable',
  UNAVAILABLE: '503 Service Unavailable',
  TIMEOUT: '504 Gateway Timeout',
};

function json(res: HttpResponse, status: string, body: unknown): void {
  res.cork(() => {
    res.writeStatus(status).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store').end(JSON.stringify(body));
  });
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * The operator's HTTP API (recordings), behind `Authorization: Bearer <SIGNALING_ADMIN_SECRET>`.
 * Errors are the WebSocket protocol's codes with the matching HTTP status. With no secret
 * configured the routes answer 404: an API nobody can authenticate to is off.
 */
export function mountAdminRoutes(app: TemplatedApp, deps: { secret: string; recordings: Recordings; log: Logger }): void {
  const expected = digest(`Bearer ${deps.secret}`);
  const authorized = (req: HttpRequest): boolean => deps.secret !== '' && timingSafeEqual(digest(req.getHeader('authorization')), expected);

  /** Reads what it needs of `req` now (uWS forbids touching it after the handler returns), then answers from `run`. */
  const route = (run: (params: string[], query: URLSearchParams) => Promise<unknown>, paramCount: number) => (res: HttpResponse, req: HttpRequest) => {
    if (deps.secret === '')
      return json(res, '404 Not Found', { error: { code: 'NOT_FOUND', message: 'the admin API is off (SIGNALING_ADMIN_SECRET is empty)' } });
    if (!authorized(req)) {
      deps.log.warn({ url: req.getUrl() }, 'admin API: refused a request without the right bearer secret');
      return json(res, '401 Unauthorized', { error: { code: 'UNAUTHORIZED', message: 'Authorization: Bearer <admin secret> required' } });
    }
    const params = Array.from({ length: paramCount }, (_, i) => req.getParameter(i) ?? '');
    const query = new URLSearchParams(req.getQuery() ?? '');
    let aborted = false;
    res.onAborted(() => (aborted = true));
    // Through a promise even when `run` throws at once (a bad id): nothing thrown here may reach uWS.
    Promise.resolve()
      .then(() => run(params, query))
      .then(
        (body) => !aborted && json(res, '200 OK', body),
        (err: unknown) => {
          const se = StrataError.from(err);
          if (se.code === 'INTERNAL') deps.log.error({ err }, 'admin API request failed');
          if (!aborted) json(res, STATUS[se.code] ?? '500 Internal Server Error', { error: se.toBody() });
        },
      );
  };
  const id = (value: string, what: string): string => {
    if (!isValidId(value)) throw new StrataError('INVALID_MESSAGE', `${what} must be 1-64 characters of A-Z a-z 0-9 _ -`);
    return value;
  };

  app.post(
    '/api/rooms/:roomId/recordings',
    route(([roomId]) => deps.recordings.start(id(roomId ?? '', 'roomId'), 'admin'), 1),
  );
  app.get(
    '/api/recordings',
    route(async (_p, q) => {
      const roomId = q.get('roomId');
      return { recordings: await deps.recordings.list(roomId ? id(roomId, 'roomId') : undefined) };
    }, 0),
  );
  app.get(
    '/api/recordings/:recordingId',
    route(([recordingId]) => deps.recordings.get(id(recordingId ?? '', 'recordingId')), 1),
  );
  app.post(
    '/api/recordings/:recordingId/stop',
    route(([recordingId]) => deps.recordings.stop(id(recordingId ?? '', 'recordingId')), 1),
  );
}
