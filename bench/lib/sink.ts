/** The benchmark's handle on its sink process (see sink-process.ts). */
import { ManagedProcess, describeExit } from '@strata/process';
import type { SrtpParameters } from '@strata/protocol';
import { fileURLToPath } from 'node:url';
import type { Ingest } from './media-params.js';
import type { SinkCommand, SinkCounts, SinkHello, SinkReply, SinkResult, RelayCounts } from './sink-protocol.js';

type ResultOf<C extends SinkCommand['cmd']> = Extract<SinkResult, { cmd: C }>;

export class SinkProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: SinkResult) => void; reject: (e: Error) => void }>();

  private constructor(
    readonly proc: ManagedProcess,
    readonly relayPorts: { video: number; audio: number },
  ) {
    proc.child.on('message', (m: SinkReply | SinkHello) => {
      if ('hello' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`sink process: ${m.error}`));
    });
    void proc.exited.then((status) => {
      for (const p of this.pending.values()) p.reject(new Error(`sink process exited (${describeExit(status)}):\n${proc.tail()}`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  static async start(): Promise<SinkProcess> {
    const entry = fileURLToPath(new URL('./sink-process.ts', import.meta.url));
    // Like fork(): node with an IPC channel; the sink says hello with its relay ports once they are bound.
    const proc = new ManagedProcess({ command: process.execPath, args: ['--import', import.meta.resolve('tsx'), entry], name: 'bench-sink', ipc: true });
    let hello: SinkHello['hello'] | undefined;
    proc.child.on('message', (m: SinkReply | SinkHello) => {
      if ('hello' in m) hello = m.hello;
    });
    try {
      await proc.waitReady({ what: 'its hello over IPC', check: () => hello !== undefined }, 30_000);
    } catch (err) {
      await proc.kill9();
      throw err;
    }
    const ports = hello as SinkHello['hello'];
    return new SinkProcess(proc, { video: ports.relayVideoPort, audio: ports.relayAudioPort });
  }

  private request<C extends SinkCommand>(command: C): Promise<ResultOf<C['cmd']>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: (r) => resolve(r as ResultOf<C['cmd']>), reject });
      this.proc.child.send({ id, command });
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
    if (!this.proc.running()) return;
    try {
      if (this.proc.child.connected) await this.request({ cmd: 'close' });
    } catch {
      // it is going away anyway
    }
    await this.proc.stop(3000);
  }
}
