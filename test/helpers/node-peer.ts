// Moved to @strata/harness (libs/harness) so load tests and benchmarks share it.
import { NodePeer, type Region } from '@strata/harness';
export { NodePeer, vp8Payload, type NodePeerOptions, type ReceiveStats, type Totals } from '@strata/harness';

/** A peer with media joined to `room` as `name` (its identity and display name), added to `peers` for the test's cleanup. */
export async function joinAs(region: Region, room: string, name: string, peers: NodePeer[]): Promise<NodePeer> {
  const token = await region.mintToken({ room, identity: name, name });
  const p = await NodePeer.join({ wsUrl: region.wsUrl, token, name });
  peers.push(p);
  return p;
}
