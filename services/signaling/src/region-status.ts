import { HeartbeatTable, type Beat } from '@strata/service';

/** The services of this region as their heartbeats describe them, for the status API and page. */
export class RegionStatus {
  private readonly table = new HeartbeatTable();

  observe(beat: Beat, now = Date.now()): void {
    this.table.observe(beat, now);
  }

  live(now = Date.now()): Beat[] {
    return this.table.live(now).sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  }

  /** Ids of the live processes of one kind. */
  liveIds(kind: Beat['kind'], now = Date.now()): string[] {
    return this.table
      .live(now)
      .filter((b) => b.kind === kind)
      .map((b) => b.id);
  }
}
