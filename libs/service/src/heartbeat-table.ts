import type { EventOf, Heartbeat, ServiceKind } from '@strata/protocol';

export type Beat = EventOf<typeof Heartbeat>;

/**
 * Processes known from their heartbeats: a process is live until its beats stop for `ttl(beat)`
 * (three of its own intervals by default) or it announces that it drains.
 */
export class HeartbeatTable {
  private readonly beats = new Map<string, { beat: Beat; seenAt: number }>();

  constructor(private readonly ttl: (beat: Beat) => number = (b) => b.intervalMs * 3) {}

  private static key(region: string, kind: ServiceKind, id: string): string {
    return `${region}/${kind}/${id}`;
  }

  observe(beat: Beat, now = Date.now()): void {
    const key = HeartbeatTable.key(beat.region, beat.kind, beat.id);
    if (beat.draining) this.beats.delete(key);
    else this.beats.set(key, { beat, seenAt: now });
  }

  /** Live processes' latest beats; expired entries are forgotten on the way. */
  live(now = Date.now()): Beat[] {
    const out: Beat[] = [];
    for (const [key, { beat, seenAt }] of this.beats) {
      if (now - seenAt > this.ttl(beat)) this.beats.delete(key);
      else out.push(beat);
    }
    return out;
  }
}
