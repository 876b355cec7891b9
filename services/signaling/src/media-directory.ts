import { HeartbeatTable, type Beat } from '@strata/service';

/** What one room placed since a node's last heartbeat is assumed to cost, until the node reports. */
const PENDING_ROOM_WEIGHT = 0.01;

/**
 * The region's media nodes as their heartbeats describe them. Heartbeats lag by up to an
 * interval, so rooms this gateway placed since a node's last heartbeat count against it:
 * a burst of new rooms spreads over the nodes instead of piling onto the one that looked idle.
 */
export class MediaDirectory {
  private readonly table = new HeartbeatTable();
  /** Rooms placed on each node since its last heartbeat. */
  private readonly pending = new Map<string, number>();
  private waiters: (() => void)[] = [];

  observe(beat: Beat, now = Date.now()): void {
    this.table.observe(beat, now);
    this.pending.delete(beat.id);
    for (const w of this.waiters.splice(0)) w();
  }

  notePlaced(nodeId: string): void {
    this.pending.set(nodeId, (this.pending.get(nodeId) ?? 0) + 1);
  }

  private score(b: Beat): number {
    return b.load.score + (this.pending.get(b.id) ?? 0) * PENDING_ROOM_WEIGHT;
  }

  private routers(b: Beat): number {
    return Number(b.load.details['routers'] ?? 0) + (this.pending.get(b.id) ?? 0);
  }

  private live(): Beat[] {
    return this.table.live();
  }

  get size(): number {
    return this.live().length;
  }

  /** The live node with the lowest load score; waits up to `waitMs` for a first heartbeat. */
  async leastLoaded(waitMs: number, exclude: readonly string[] = []): Promise<string | undefined> {
    const pick = () =>
      this.live()
        .filter((b) => !exclude.includes(b.id))
        .sort((a, b) => this.score(a) - this.score(b) || this.routers(a) - this.routers(b) || a.id.localeCompare(b.id))[0]?.id;
    const now = pick();
    if (now || waitMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, waitMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return pick();
  }
}
