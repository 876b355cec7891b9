import type { KvBucket } from '@strata/bus';
import { StrataError, roomKey, type RoomPlacement } from '@strata/protocol';

/** A room's placement as read, with the revision every change to it is conditional on. */
export interface Placement {
  value: RoomPlacement;
  revision: number;
  /** Node ids of the legs, in the record's order (oldest first). */
  legs: string[];
}

/** What a conditional change did: written (the placement after it, null once erased), or lost to another writer. */
export type Change = { written: true; placement: Placement | null } | { written: false };

/** As many legs as the record's schema allows. */
export const MAX_LEGS = 64;

/** Attempts of the read-and-retry loops before giving up: each lost attempt means another writer changed the room meanwhile. */
const ATTEMPTS = 32;

/**
 * Room placements in KV (`strata-rooms`, `<region>.<roomId>`): one leg per media node holding
 * some of the room's members. Every change is compare-and-set on the revision read, so
 * gateways changing one room at once never lose each other's legs; a loser re-reads and
 * decides again. The record is erased (no delete marker) when its last leg goes, and only if
 * nobody wrote it since.
 */
export class PlacementStore {
  constructor(
    private readonly kv: KvBucket<RoomPlacement>,
    private readonly region: string,
  ) {}

  private key(roomId: string): string {
    return roomKey(this.region, roomId);
  }

  private static placement(value: RoomPlacement, revision: number): Placement {
    return { value, revision, legs: value.nodes.map((n) => n.nodeId) };
  }

  /** Changes when the bucket was lost and made anew: every placement in it is gone. */
  generation(): Promise<string> {
    return this.kv.generation();
  }

  async read(roomId: string): Promise<Placement | null> {
    const e = await this.kv.get(this.key(roomId));
    return e ? PlacementStore.placement(e.value, e.revision) : null;
  }

  /** Adds a leg on `nodeId` to `current` (creates the record when there is none). */
  async addLeg(roomId: string, current: Placement | null, nodeId: string, now = Date.now()): Promise<Change> {
    const leg = { nodeId, region: this.region, since: now };
    if (!current) {
      const value: RoomPlacement = { roomId, region: this.region, nodes: [leg], createdAt: now };
      const rev = await this.kv.create(this.key(roomId), value);
      return rev === null ? { written: false } : { written: true, placement: PlacementStore.placement(value, rev) };
    }
    if (current.legs.includes(nodeId)) return { written: true, placement: current };
    if (current.legs.length >= MAX_LEGS) throw new StrataError('CAPACITY', `room ${roomId} has ${MAX_LEGS} legs already`);
    const value: RoomPlacement = { ...current.value, nodes: [...current.value.nodes, leg] };
    const rev = await this.kv.update(this.key(roomId), value, current.revision);
    return rev === null ? { written: false } : { written: true, placement: PlacementStore.placement(value, rev) };
  }

  /** Removes the legs on `nodeIds` from `current`; the record is erased when no leg is left. */
  async removeLegs(roomId: string, current: Placement, nodeIds: readonly string[]): Promise<Change> {
    const nodes = current.value.nodes.filter((n) => !nodeIds.includes(n.nodeId));
    if (nodes.length === current.value.nodes.length) return { written: true, placement: current };
    if (nodes.length === 0) {
      // Up to the revision read: a leg someone added since survives, and this counts as lost.
      const erased = await this.kv.erase(this.key(roomId), current.revision);
      return erased ? { written: true, placement: null } : { written: false };
    }
    const value: RoomPlacement = { ...current.value, nodes };
    const rev = await this.kv.update(this.key(roomId), value, current.revision);
    return rev === null ? { written: false } : { written: true, placement: PlacementStore.placement(value, rev) };
  }

  /** Makes sure `nodeId` is a leg of the room, whatever other writers do meanwhile. */
  async ensureLeg(roomId: string, nodeId: string): Promise<Placement> {
    for (let i = 0; i < ATTEMPTS; i++) {
      const current = await this.read(roomId);
      if (current?.legs.includes(nodeId)) return current;
      const change = await this.addLeg(roomId, current, nodeId);
      if (change.written && change.placement) return change.placement;
    }
    throw new StrataError('CONFLICT', `room ${roomId}: leg ${nodeId} not written (placement kept changing)`);
  }

  /** Makes sure `nodeId` is no leg of the room; the placement after (null when erased or absent). */
  async dropLeg(roomId: string, nodeId: string): Promise<Placement | null> {
    for (let i = 0; i < ATTEMPTS; i++) {
      const current = await this.read(roomId);
      if (!current || !current.legs.includes(nodeId)) return current;
      const change = await this.removeLegs(roomId, current, [nodeId]);
      if (change.written) return change.placement;
    }
    throw new StrataError('CONFLICT', `room ${roomId}: leg ${nodeId} not removed (placement kept changing)`);
  }
}
