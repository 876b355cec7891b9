import type { Bus } from '@strata/bus';
import { subjects, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';

/** One media node as the gateway talks to it: a typed request per operation of libs/protocol's media RPCs. */
export interface MediaNode {
  readonly nodeId: string;
  request<D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>>;
}

/** The region's media nodes by id. An interface so that placement races can run against fake nodes in unit tests. */
export interface MediaNodes {
  node(nodeId: string): MediaNode;
}

/**
 * Media nodes over NATS: `strata.<region>.media.<nodeId>.<op>`, the op being the RPC's name, so
 * no subject is spelled by hand anywhere else. Requests go through the bus's own reply
 * subscription with the gateway's media timeout; a node that is not subscribed fails at once
 * with UNAVAILABLE, one that does not answer in time with TIMEOUT.
 */
export class BusMediaNodes implements MediaNodes {
  constructor(
    private readonly bus: Bus,
    private readonly region: string,
    private readonly timeoutMs: number,
  ) {}

  /** One client per node, kept: every session asks its node for each operation. */
  private readonly nodes = new Map<string, MediaNode>();

  node(nodeId: string): MediaNode {
    let node = this.nodes.get(nodeId);
    if (!node) {
      const { bus, region, timeoutMs } = this;
      node = { nodeId, request: (def, req) => bus.request(def, subjects.media(region, nodeId, def.name), req, { timeoutMs }) };
      this.nodes.set(nodeId, node);
    }
    return node;
  }
}
