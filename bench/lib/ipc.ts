/**
 * Request and answer over a child's IPC channel: the parent's side of the bench helper processes
 * that answer `{ id, ok, result | error }` to `{ id, command }` (recorder-sink.ts, rtp-replay-process.ts).
 */
import { ManagedProcess, describeExit } from '@strata/process';

export interface IpcReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

export class IpcChild {
  #next = 1;
  readonly #pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>();

  private constructor(readonly proc: ManagedProcess) {
    proc.child.on('message', (m: IpcReply | { hello: true }) => {
      if ('hello' in m) return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`${proc.name}: ${m.error}`));
    });
    void proc.exited.then((status) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${proc.name} exited (${describeExit(status)}):\n${proc.tail()}`));
      this.#pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Starts `entry` (a .ts file) through tsx with an IPC channel; resolves once it has said hello. */
  static async start(name: string, entry: string, args: readonly string[] = []): Promise<IpcChild> {
    const proc = new ManagedProcess({
      command: process.execPath,
      args: ['--conditions=strata-src', '--import', import.meta.resolve('tsx'), entry, ...args],
      name,
      ipc: true,
    });
    let hello = false;
    proc.child.on('message', (m: { hello?: true }) => {
      if (m.hello) hello = true;
    });
    try {
      await proc.waitReady({ what: 'its hello over IPC', check: () => hello }, 30_000);
    } catch (err) {
      await proc.kill9();
      throw err;
    }
    return new IpcChild(proc);
  }

  request<T>(command: Record<string, unknown>): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: (r) => resolve(r as T), reject });
      this.proc.child.send({ id, command });
    });
  }

  stop(): Promise<unknown> {
    return this.proc.stop(5000);
  }
}

/** The child's side: answers each request with `handle`'s result (or its error), and says hello. */
export function serveIpc(handle: (command: Record<string, unknown>) => Promise<unknown> | unknown): void {
  if (!process.send) throw new Error('no IPC channel: start this with IpcChild.start');
  process.on('message', (m: { id: number; command: Record<string, unknown> }) => {
    void (async () => {
      try {
        process.send?.({ id: m.id, ok: true, result: await handle(m.command) });
      } catch (err) {
        process.send?.({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send({ hello: true });
}
