/**
 * "Ours" for the link benchmarks: a nats-server and two media nodes, X and Y, each the real media
 * service (services/media) as its own process with one worker, driven over NATS with the
 * protocol's media operations as gateways drive them. A room gets a leg on each node; what Y's
 * subscribers consume of X's producers crosses the room's link between them.
 */
import { Bus } from '@strata/bus';
import { spawnService, waitFor, type ServiceProcess } from '@strata/harness';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { Health, MediaLinkStats, subjects, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import { childPids } from './cpu.js';

export const REGION = 'bench';
export const NODE_X = 'bench-media-x';
export const NODE_Y = 'bench-media-y';
export type NodeId = typeof NODE_X | typeof NODE_Y;

export type LinkStats = ResponseOf<typeof MediaLinkStats>['links'];

export interface CascadeNodesOptions {
  /** Env for both media services on top of the benchmark's own (MEDIA_LINK_LINGER...). */
  env?: Record<string, string>;
  /** Run the services from dist/ (`npm run build` first), as deployed. */
  compiled?: boolean;
  startTimeoutMs?: number;
}

export class CascadeNodes {
  private constructor(
    private readonly nats: NatsServer,
    readonly services: Map<NodeId, ServiceProcess>,
    readonly bus: Bus,
  ) {}

  static async start(opts: CascadeNodesOptions = {}): Promise<CascadeNodes> {
    const nats = await startNatsServer();
    const services = new Map<NodeId, ServiceProcess>();
    let bus: Bus | undefined;
    try {
      for (const node of [NODE_X, NODE_Y] as const) {
        services.set(
          node,
          spawnService(
            'media',
            {
              NATS_URL: nats.url,
              STRATA_REGION: REGION,
              STRATA_NODE_ID: node,
              HTTP_PORT: '0',
              MEDIA_NUM_WORKERS: '1',
              ...opts.env,
            },
            { compiled: opts.compiled ?? false },
          ),
        );
      }
      bus = await Bus.connect({
        servers: nats.url,
        name: 'bench-links',
        logger: createLogger({ service: 'bench', region: REGION, nodeId: 'bench-client', level: 'warn' }),
        requestTimeoutMs: 10_000,
      });
      const nodes = new CascadeNodes(nats, services, bus);
      for (const [node, proc] of services) {
        const b = bus;
        await waitFor(
          `${node} healthy`,
          async () => {
            if (proc.child.exitCode !== null) throw new Error(`${node} exited during start-up:\n${proc.output().slice(-4000)}`);
            const h = await b.request(Health, subjects.health(REGION, 'media', node), {}, { timeoutMs: 1000 }).catch(() => undefined);
            return h?.status === 'ok' ? true : undefined;
          },
          opts.startTimeoutMs ?? 60_000,
          200,
        );
      }
      return nodes;
    } catch (err) {
      await bus?.drain().catch(() => undefined);
      await Promise.all([...services.values()].map((s) => s.stop()));
      await nats.stop();
      throw err;
    }
  }

  call<D extends RpcDef>(node: NodeId, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    return this.bus.request(def, subjects.media(REGION, node, def.name), req, { timeoutMs: 10_000 });
  }

  linkStats(node: NodeId, roomId: string): Promise<LinkStats> {
    return this.call(node, MediaLinkStats, { roomId }).then((r) => r.links);
  }

  /** The media service's pid and its worker's, for the record. */
  describe(): string {
    return [...this.services]
      .map(([node, s]) => `${node}: media service pid ${s.child.pid ?? '?'}, worker ${childPids(s.child.pid ?? 0, 'mediasoup-work').join(',') || '?'}`)
      .join('; ');
  }

  /** Warnings and errors the services logged (pino level ≥ 40), and whatever was not JSON. */
  problems(): string[] {
    const out: string[] = [];
    for (const [node, s] of this.services) {
      for (const line of s.output().split('\n')) {
        if (!line.trim()) continue;
        try {
          const level = (JSON.parse(line) as { level?: unknown }).level;
          if (typeof level === 'number' && level >= 40) out.push(`${node}: ${line}`);
        } catch {
          out.push(`${node}: ${line}`);
        }
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.bus.drain().catch(() => undefined);
    await Promise.all([...this.services.values()].map((s) => s.stop()));
    const problems = this.problems();
    if (problems.length) {
      process.stderr.write(
        `media services logged ${problems.length} warning/error line(s); first ones:\n${problems
          .slice(0, 5)
          .map((l) => `  ${l.slice(0, 400)}`)
          .join('\n')}\n`,
      );
    }
    await this.nats.stop();
  }
}

/** The sum of one stat over a mediasoup stats list's entries of one type (a consumer's list holds its 'outbound-rtp' and the producer's 'inbound-rtp'). */
export function statSum(stats: readonly Record<string, unknown>[], type: string, key: string): number {
  return stats.filter((s) => s['type'] === type).reduce((n, s) => n + Number(s[key] ?? 0), 0);
}
