import WebSocket from 'ws';

/** Just enough of the gateway protocol for load: open, request/response by id, close. */
export class WsRpc {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (d: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (buf: Buffer) => {
      const f = JSON.parse(buf.toString()) as { id?: number | null; ok?: boolean; data?: unknown; error?: { code: string; message: string } };
      if (typeof f.id !== 'number') return;
      const p = this.pending.get(f.id);
      if (!p) return;
      this.pending.delete(f.id);
      if (f.ok) p.resolve(f.data);
      else p.reject(new Error(`${f.error?.code}: ${f.error?.message}`));
    });
    ws.on('close', () => {
      for (const p of this.pending.values()) p.reject(new Error('socket closed'));
      this.pending.clear();
    });
  }

  static open(url: string): Promise<WsRpc> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new WsRpc(ws)));
      ws.once('error', reject);
    });
  }

  request<T = Record<string, unknown>>(method: string, data: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: timeout`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (d) => {
          clearTimeout(t);
          resolve(d as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify({ id, method, data }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
