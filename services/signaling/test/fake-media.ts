import { MediaPeerClose, MediaRoomOpen, StrataError, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import type { MediaNode, MediaNodes } from '../src/media-client.js';

export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits `n` turns of the event loop. */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await nextTurn();
}

/** A seeded generator of small latencies (in turns), so a race can be replayed through many interleavings. */
export function latencies(seed: number, max = 4): () => Promise<void> {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return turns(1 + ((s >>> 0) % max));
  };
}

/**
 * Media nodes in memory that keep the rules of the real one for the two operations placement
 * uses: `room.open` refuses a new member past `maxMembers` with CAPACITY, checking and
 * admitting in one step; `peer.close` answers the members left on that leg (and is
 * idempotent). Every request and every reply takes a turn of the event loop, so requests
 * started together interleave. A dead node has no responder (UNAVAILABLE), a stuck one
 * never answers in time (TIMEOUT).
 */
export class FakeMedia implements MediaNodes {
  /** nodeId → roomId → member ids: each node's legs. */
  readonly legs = new Map<string, Map<string, Set<string>>>();
  /** Most members a leg ever held at once, by `nodeId/roomId`. */
  readonly peak = new Map<string, number>();
  readonly requests: { nodeId: string; op: string; req: unknown }[] = [];
  readonly dead = new Set<string>();
  readonly stuck = new Set<string>();
  /** The time a request, and then its reply, takes on the way: one turn unless a test varies it. */
  constructor(private readonly travel: () => Promise<void> = nextTurn) {}

  node(nodeId: string): MediaNode {
    return { nodeId, request: (def, req) => this.handle(nodeId, def, req) };
  }

  members(nodeId: string, roomId: string): string[] {
    return [...(this.legs.get(nodeId)?.get(roomId) ?? [])];
  }

  /** Node ids holding at least one member of the room. */
  nodesOf(roomId: string): string[] {
    return [...this.legs].filter(([, rooms]) => (rooms.get(roomId)?.size ?? 0) > 0).map(([n]) => n);
  }

  requestsTo(nodeId: string): string[] {
    return this.requests.filter((r) => r.nodeId === nodeId).map((r) => r.op);
  }

  private leg(nodeId: string, roomId: string): Set<string> {
    let rooms = this.legs.get(nodeId);
    if (!rooms) this.legs.set(nodeId, (rooms = new Map()));
    let members = rooms.get(roomId);
    if (!members) rooms.set(roomId, (members = new Set()));
    return members;
  }

  private async handle<D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    this.requests.push({ nodeId, op: def.name, req });
    await this.travel();
    if (this.dead.has(nodeId)) throw new StrataError('UNAVAILABLE', `no responder on strata.t.media.${nodeId}.${def.name}`);
    if (this.stuck.has(nodeId)) throw new StrataError('TIMEOUT', `no reply on strata.t.media.${nodeId}.${def.name} in time`);
    const res = this.answer(nodeId, def, req);
    await this.travel();
    return res;
  }

  private answer<D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>): ResponseOf<D> {
    if (def.name === MediaRoomOpen.name) {
      const { roomId, peer, maxMembers } = req as RequestOf<typeof MediaRoomOpen>;
      const members = this.leg(nodeId, roomId);
      if (peer) {
        if (maxMembers !== undefined && !members.has(peer.peerId) && members.size >= maxMembers)
          throw new StrataError('CAPACITY', `room ${roomId}'s leg on ${nodeId} is full (${maxMembers} members)`);
        members.add(peer.peerId);
        const key = `${nodeId}/${roomId}`;
        this.peak.set(key, Math.max(this.peak.get(key) ?? 0, members.size));
      }
      const res: ResponseOf<typeof MediaRoomOpen> = {
        routerId: `router-${nodeId}-${roomId}`,
        rtpCapabilities: { codecs: [] },
        peers: [...members].map((peerId) => ({ peerId, identity: peerId, producers: [] })),
        ...(peer ? { self: { transports: [], producers: [], consumers: [] } } : {}),
      };
      return res as ResponseOf<D>;
    }
    if (def.name === MediaPeerClose.name) {
      const { roomId, peerId } = req as RequestOf<typeof MediaPeerClose>;
      const members = this.legs.get(nodeId)?.get(roomId);
      members?.delete(peerId);
      const res: ResponseOf<typeof MediaPeerClose> = { closedTransports: 0, peersLeft: members?.size ?? 0 };
      return res as ResponseOf<D>;
    }
    throw new StrataError('UNKNOWN_METHOD', `the fake media node does not do ${def.name}`);
  }
}

export { mediaBeat } from '@strata/harness';
