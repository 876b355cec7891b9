/** The benchmark's handle on its sink process (see sink-process.ts). */
import type { SrtpParameters } from '@strata/protocol';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Ingest } from './media-params.js';
import type { SinkCommand, SinkCounts, SinkHello, SinkReply, SinkResult, RelayCounts } from './sink-protocol.js';

type ResultOf<C extends SinkCommand['cmd']> = Extract<SinkResult, { cmd: C }>;

export class SinkProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: SinkResult) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly child: ChildProcess,
    readonly pid: number,
    readonly relayPorts: { video: number; audio: number },
  ) {
    child.on('message', (m: SinkReply | SinkHello) => {
      if ('hello' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`sink process: ${m.error}`));
    });
    child.once('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`sink process exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  static async start(): Promise<SinkProcess> {
    const entry = fileURLToPath(new URL('./sink-process.ts', import.meta.url));
    const child = fork(entry, [], { execArgv: ['--import', import.meta.resolve('tsx')], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const hello = await new Promise<SinkHello['hello']>((resolve, reject) => {
      const onMsg = (m: SinkReply | SinkHello): void => {
        if ('hello' in m) {
          child.off('exit', onExit);
          resolve(m.hello);
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`sink process exited before it was ready (${code})`));
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
    if (child.pid === undefined) throw new Error('sink process has no pid');
    return new SinkProcess(child, child.pid, { video: hello.relayVideoPort, audio: hello.relayAudioPort });
  }

  private request<C extends SinkCommand>(command: C): Promise<ResultOf<C['cmd']>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (r) => resolve(r as ResultOf<C['cmd']>), reject });
      this.child.send({ id, command });
    });
  }

  /** Opens `count` more sink sockets under `tag`; returns their ports. */
  async open(tag: string, count: number): Promise<number[]> {
    return (await this.request({ cmd: 'open', tag, count })).ports;
  }

  /** With SRTP: the key each sink's consumer transport encrypts with (see sink-process.ts). */
  async keys(keys: [port: number, srtp: SrtpParameters][]): Promise<void> {
    if (keys.length) await this.request({ cmd: 'keys', keys });
  }

  /** Where the relay copies ffmpeg's packets from now on (empty: nowhere). */
  async targets(ingests: Ingest[]): Promise<void> {
    await this.request({ cmd: 'targets', ingests });
  }

  async counts(tag: string): Promise<{ sinks: SinkCounts[]; relay: RelayCounts }> {
    const r = await this.request({ cmd: 'counts', tag });
    return { sinks: r.sinks, relay: r.relay };
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      if (this.child.connected) await this.request({ cmd: 'close' });
    } catch {
      // it is going away anyway
    }
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}
