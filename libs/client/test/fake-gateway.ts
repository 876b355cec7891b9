import type { JoinResult } from '@strata/client';
import type { ErrorCode } from '@strata/protocol';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface Frame {
  id: number;
  method: string;
  data: Record<string, unknown>;
}

export class GatewayError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type Handler = (data: Record<string, unknown>, conn: WebSocket) => unknown;

/**
 * A scripted stand-in for the signaling gateway, speaking the real frame format over a real
 * `ws` server, so the client's matching, timeouts and reconnects are exercised on a socket.
 */
export class FakeGateway {
  readonly frames: (Frame & { conn: number })[] = [];
  readonly connections: WebSocket[] = [];
  /** Responses sent, in order, with the connection they went to. */
  readonly answers: { id: number; method: string; ok: boolean; conn: number; at: number }[] = [];
  readonly handlers = new Map<string, Handler>();
  /** Delay before answering, per method (ms); `Infinity` never answers. */
  readonly delays = new Map<string, number>();
  #wss: WebSocketServer;

  private constructor(wss: WebSocketServer) {
    this.#wss = wss;
    wss.on('connection', (ws) => {
      const connIndex = this.connections.push(ws) - 1;
      ws.on('message', (raw) => {
        const frame = JSON.parse(raw.toString()) as Frame;
        this.frames.push({ ...frame, conn: connIndex });
        const reply = async () => {
          const delay = this.delays.get(frame.method) ?? 0;
          if (delay === Infinity) return;
          if (delay) await new Promise((r) => setTimeout(r, delay));
          const handler = this.handlers.get(frame.method);
          try {
            if (!handler) throw new GatewayError('UNKNOWN_METHOD', `unknown method ${frame.method}`);
            const data = await handler(frame.data ?? {}, ws);
            ws.send(JSON.stringify({ id: frame.id, ok: true, data: data ?? {} }));
            this.answers.push({ id: frame.id, method: frame.method, ok: true, conn: connIndex, at: Date.now() });
          } catch (err) {
            const e = err instanceof GatewayError ? err : new GatewayError('INTERNAL', String(err));
            ws.send(JSON.stringify({ id: frame.id, ok: false, error: { code: e.code, message: e.message } }));
            this.answers.push({ id: frame.id, method: frame.method, ok: false, conn: connIndex, at: Date.now() });
          }
        };
        void reply();
      });
    });
  }

  static async start(): Promise<FakeGateway> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/rtc' });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    return new FakeGateway(wss);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#wss.address() as AddressInfo).port}/rtc`;
  }

  get current(): WebSocket | undefined {
    return this.connections.at(-1);
  }

  notify(notification: string, data: unknown, conn = this.current): void {
    conn?.send(JSON.stringify({ notification, data }));
  }

  methods(): string[] {
    return this.frames.map((f) => f.method);
  }

  async stop(): Promise<void> {
    for (const c of this.#wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }
}

export function joinResponse(over: Partial<JoinResult> = {}): JoinResult {
  return {
    peerId: 'p1',
    roomId: 'room1',
    region: 'test',
    resumeToken: 'resume-1',
    resumeGraceMs: 3000,
    rtpCapabilities: { codecs: [], headerExtensions: [] },
    peers: [],
    iceServers: [],
    grants: { publish: true, subscribe: true, record: false, admin: false },
    ...over,
  };
}

export async function waitUntil(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
