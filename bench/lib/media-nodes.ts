/**
 * Media nodes of one region as real processes (services/media/src/main.ts, one each) around one
 * nats-server, driven over NATS with the protocol's media operations as gateways drive them.
 * CPU of a node = its Node process + its mediasoup worker child, from /proc.
 */
import { Bus } from '@strata/bus';
import { childPids, memoryLogger, readProc, spawnService, waitFor, type ServiceProcess } from '@strata/harness';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { Health, subjects, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';

export interface MediaNode {
  id: string;
  proc: ServiceProcess;
  pid: number;
  workerPid: number;
}

export class MediaNodes {
  private constructor(
    readonly region: string,
    readonly nats: NatsServer,
    readonly bus: Bus,
    readonly nodes: MediaNode[],
  ) {}

  /** Starts nats-server and one media node per id (one worker each), and waits for each one's health. */
  static async start(region: string, ids: readonly string[], requestTimeoutMs: number, env: Record<string, string>): Promise<MediaNodes> {
    const nats = await startNatsServer();
    const procs: ServiceProcess[] = [];
    let bus: Bus | undefined;
    try {
      bus = await Bus.connect({ servers: nats.url, name: 'bench-big-room', logger: memoryLogger().log, requestTimeoutMs });
      for (const id of ids) {
        procs.push(spawnService('media', { NATS_URL: nats.url, STRATA_REGION: region, STRATA_NODE_ID: id, HTTP_PORT: '0', MEDIA_NUM_WORKERS: '1', ...env }));
      }
      const nodes: MediaNode[] = [];
      for (const [i, id] of ids.entries()) {
        const proc = procs[i]!;
        await waitFor(
          `${id} health`,
          async () => {
            if (proc.child.exitCode !== null) throw new Error(`${id} exited during start-up:\n${proc.output()}`);
            const h = await bus!.request(Health, subjects.health(region, 'media', id), {}, { timeoutMs: 1000 }).catch(() => undefined);
            return h?.status === 'ok' ? h : undefined;
          },
          60_000,
          200,
        );
        const pid = proc.child.pid!;
        // The worker is the node's only mediasoup child (MEDIA_NUM_WORKERS=1).
        const workers = childPids(pid).filter((p) => readProc(p)?.comm.startsWith('mediasoup') === true);
        if (workers.length !== 1) throw new Error(`expected one mediasoup worker under ${id} (pid ${pid}), found ${workers.length}`);
        nodes.push({ id, proc, pid, workerPid: workers[0]! });
      }
      return new MediaNodes(region, nats, bus, nodes);
    } catch (err) {
      await Promise.all(procs.map((p) => p.stop(5000)));
      await bus?.drain().catch(() => undefined);
      await nats.stop();
      throw err;
    }
  }

  call<D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>, timeoutMs?: number): Promise<ResponseOf<D>> {
    return this.bus.request(def, subjects.media(this.region, nodeId, def.name), req, timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** CPU of each node so far (its process + its worker, user + system), ms; NaN for a node that is gone. */
  cpuMs(): Map<string, number> {
    const out = new Map<string, number>();
    for (const n of this.nodes) {
      const a = readProc(n.pid);
      const w = readProc(n.workerPid);
      out.set(n.id, a && w ? (a.cpuSeconds + w.cpuSeconds) * 1000 : Number.NaN);
    }
    return out;
  }

  /** Warning and error lines the nodes logged (they run at LOG_LEVEL=warn): for the end of the report. */
  problems(): string[] {
    return this.nodes.flatMap((n) =>
      n.proc
        .output()
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => `${n.id}: ${l.slice(0, 300)}`),
    );
  }

  nodeExited(): string | undefined {
    const gone = this.nodes.find((n) => n.proc.child.exitCode !== null || n.proc.child.signalCode !== null);
    return gone ? `${gone.id} exited:\n${gone.proc.output().slice(-3000)}` : undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.proc.stop(10_000)));
    await this.bus.drain().catch(() => undefined);
    await this.nats.stop();
  }
}
