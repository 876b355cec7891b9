import type { ErrorCode, WsMethod, WsNotification, WsNotificationData, WsRequest, WsResponse } from '@strata/protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter, type ListenerErrorHandler } from './emitter.js';
import { SignalingError } from './errors.js';
import { WS_OPEN, type WebSocketConstructor, type WebSocketLike } from './socket.js';

/**
 * new → connecting → connected ⇄ reconnecting → closed. `reconnecting` only happens after a
 * successful join (there is a session to resume); a drop before that closes the client.
 */
export type ConnectionState = 'new' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export type NotificationMessage = { [N in WsNotification]: { notification: N; data: WsNotificationData<N> } }[WsNotification];
export type JoinResult = WsResponse<'join'>;
export type ResumeResult = WsResponse<'resume'>;
/** Methods an application calls; join and resume go through join() and the reconnect logic. */
export type AppMethod = Exclude<WsMethod, 'join' | 'resume'>;

export interface SignalingClientOptions {
  /** ws(s)://host:port/rtc */
  url: string;
  /** The browser's `WebSocket` or npm `ws`'s default export. */
  WebSocket: WebSocketConstructor;
  /** Per request, from the call until the response (waiting for a reconnect included). Default 10 s. */
  requestTimeoutMs?: number;
  /** How long one socket may take to open. Default 5 s. */
  connectTimeoutMs?: number;
  /** Reconnect and resume after an unexpected close. Enabled by default. */
  reconnect?: BackoffOptions & { enabled?: boolean };
  /** Where an event listener that throws is reported (emit() carries on); default console.error. */
  onListenerError?: ListenerErrorHandler;
}

export type SignalingClientEvents = {
  state: [state: ConnectionState, previous: ConnectionState];
  notification: [message: NotificationMessage];
  /** The session is back on a new socket; restart ICE with the result's `transports`. */
  resumed: [result: ResumeResult];
  /** The client is closed for good: `error` is unset after close(), set when the session was lost. */
  closed: [error: SignalingError | undefined];
  /** A frame nobody was waiting for (unparseable, or an error whose id the gateway could not read). */
  protocolError: [error: SignalingError];
};

type NotificationEvents = { [N in WsNotification]: [WsNotificationData<N>] };

class NotificationEmitter extends Emitter<NotificationEvents> {
  dispatch(message: NotificationMessage): void {
    // The mapped union loses the name↔data pairing inside emit's signature; it holds by construction.
    (this.emit as (n: WsNotification, d: unknown) => void)(message.notification, message.data);
  }
}

interface Pending {
  method: string;
  resolve(data: unknown): void;
  reject(err: SignalingError): void;
  timer: ReturnType<typeof setTimeout>;
}

/** Resume answers that mean the session cannot come back; anything else is worth another try. */
const FINAL_RESUME_ERRORS: ReadonlySet<ErrorCode> = new Set(['UNAUTHORIZED', 'NOT_FOUND', 'FORBIDDEN', 'INVALID_MESSAGE', 'BAD_REQUEST', 'UNKNOWN_METHOD']);
const MAX_ID = 2 ** 32 - 1;
/**
 * Closes the gateway means: 1000 after `leave`, 1008 for a socket that flooded it, 4001 when
 * the session was resumed on another socket (reconnecting would steal it back).
 */
const NO_RECONNECT_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1008, 4001]);

/**
 * One signaling session over a WebSocket: requests matched to responses by id, typed
 * notifications, and transparent resume after the socket drops.
 */
export class SignalingClient extends Emitter<SignalingClientEvents> {
  readonly url: string;
  readonly #WebSocket: WebSocketConstructor;
  readonly #requestTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #backoff: BackoffOptions;
  #reconnectEnabled: boolean;
  readonly #notifications: NotificationEmitter;

  #state: ConnectionState = 'new';
  #socket: WebSocketLike | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #resumeToken: string | undefined;
  #resumeGraceMs = 0;
  #reconnects = 0;
  #resumeAttempts = 0;

