import { Type, type Static } from '@sinclair/typebox';
import { NodeId, RegionId, RoomId } from './ids.js';

/**
 * JetStream KV buckets. Room and peer keys start with the region (`<region>.<roomId>[.<peerId>]`)
 * so one bucket serves every region. Keys of rooms and peers that ended are erased, not
 * deleted: NATS 2.9 keeps a delete marker per key for ever, and a store that grows with every
 * peer that ever joined gets slower with age.
 */
export const buckets = {
  rooms: 'strata-rooms',
  peers: 'strata-peers',
  /** Every recording, done or not (`<region>.<recordingId>`); kept until an operator removes it. */
  recordings: 'strata-recordings',
  /** Active recordings only, and who holds each (`<region>.<recordingId>`); erased when one ends. */
  recordingLeases: 'strata-recording-leases',
} as const;

/**
 * Buckets the server keeps in memory. Their holders write them again when they are lost
 * (gateways, after a nats-server restarted: `SessionManager.storeGeneration`), and every join
 * and leave churns them: on file storage nats-server 2.9 keeps each one's last 4 MiB block in
 * memory too, so its RSS climbed for as long as that block filled. Recordings stay on file: a
 * finished recording's record has no holder to write it again.
 */
export const memoryBuckets: ReadonlySet<string> = new Set([buckets.rooms, buckets.peers]);

export function recordingKey(region: string, recordingId: string): string {
  return `${region}.${recordingId}`;
}

/** KV key filter for every recording (or lease) of a region. */
export function regionRecordingsFilter(region: string): string {
  return `${region}.*`;
}

export function roomKey(region: string, roomId: string): string {
  return `${region}.${roomId}`;
}

export function peerKey(region: string, roomId: string, peerId: string): string {
  return `${region}.${roomId}.${peerId}`;
}

/** KV key filter for every peer of a region (the orphan sweep; never on a request path). */
export function regionPeersFilter(region: string): string {
  return `${region}.*.*`;
}

/**
 * Where a room's media lives. A list of nodes, not one: a cascaded room spans several
 * (the first is where the room was opened).
 */
export const RoomPlacement = Type.Object(
  {
    roomId: RoomId,
    region: RegionId,
    nodes: Type.Array(Type.Object({ nodeId: NodeId, region: RegionId, since: Type.Integer() }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 64,
    }),
    createdAt: Type.Integer(),
  },
  { additionalProperties: false },
);
export type RoomPlacement = Static<typeof RoomPlacement>;
