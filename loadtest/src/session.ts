/**
 * A signaling-only virtual user's session: `@strata/client`'s SignalingClient (the SDK's own
 * signaling layer, with its reconnect and resume) over npm `ws`, with every request timed into
 * the runner's built-in metrics. It does the real flow: token, join, transports, produce /
 * consume, leave. Without a WebRTC stack behind it, produce sends fixed RTP parameters and
 * transports are never ICE-connected: the gateway and the media node do all their work
 * (routers, transports, producers, consumers) and no media flows — media VUs do that.
 */
import type { MintOptions } from '@strata/auth';
import { SignalingClient, type AppMethod, type JoinResult } from '@strata/client';
import type { WsRequest, WsResponse } from '@strata/protocol';
import WebSocket from 'ws';
import { builtin } from './metrics.js';

export interface Target {
  /** ws://host:port/rtc of the gateway. */
  wsUrl: string;
  region: string;
  /** Signs a join token with the gateway's secret (HS256), as an application backend would. */
  mintToken(opts: MintOptions): Promise<string>;
  natsUrl?: string | undefined;
  natsMonitorUrl?: string | undefined;
}

export interface SessionOptions {
  /** Default 10 s per request. */
  requestTimeoutMs?: number;
  /** Resume after a dropped socket (SignalingClient's own logic). Default on. */
  reconnect?: boolean;
  /** Another gateway than the target's (a baseline, say). */
  url?: string;
}

/** RTP parameters a browser's Opus / VP8 sender would announce, enough for the media node to create a producer. */
function fakeRtpParameters(kind: 'audio' | 'video', ssrc: number): WsRequest<'produce'>['rtpParameters'] {
  return kind === 'audio'
    ? {
        codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 }, rtcpFeedback: [] }],
        encodings: [{ ssrc }],
        rtcp: { cname: `lt-${ssrc}` },
      }
    : {
        codecs: [{ mimeType: 'video/VP8', payloadType: 96, clockRate: 90000, parameters: {}, rtcpFeedback: [{ type: 'nack' }] }],
        encodings: [{ ssrc }],
        rtcp: { cname: `lt-${ssrc}` },
      };
}

export class Session {
  readonly client: SignalingClient;
  joined: JoinResult | undefined;
  readonly transports: { send?: string; recv?: string } = {};
  #left = false;

  constructor(
    readonly target: Target,
    opts: SessionOptions = {},
  ) {
    this.client = new SignalingClient({
      url: opts.url ?? target.wsUrl,
      WebSocket,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      reconnect: { enabled: opts.reconnect ?? true, initialDelayMs: 100, maxDelayMs: 2000 },
    });
  }

  /** Socket open + `join` with a freshly minted token. Records ws_connecting and ws_sessions. */
  async join(opts: MintOptions | { token: string; name?: string }): Promise<JoinResult> {
    const token = 'token' in opts ? opts.token : await this.target.mintToken(opts);
    const t0 = performance.now();
    await this.client.connect();
    builtin.wsConnecting.add(performance.now() - t0);
    builtin.wsSessions.add(1);
    this.joined = await this.timed('join', () => this.client.join({ token, ...(opts.name ? { name: opts.name } : {}) }));
    return this.joined;
  }

  /** A join without a token: for baselines that speak the same frames but check no token. */
  async joinRaw(data: Record<string, unknown>): Promise<void> {
    await this.client.connect();
    builtin.wsSessions.add(1);
    // The baseline's join takes a room name: the typed API wants a token, the wire takes anything.
    await this.timed('join', () => this.client.join(data as unknown as WsRequest<'join'>));
  }

  request<M extends AppMethod>(method: M, data: WsRequest<M>): Promise<WsResponse<M>> {
    return this.timed(method, () => this.client.request(method, data));
  }

  /** Send and receive transports, as a client that publishes and subscribes creates them. */
  async createTransports(): Promise<void> {
    const [send, recv] = await Promise.all([
      this.request('createWebRtcTransport', { direction: 'send' }),
      this.request('createWebRtcTransport', { direction: 'recv' }),
    ]);
    this.transports.send = send.transportId;
    this.transports.recv = recv.transportId;
  }

  async produce(kind: 'audio' | 'video'): Promise<string> {
    if (!this.transports.send) throw new Error('produce before createTransports()');
    const ssrc = 1 + Math.floor(Math.random() * 0xfffffffe);
    const r = await this.request('produce', {
      transportId: this.transports.send,
      kind,
      rtpParameters: fakeRtpParameters(kind, ssrc),
      source: kind === 'audio' ? 'microphone' : 'camera',
    });
    return r.producerId;
  }

  async consume(producerId: string): Promise<string> {
    if (!this.transports.recv || !this.joined) throw new Error('consume before join() and createTransports()');
    const r = await this.request('consume', { transportId: this.transports.recv, producerId, rtpCapabilities: this.joined.rtpCapabilities });
    await this.request('resumeConsumer', { consumerId: r.consumerId });
    return r.consumerId;
  }

  /** `leave`, then the socket closes; safe to call twice or on a session that never joined. */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    try {
      // While reconnecting the request waits for the resume, so the room sees a prompt leave.
      const st = this.client.state;
      if (this.joined && (st === 'connected' || st === 'reconnecting')) await this.request('leave', {});
    } finally {
      this.client.close();
    }
  }

  get left(): boolean {
    return this.#left;
  }

  async timed<T>(method: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    builtin.signalingRequests.add(1, { method });
    try {
      const r = await fn();
      builtin.signalingRequestDuration.add(performance.now() - t0, { method });
      builtin.signalingRequestFailed.add(false, { method });
      return r;
    } catch (err) {
      builtin.signalingRequestFailed.add(true, { method });
      throw err;
    }
  }
}
