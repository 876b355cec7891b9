import { HeartbeatTable, type Beat } from '@strata/service';

export interface RegionView {
  region: string;
  mediaNodes: number;
  /** Mean load score of the region's live media nodes (0 when it has none). */
  load: number;
}

/** Which regions exist and how loaded they are, as told by media nodes' heartbeats. */
export class RegionTable {
  private readonly table: HeartbeatTable;

  constructor(ttlMs: number) {
    this.table = new HeartbeatTable(() => ttlMs);
  }

  observe(beat: Beat, now = Date.now()): void {
    this.table.observe(beat, now);
  }

  regions(now = Date.now()): RegionView[] {
    const byRegion = new Map<string, { n: number; load: number }>();
    for (const beat of this.table.live(now)) {
      const r = byRegion.get(beat.region) ?? { n: 0, load: 0 };
      r.n++;
      r.load += beat.load.score;
      byRegion.set(beat.region, r);
    }
    return [...byRegion].map(([region, r]) => ({ region, mediaNodes: r.n, load: r.n ? r.load / r.n : 0 }));
  }
}
