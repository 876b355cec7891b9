import {
  MAX_FRAME_HARD_BYTES,
  RequestFrame,
  StrataError,
  check,
  jsonBoundsProblem,
  wsMethods,
  type ErrorCode,
  type ResponseFrame,
  type WsMethod,
  type WsRequest,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { TemplatedApp, WebSocket } from '@trufflesuite/uws-js-unofficial';
import { PeerSession, type SocketLink } from './peer-session.js';
import { RateLimiter } from './rate-limiter.js';
import type { SessionManager } from './session-manager.js';

export interface GatewayLimits {
  maxFrameBytes: number;
  ratePerSec: number;
  burst: number;
  idleTimeoutMs: number;
}

interface SocketData {
  id: number;
  ip: string;
  limiter: RateLimiter;
  session: PeerSession | undefined;
  /** Requests of one socket run one after another, in order, like a client expects. */
  queue: Promise<void>;
  pending: number;
  closed: boolean;
  /** Frames waiting for this tick's flush (see `send`). */
  outbox: string[];
}

const MAX_PENDING = 32;
// ignoreBOM keeps a leading U+FEFF in the text (the default strips it silently), so it can be refused.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The WebSocket endpoint `/rtc`: reads frames, refuses what is malformed, oversized, unknown or
 * too frequent with an error frame, and hands valid requests to the session layer.
 */
export class WsGateway {
  private nextId = 1;
  private sockets = 0;
  private readonly open = new Set<WebSocket<SocketData>>();

  constructor(
    private readonly sessions: SessionManager,
    private readonly limits: GatewayLimits,
    private readonly log: Logger,
  ) {}

  get socketCount(): number {
    return this.sockets;
  }

  mount(app: TemplatedApp): void {
    app.ws<SocketData>('/rtc', {
      // Past the hard limit uWS drops the connection without reading the frame; between the soft and hard limits we answer TOO_LARGE.
      maxPayloadLength: Math.max(MAX_FRAME_HARD_BYTES, this.limits.maxFrameBytes * 16),
      idleTimeout: this.limits.idleTimeoutMs / 1000,
      sendPingsAutomatically: true,
      maxBackpressure: 4 * 1024 * 1024,
      closeOnBackpressureLimit: 1,
      upgrade: (res, req, context) => {
        const ip = Buffer.from(res.getRemoteAddressAsText()).toString();
        const data: SocketData = {
          id: this.nextId++,
          ip,
          limiter: new RateLimiter(this.limits.ratePerSec, this.limits.burst),
          session: undefined,
          queue: Promise.resolve(),
          pending: 0,
          closed: false,
          outbox: [],
        };
        res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
      },
      open: (ws) => {
        this.sockets++;
        this.open.add(ws);
      },
      message: (ws, message, isBinary) => this.onMessage(ws, message, isBinary),
      close: (ws, code) => {
        this.sockets--;
        this.open.delete(ws);
        const d = ws.getUserData();
        d.closed = true;
        d.outbox = [];
        this.dirty.delete(ws); // uWS forbids touching a closed socket, even to flush it
        if (d.session && d.session.socket && this.linkOf.get(d.session.socket) === ws) this.sessions.socketLost(d.session);
        this.log.debug({ socket: d.id, code, peerId: d.session?.peerId }, 'socket closed');
      },
    });
  }

  private readonly linkOf = new WeakMap<SocketLink, WebSocket<SocketData>>();

  private readonly dirty = new Map<WebSocket<SocketData>, SocketData>();
  private flushScheduled = false;

  /**
   * Frames are queued per socket and written once per event-loop turn, corked: a socket that
   * gets several frames in one turn (a join storm's peerJoined fan-out, a response with its
   * notifications) costs one write instead of one per frame. Order is kept.
   */
  private send(ws: WebSocket<SocketData>, frame: ResponseFrame | { notification: string; data: unknown }): void {
    const d = ws.getUserData();
    if (d.closed) return;
    d.outbox.push(JSON.stringify(frame));
    this.dirty.set(ws, d);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushAll());
    }
  }

  private flushAll(): void {
    this.flushScheduled = false;
    for (const [ws, d] of this.dirty) this.flush(ws, d);
    this.dirty.clear();
  }

  private flush(ws: WebSocket<SocketData>, d: SocketData): void {
    if (d.outbox.length === 0 || d.closed) return void (d.outbox = []);
    const frames = d.outbox;
    d.outbox = [];
    ws.cork(() => {
      for (const f of frames) ws.send(f, false);
    });
  }

  /** Closes with a close frame, after whatever was queued for the socket. */
  private end(ws: WebSocket<SocketData>, code: number, reason: string): void {
    const d = ws.getUserData();
    if (d.closed) return;
    this.flush(ws, d);
    this.dirty.delete(ws);
    d.closed = true;
    ws.end(code, reason);
  }

  private fail(ws: WebSocket<SocketData>, id: number | null, code: ErrorCode, message: string): void {
    const d = ws.getUserData();
    this.log.warn({ socket: d.id, ip: d.ip, peerId: d.session?.peerId, roomId: d.session?.roomId, requestId: id, code }, message);
    this.send(ws, { id, ok: false, error: { code, message } });
  }

  private onMessage(ws: WebSocket<SocketData>, message: ArrayBuffer, isBinary: boolean): void {
    const d = ws.getUserData();
    if (!d.limiter.take()) {
      if (d.limiter.refused > this.limits.burst * 2) {
        this.log.warn({ socket: d.id, ip: d.ip, peerId: d.session?.peerId }, 'closing a flooding socket');
        this.end(ws, 1008, 'rate limit exceeded');
        return;
      }
      return this.fail(ws, null, 'RATE_LIMITED', `more than ${this.limits.ratePerSec} requests per second`);
    }
    if (isBinary) return this.fail(ws, null, 'BAD_REQUEST', 'binary frames are not part of the protocol');
    if (message.byteLength > this.limits.maxFrameBytes)
      return this.fail(ws, null, 'TOO_LARGE', `frame of ${message.byteLength} bytes exceeds ${this.limits.maxFrameBytes}`);

    // RFC 8259 §8.1: JSON text sent over a network must not start with a byte order mark.
    const bytes = new Uint8Array(message, 0, Math.min(3, message.byteLength));
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return this.fail(ws, null, 'BAD_REQUEST', 'frame starts with a byte order mark');
    let parsed: unknown;
    try {
      parsed = JSON.parse(decoder.decode(message));
    } catch {
      return this.fail(ws, null, 'BAD_REQUEST', 'frame is not valid UTF-8 JSON');
    }
    const maybeId = typeof (parsed as { id?: unknown } | null)?.id === 'number' ? (parsed as { id: number }).id : null;
    // Before anything that recurses (schema checks, JSON.stringify towards NATS, mediasoup's clone).
    const tooDeep = jsonBoundsProblem(parsed);
    if (tooDeep) return this.fail(ws, maybeId, 'INVALID_MESSAGE', `frame is ${tooDeep}`);
    const frame = check(RequestFrame, parsed);
    if (!frame.ok) return this.fail(ws, maybeId, 'INVALID_MESSAGE', `not a request frame: ${frame.errors.join('; ')}`);
    const { id, method } = frame.value;
    if (!Object.hasOwn(wsMethods, method)) return this.fail(ws, id, 'UNKNOWN_METHOD', `unknown method "${method}"`);
    const m = method as WsMethod;
    const data = check(wsMethods[m].request, frame.value.data ?? {});
    if (!data.ok) return this.fail(ws, id, 'INVALID_MESSAGE', `${m}: ${data.errors.join('; ')}`);
    if (d.pending >= MAX_PENDING) return this.fail(ws, id, 'RATE_LIMITED', `more than ${MAX_PENDING} requests in flight`);

    d.pending++;
    d.queue = d.queue
      .then(() => this.dispatch(ws, m, data.value as WsRequest<WsMethod>))
      .then(
        (result) => {
          const out = check(wsMethods[m].response, result);
          if (!out.ok) {
            this.log.error({ method: m, errors: out.errors }, 'invalid response produced');
            return this.fail(ws, id, 'INTERNAL', `${m}: invalid response`);
          }
          this.send(ws, { id, ok: true, data: result });
          // Only a leave that succeeded ends the socket (after its answer): an error answer never closes it.
          if (m === 'leave') this.end(ws, 1000, 'left');
        },
        (err: unknown) => {
          const e = StrataError.from(err);
          if (e.code === 'INTERNAL') this.log.error({ err, method: m }, 'request failed');
          this.fail(ws, id, e.code, e.message);
        },
      )
      .finally(() => {
        d.pending--;
      });
  }

  private async dispatch(ws: WebSocket<SocketData>, method: WsMethod, data: WsRequest<WsMethod>): Promise<unknown> {
    const d = ws.getUserData();
    if (d.closed && method !== 'leave') throw new StrataError('UNAVAILABLE', 'socket closed');
    if (method === 'join' || method === 'resume') {
      if (d.session) throw new StrataError('CONFLICT', 'this socket has already joined');
      const link = this.link(ws);
      const { session, response } =
        method === 'join' ? await this.sessions.join(data as WsRequest<'join'>, link) : await this.sessions.resume(data as WsRequest<'resume'>, link);
      d.session = session;
      if (d.closed) this.sessions.socketLost(session); // the socket went away while we were joining
      return response;
    }
    const session = d.session;
    if (!session) throw new StrataError('UNAUTHORIZED', 'join or resume first');
    if (method === 'leave') {
      await this.sessions.leave(session);
      return {};
    }
    if (!PeerSession.isSessionMethod(method)) throw new StrataError('UNKNOWN_METHOD', method);
    return session.handle(method, data as never);
  }

  private link(ws: WebSocket<SocketData>): SocketLink {
    const link: SocketLink = {
      notify: (notification, data) => this.send(ws, { notification, data }),
      close: (code, reason) => {
        const d = ws.getUserData();
        if (d.closed) return;
        // The session moved to another socket: this one closing must not start its grace period.
        d.session = undefined;
        this.end(ws, code, reason);
      },
    };
    this.linkOf.set(link, ws);
    return link;
  }

  /** Shutdown: close every socket with 1001 so clients reconnect (and resume) elsewhere. */
  closeAll(): void {
    for (const ws of [...this.open]) {
      this.end(ws, 1001, 'gateway shutting down');
    }
  }
}
