import type { Bus, TypedKv } from '@strata/bus';
import { MediaRoomOpen, StrataError, roomKey, subjects, type RoomPlacement, type ResponseOf } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { MediaDirectory } from './media-directory.js';

export interface PlacedRoom {
  nodeId: string;
  routerRtpCapabilities: ResponseOf<typeof MediaRoomOpen>['rtpCapabilities'];
}

/**
 * Where a room's media lives. The placement is in JetStream KV so every gateway agrees:
 * the first joiner's gateway picks the least-loaded media node and writes it with
 * create-if-absent; a concurrent joiner loses the race and reads the winner's choice.
 * A placement whose node no longer answers is moved to a live node.
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

  async place(roomId: string): Promise<PlacedRoom> {
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
        const opened = await this.bus.request(MediaRoomOpen, subjects.media(this.region, nodeId, 'room.open'), { roomId }, { timeoutMs: this.timeoutMs });
        return { nodeId, routerRtpCapabilities: opened.rtpCapabilities };
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
   * Forgets the placement once the room has no peer left (the media node closes the router on
   * its own), so the next use of the name is placed afresh. A join racing with the release is
   * covered twice: the delete is conditional, and a peer that shows up right after it gets its
   * node written back (and `confirm` covers the joiner's side).
   */
  async release(roomId: string, peersLeft: () => Promise<{ nodeId: string }[]>): Promise<void> {
    const key = roomKey(this.region, roomId);
    try {
      const entry = await this.kv.get(key);
      if (!entry || (await peersLeft()).length > 0) return;
      if (!(await this.kv.deleteIfUnchanged(key, entry.revision))) return;
      const late = await peersLeft();
      if (late[0]) await this.confirm(roomId, late[0].nodeId);
    } catch (err) {
      this.log.warn({ err, roomId }, 'placement not released');
    }
  }
}
