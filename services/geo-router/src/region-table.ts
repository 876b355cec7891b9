import type { EventOf, Heartbeat } from '@strata/protocol';

type Beat = EventOf<typeof Heartbeat>;

export interface RegionView {
  region: string;
  mediaNodes: number;
  /** Mean load score of the region's live media nodes (0 when it has none). */
  load: number;
}

/** Which regions exist and how loaded they are, as told by media nodes' heartbeats. */
export class RegionTable {
  private readonly nodes = new Map<string, { beat: Beat; seenAt: number }>();

  constructor(private readonly ttlMs: number) {}

  observe(beat: Beat, now = Date.now()): void {
    const key = `${beat.region}/${beat.id}`;
    if (beat.draining) this.nodes.delete(key);
    else this.nodes.set(key, { beat, seenAt: now });
  }

  regions(now = Date.now()): RegionView[] {
    const byRegion = new Map<string, { n: number; load: number }>();
    for (const [key, { beat, seenAt }] of this.nodes) {
      if (now - seenAt > this.ttlMs) {
        this.nodes.delete(key);
        continue;
      }
      const r = byRegion.get(beat.region) ?? { n: 0, load: 0 };
      r.n++;
      r.load += beat.load.score;
      byRegion.set(beat.region, r);
    }
    return [...byRegion].map(([region, r]) => ({ region, mediaNodes: r.n, load: r.n ? r.load / r.n : 0 }));
  }
}
