import type { ErrorBody } from '@strata/protocol';
import WebSocket from 'ws';

export interface RawResponse {
  id: number | null;
  ok: boolean;
  data?: Record<string, unknown>;
  error?: ErrorBody;
}

/**
 * A bare WebSocket speaking the gateway's frames by hand, for protocol and bad-input tests
 * (the real client library would refuse to send most of what these tests send).
 */
export class RawSocket {
  readonly responses: RawResponse[] = [];
  readonly notifications: { notification: string; data: Record<string, unknown> }[] = [];
  closed: { code: number; reason: string } | undefined;
  private nextId = 1;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (buf: Buffer) => {
      const frame = JSON.parse(buf.toString()) as RawResponse & { notification?: string; data: Record<string, unknown> };
      if (frame.notification) this.notifications.push({ notification: frame.notification, data: frame.data });
      else this.responses.push(frame);
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(url: string): Promise<RawSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new RawSocket(ws)));
      ws.once('error', reject);
    });
  }

  /** Waits until `pick` finds something, or `timeoutMs` passes. */
  async waitFor<T>(pick: () => T | undefined, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (Date.now() > deadline || this.closed) throw new Error(`timed out (closed: ${JSON.stringify(this.closed)})`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  async request(method: string, data: Record<string, unknown> = {}): Promise<RawResponse> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ id, method, data }));
    return this.waitFor(() => this.responses.find((r) => r.id === id), 10_000);
  }

  notification(name: string, match: (d: Record<string, unknown>) => boolean = () => true, timeoutMs = 5000) {
    return this.waitFor(() => this.notifications.find((n) => n.notification === name && match(n.data)), timeoutMs);
  }

  close(): void {
    this.ws.close();
  }

  terminate(): void {
    this.ws.terminate();
  }
}
