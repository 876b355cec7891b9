import type { ServerStats } from '@strata/node-turn';
import { capacityShare, loadScore, type LoadSample } from '@strata/service';

/**
 * Each TURN allocation holds one relay port of TURN_MIN_PORT..TURN_MAX_PORT, so the range is
 * the most allocations the server can give; node-turn relays every packet in JavaScript, so
 * the event loop can fill up first. The score is the fuller of the two.
 */
export function turnLoad(
  allocations: number,
  ports: { min: number; max: number },
  sample: LoadSample,
  stats?: Readonly<ServerStats>,
): { score: number; details: Record<string, number> } {
  const relayPorts = Math.max(0, ports.max - ports.min + 1);
  return {
    score: loadScore(capacityShare(allocations, relayPorts), sample.eventLoop),
    // The server's counters since start (auth failures, stale nonces, quota refusals, packets
    // over an allocation's bandwidth, malformed input), so an operator sees abuse and misconfigured
    // clients in the heartbeats without asking the node.
    details: { allocations, relayPorts, eventLoop: sample.eventLoop, ...(stats ? { ...stats } : {}) },
  };
}
