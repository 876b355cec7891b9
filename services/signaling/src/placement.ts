import type { Bus, TypedKv } from '@strata/bus';
import {
  MediaRoomOpen,
  MediaRoomPeers,
  StrataError,
  roomKey,
  subjects,
  type PeerMedia,
  type PeerSummary,
  type RequestOf,
  type ResponseOf,
  type RoomPlacement,
  type Speakers,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { MediaDirectory } from './media-directory.js';

/** A peer as its media node's roster knows it. */
export type Member = NonNullable<RequestOf<typeof MediaRoomOpen>['peer']>;

/** A peer admitted to its room on a media node, with the node's roster at that moment. */
export interface Admission {
  nodeId: string;
  routerRtpCapabilities: ResponseOf<typeof MediaRoomOpen>['rtpCapabilities'];
  peers: PeerSummary[];
  /** The admitted peer's own media on the node (nothing for a new peer). */
  self: PeerMedia;
  speakers?: Speakers;
}

/**
 * Where a room's media lives. The placement is in JetStream KV so every gateway agrees:
 * the first joiner's gateway picks the least-loaded media node and writes it with
 * create-if-absent; a concurrent joiner loses the race and reads the winner's choice.
 * A placement whose node no longer answers is moved to a live node. The joiner is admitted to
 * the node's roster in the same request that opens the room there, which answers with the
 * room's members: a join lists no shared state.
 */
export class RoomPlacer {
  constructor(
    private readonly bus: Bus,
    private readonly kv: TypedKv<RoomPlacement>,
    private readonly directory: MediaDirectory,
    private readonly region: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  async place(roomId: string, member: Member): Promise<Admission> {
    const key = roomKey(this.region, roomId);
    const tried: string[] = [];
    for (let attempt = 0; attempt < 4; attempt++) {
      const entry = await this.kv.get(key);
      let nodeId = entry?.value.nodes[0]?.nodeId;
      if (!entry || !nodeId || tried.includes(nodeId)) {
        const chosen = await this.directory.leastLoaded(3000, tried);
        if (!chosen) throw new StrataError('UNAVAILABLE', `no media node is available in region ${this.region}`);
        const placement: RoomPlacement = {
          roomId,
          region: this.region,
          nodes: [{ nodeId: chosen, region: this.region, since: Date.now() }],
          createdAt: entry?.value.createdAt ?? Date.now(),
        };
        const written = entry ? await this.kv.update(key, placement, entry.revision) : await this.kv.create(key, placement);
        if (written === null) continue; // another gateway placed or moved it first: read theirs
        if (entry) this.log.warn({ roomId, from: nodeId, to: chosen }, 'room moved to another media node');
        this.directory.notePlaced(chosen);
        nodeId = chosen;
      }
      try {
        return await this.admit(roomId, nodeId, member);
      } catch (err) {
        if (err instanceof StrataError && (err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT')) {
          this.log.warn({ roomId, nodeId, code: err.code }, 'placed media node does not answer');
          tried.push(nodeId);
          continue;
        }
        throw err;
      }
    }
    throw new StrataError('UNAVAILABLE', `could not place room ${roomId} on a media node`);
  }

  /** Opens the room on `nodeId` (idempotent) with `member` in its roster: a join, or a resume on the node the peer is on. */
  async admit(roomId: string, nodeId: string, member: Member): Promise<Admission> {
    const opened = await this.bus.request(
      MediaRoomOpen,
      subjects.media(this.region, nodeId, 'room.open'),
      { roomId, peer: member },
      { timeoutMs: this.timeoutMs },
    );
    return {
      nodeId,
      routerRtpCapabilities: opened.rtpCapabilities,
      peers: opened.peers,
      self: opened.self ?? { transports: [], producers: [], consumers: [] },
      ...(opened.speakers ? { speakers: opened.speakers } : {}),
    };
  }

  /**
   * After a joiner's peer record is written: the placement it read must still be there. A last
   * peer leaving may have released it in between; put it back, or two nodes could end up
   * holding halves of one room.
   */
  async confirm(roomId: string, nodeId: string): Promise<void> {
    const key = roomKey(this.region, roomId);
    const entry = await this.kv.get(key);
    if (entry) {
      if (entry.value.nodes[0]?.nodeId !== nodeId)
        this.log.error({ roomId, nodeId, placedOn: entry.value.nodes[0]?.nodeId }, 'room placed on another node while joining');
      return;
    }
    await this.kv.create(key, { roomId, region: this.region, nodes: [{ nodeId, region: this.region, since: Date.now() }], createdAt: Date.now() });
  }

  /**
   * Forgets the placement once the last peer left `nodeId` (the media node closes the router on
   * its own), so the next use of the name is placed afresh and the key does not outlive the
   * room. A join racing with the release is covered twice: the erase is conditional (a placement
   * rewritten meanwhile stays), and a member that reached the node right after it gets its node
   * written back (and `confirm` covers the joiner's side).
   */
  async release(roomId: string, nodeId: string): Promise<void> {
    const key = roomKey(this.region, roomId);
    try {
      const entry = await this.kv.get(key);
      if (!entry || entry.value.nodes[0]?.nodeId !== nodeId) return;
      if (!(await this.kv.erase(key, entry.revision))) return;
      const late = await this.bus.request(MediaRoomPeers, subjects.media(this.region, nodeId, 'room.peers'), { roomId }, { timeoutMs: this.timeoutMs });
      if (late.peers.length > 0) await this.confirm(roomId, nodeId);
    } catch (err) {
      this.log.warn({ err, roomId }, 'placement not released');
    }
  }
}