  constructor(opts: SignalingClientOptions) {
    super(opts.onListenerError);
    this.#notifications = new NotificationEmitter(opts.onListenerError);
    this.url = opts.url;
    this.#WebSocket = opts.WebSocket;
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 5_000;
    this.#backoff = opts.reconnect ?? {};
    this.#reconnectEnabled = opts.reconnect?.enabled ?? true;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** How many times the session was resumed on a new socket. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Sockets opened (or tried) to resume the session, successful or not, since the client was created. */
  get resumeAttempts(): number {
    return this.#resumeAttempts;
  }

  get resumeGraceMs(): number {
    return this.#resumeGraceMs;
  }

  async connect(): Promise<void> {
    if (this.#state !== 'new') throw new SignalingError('CONFLICT', `connect() in state ${this.#state}`);
    this.#setState('connecting');
    try {
      await this.#open();
    } catch (err) {
      const e = err instanceof SignalingError ? err : new SignalingError('UNAVAILABLE', String(err));
      this.#finish(e);
      throw e;
    }
    // close() may have run while the socket was opening.
    if (this.state === 'connecting') this.#setState('connected');
  }

  /** The first request on a connection; keeps the resume token for reconnects. */
  async join(data: WsRequest<'join'>): Promise<JoinResult> {
    const res = await this.#request('join', data);
    this.#resumeToken = res.resumeToken;
    this.#resumeGraceMs = res.resumeGraceMs;
    return res;
  }

  request<M extends AppMethod>(method: M, data: WsRequest<M>, opts: { timeoutMs?: number } = {}): Promise<WsResponse<M>> {
    return this.#request(method, data, opts.timeoutMs);
  }

  onNotification<N extends WsNotification>(name: N, listener: (data: WsNotificationData<N>) => void): () => void {
    return this.#notifications.on(name, listener as (...args: NotificationEvents[N]) => void);
  }

  /** Closes for good, without sending `leave` (RoomClient.leave() sends it first). */
  close(): void {
    this.#finish(undefined);
  }

  /**
   * Kills the socket the way a network failure would: no closing handshake, no `leave`.
   * With `reconnect: false` the client then gives up instead of resuming, so the gateway's
   * grace period runs out.
   */
  dropConnectionForTest(opts: { reconnect?: boolean } = {}): void {
    if (opts.reconnect === false) this.#reconnectEnabled = false;
    const sock = this.#socket;
    if (!sock) return;
    if (sock.terminate) sock.terminate();
    else sock.close(4000, 'test drop');
  }

  async #request<M extends WsMethod>(method: M, data: WsRequest<M>, timeoutMs = this.#requestTimeoutMs): Promise<WsResponse<M>> {
    const deadline = Date.now() + timeoutMs;
    if (this.#state === 'connecting' || this.#state === 'reconnecting') await this.#whenConnected(deadline, method);
    const sock = this.#socket;
    if (this.#state !== 'connected' || !sock) throw new SignalingError('UNAVAILABLE', `not connected (${this.#state})`, method);
    // The gateway closes the socket after answering `leave`; that close is not a drop.
    if (method === 'leave') this.#reconnectEnabled = false;
    // The gateway validates what it sends against the same schemas; re-validating here would
    // pull the schema library into the browser bundle.
    return (await this.#send(sock, method, data, Math.max(1, deadline - Date.now()))) as WsResponse<M>;
  }

  #send(sock: WebSocketLike, method: WsMethod, data: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId;
    this.#nextId = this.#nextId >= MAX_ID ? 1 : this.#nextId + 1;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SignalingError('TIMEOUT', `no response within ${timeoutMs} ms`, method));
      }, timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
      try {
        sock.send(JSON.stringify({ id, method, data }));
      } catch (err) {
        this.#settle(id)?.reject(new SignalingError('UNAVAILABLE', `send failed: ${String(err)}`, method));
      }
    });
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p) return undefined;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    return p;
  }

  #rejectAll(err: (method: string) => SignalingError): void {
    for (const id of [...this.#pending.keys()]) {
      const p = this.#settle(id);
      p?.reject(err(p.method));
    }
  }

  #whenConnected(deadline: number, method: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          off();
          reject(new SignalingError('TIMEOUT', `still ${this.#state} after waiting`, method));
        },
        Math.max(0, deadline - Date.now()),
      );
      const off = this.on('state', (state) => {
        if (state === 'connected') resolve();
        else if (state === 'closed') reject(new SignalingError('UNAVAILABLE', 'client closed', method));
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  /** Opens a socket and makes it the current one; rejects if it does not open within `timeoutMs`. */
  #open(timeoutMs = this.#connectTimeoutMs): Promise<WebSocketLike> {
    return new Promise((resolve, reject) => {
      let opened = false;
      let sock: WebSocketLike;
      try {
        sock = new this.#WebSocket(this.url);
      } catch (err) {
        reject(new SignalingError('UNAVAILABLE', `cannot open ${this.url}: ${String(err)}`));
        return;
      }
      this.#socket = sock;
      const timer = setTimeout(() => {
        if (opened) return;
        this.#socket = this.#socket === sock ? undefined : this.#socket;
        sock.terminate ? sock.terminate() : sock.close();
        reject(new SignalingError('TIMEOUT', `${this.url} did not open within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.addEventListener('open', () => {
        clearTimeout(timer);
        if (this.#socket !== sock || this.#state === 'closed') {
          sock.close(1000);
          reject(new SignalingError('UNAVAILABLE', 'client closed'));
          return;
        }
        opened = true;
        resolve(sock);
      });
      sock.addEventListener('message', (ev) => {
        if (sock === this.#socket) this.#onMessage(ev.data);
      });
      // Errors always come with (or before) a close event, which is where we act.
      sock.addEventListener('error', () => undefined);
      sock.addEventListener('close', (ev) => {
        clearTimeout(timer);
        if (!opened) {
          if (this.#socket === sock) this.#socket = undefined;
          reject(new SignalingError('UNAVAILABLE', `${this.url} closed before opening (${ev.code})`));
          return;
        }
        if (this.#socket !== sock) return;
        this.#socket = undefined;
        this.#onDropped(ev.code, ev.reason);
      });
    });
  }

  #onMessage(raw: unknown): void {
    if (typeof raw !== 'string') {
      this.emit('protocolError', new SignalingError('BAD_REQUEST', 'binary frame from the gateway'));
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(raw);
    } catch {
      this.emit('protocolError', new SignalingError('BAD_REQUEST', `unparseable frame: ${raw.slice(0, 200)}`));
      return;
    }
    if (typeof frame !== 'object' || frame === null) return;
    const f = frame as { id?: unknown; ok?: unknown; data?: unknown; error?: { code?: ErrorCode; message?: string }; notification?: unknown };
    if (typeof f.notification === 'string') {
      const message = { notification: f.notification, data: f.data } as NotificationMessage;
      this.emit('notification', message);
      this.#notifications.dispatch(message);
      return;
    }
    const error = new SignalingError(f.error?.code ?? 'INTERNAL', f.error?.message ?? 'request failed');
    if (typeof f.id !== 'number') {
      if (f.ok === false) this.emit('protocolError', error);
      return;
    }
    const p = this.#settle(f.id);
    if (!p) return; // answered after its timeout
    if (f.ok === true) p.resolve(f.data ?? {});
    else p.reject(new SignalingError(error.code, f.error?.message ?? 'request failed', p.method));
  }

  #onDropped(code: number, reason: string): void {
    // The gateway may or may not have executed these; the caller decides whether to retry.
    this.#rejectAll((m) => new SignalingError('UNAVAILABLE', `connection lost (${code}${reason ? ` ${reason}` : ''})`, m));
    if (this.#state === 'closed' || this.#state === 'reconnecting') return; // the reconnect loop owns it
    if (this.#reconnectEnabled && this.#resumeToken && !NO_RECONNECT_CLOSE_CODES.has(code)) {
      void this.#reconnectLoop();
      return;
    }
    this.#finish(new SignalingError('UNAVAILABLE', `connection closed (${code}${reason ? ` ${reason}` : ''})`));
  }

  async #reconnectLoop(): Promise<void> {
    this.#setState('reconnecting');
    // After the grace period the gateway has removed the session: no point trying longer, so
    // every step of an attempt (backoff, socket open, resume answer) is bounded by what is left.
    const graceMs = this.#resumeGraceMs;
    const deadline = Date.now() + graceMs;
    const lost = (): void => this.#finish(new SignalingError('TIMEOUT', `session lost: not resumed within the ${graceMs} ms grace period`));
    for (let attempt = 0; ; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(backoffDelay(attempt, this.#backoff), Math.max(0, deadline - Date.now()))));
      if (this.#state !== 'reconnecting') return;
      if (!this.#reconnectEnabled) return this.#finish(new SignalingError('UNAVAILABLE', 'connection lost; reconnect disabled'));
      if (deadline - Date.now() <= 0) return lost();
      this.#resumeAttempts++;
      let sock: WebSocketLike;
      try {
        sock = await this.#open(Math.min(this.#connectTimeoutMs, deadline - Date.now()));
      } catch {
        continue;
      }
      if (this.#state !== 'reconnecting') return;
      const left = deadline - Date.now();
      try {
        if (left <= 0) throw new SignalingError('TIMEOUT', 'grace period over', 'resume');
        const res = (await this.#send(sock, 'resume', { resumeToken: this.#resumeToken }, Math.min(this.#requestTimeoutMs, left))) as ResumeResult;
        this.#resumeToken = res.resumeToken;
        this.#resumeGraceMs = res.resumeGraceMs;
        this.#reconnects++;
        this.#setState('connected');
        this.emit('resumed', res);
        return;
      } catch (err) {
        if (err instanceof SignalingError && FINAL_RESUME_ERRORS.has(err.code)) return this.#finish(err);
        if (this.#socket === sock) {
          this.#socket = undefined;
          sock.close(1000);
        }
      }
    }
  }

  #finish(error: SignalingError | undefined): void {
    if (this.#state === 'closed') return;
    this.#setState('closed');
    this.#rejectAll((m) => new SignalingError('UNAVAILABLE', error ? error.message : 'client closed', m));
    const sock = this.#socket;
    this.#socket = undefined;
    if (sock && sock.readyState <= WS_OPEN) sock.close(1000, 'bye');
    this.emit('closed', error);
  }

  #setState(state: ConnectionState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.emit('state', state, previous);
  }
}
