import { capacityShare, loadScore, type LoadSample } from '@strata/service';

export interface GatewayCounts {
  sockets: number;
  sessions: number;
  connected: number;
  graceTimers: number;
  rooms: number;
  roomSubscriptions: number;
}

/**
 * The gateway runs out of one of two things: sessions (each holds memory, a KV record and
 * room subscriptions; `capacity` is what the process is sized for) or its one event loop
 * (every request and notification passes through it). Its score is the fuller of the two.
 */
export function gatewayLoad(counts: GatewayCounts, capacity: number, sample: LoadSample): { score: number; details: Record<string, number> } {
  return {
    score: loadScore(capacityShare(counts.sessions, capacity), sample.eventLoop),
    details: { ...counts, sessionCapacity: capacity, eventLoop: sample.eventLoop },
  };
}
