/**
 * What a test or benchmark reads of a cascaded room from outside: its legs and peers as KV
 * holds them, and what crosses its links as the media nodes' mediasoup stats say.
 */
import { MediaLinkStats, PeerRecord, RoomPlacement, buckets, subjects } from '@strata/protocol';
import type { Region } from './region.js';

/** The room's legs (media node ids) from its placement; undefined once it is erased. */
export async function legsOf(region: Region, roomId: string): Promise<string[] | undefined> {
  const kv = await region.bus.kv(buckets.rooms, RoomPlacement);
  return (await kv.get(`${region.region}.${roomId}`))?.value.nodes.map((n) => n.nodeId);
}

/** Peer id → media node, from the peer records in KV. */
export async function peersOf(region: Region, roomId: string): Promise<Map<string, string>> {
  const kv = await region.bus.kv(buckets.peers, PeerRecord);
  const out = new Map<string, string>();
  for (const e of await kv.list(`${region.region}.${roomId}.*`)) out.set(e.value.peerId, e.value.nodeId);
  return out;
}

/** `<from>><to>` → producer ids. */
export type LinkFlows = Map<string, Set<string>>;

const byteCount = (stats: Record<string, unknown>[], type: string) =>
  stats.filter((s) => s['type'] === type).reduce((n, s) => n + Number(s['byteCount'] ?? 0), 0);

async function linkBytes(region: Region, roomId: string, nodes: readonly string[]) {
  const sent = new Map<string, number>();
  const received = new Map<string, number>();
  for (const node of nodes) {
    const { links } = await region.bus.request(MediaLinkStats, subjects.media(region.region, node, MediaLinkStats.name), { roomId });
    for (const l of links) {
      for (const s of l.sending) sent.set(`${node}>${l.nodeId} ${s.producerId}`, byteCount(s.stats, 'outbound-rtp'));
      for (const r of l.receiving) received.set(`${l.nodeId}>${node} ${r.producerId}`, byteCount(r.stats, 'inbound-rtp'));
    }
  }
  return { sent, received };
}

/**
 * The streams that carry bytes on the room's links over `windowMs`, counted on both ends from
 * mediasoup's stats: `sent` by each node's link consumers, `received` by the far node's
 * forwarded producers. A stream set up but paused (nobody there watches) carries nothing and
 * is not counted.
 */
export async function flowingLinkStreams(
  region: Region,
  roomId: string,
  nodes: readonly string[],
  windowMs = 1000,
): Promise<{ sent: LinkFlows; received: LinkFlows }> {
  const a = await linkBytes(region, roomId, nodes);
  await new Promise((r) => setTimeout(r, windowMs));
  const b = await linkBytes(region, roomId, nodes);
  const flows = (before: Map<string, number>, after: Map<string, number>): LinkFlows => {
    const out: LinkFlows = new Map();
    for (const [key, bytes] of after) {
      if (bytes <= (before.get(key) ?? 0)) continue;
      const [link, producerId] = key.split(' ') as [string, string];
      let set = out.get(link);
      if (!set) out.set(link, (set = new Set()));
      set.add(producerId);
    }
    return out;
  };
  return { sent: flows(a.sent, b.sent), received: flows(a.received, b.received) };
}
