import { capacityShare, loadScore, type LoadSample } from '@strata/service';

/**
 * Each TURN allocation holds one relay port of TURN_MIN_PORT..TURN_MAX_PORT, so the range is
 * the most allocations the server can give; node-turn relays every packet in JavaScript, so
 * the event loop can fill up first. The score is the fuller of the two.
 */
export function turnLoad(allocations: number, ports: { min: number; max: number }, sample: LoadSample): { score: number; details: Record<string, number> } {
  const relayPorts = Math.max(0, ports.max - ports.min + 1);
  return {
    score: loadScore(capacityShare(allocations, relayPorts), sample.eventLoop),
    details: { allocations, relayPorts, eventLoop: sample.eventLoop },
  };
}
