import type { EventOf, Heartbeat } from '@strata/protocol';

type Beat = EventOf<typeof Heartbeat>;

/** What one room placed since a node's last heartbeat is assumed to cost, until the node reports. */
const PENDING_ROOM_WEIGHT = 0.01;

/**
 * The region's media nodes as their heartbeats describe them. Heartbeats lag by up to an
 * interval, so rooms this gateway placed since a node's last heartbeat count against it:
 * a burst of new rooms spreads over the nodes instead of piling onto the one that looked idle.
 */
export class MediaDirectory {
  private readonly nodes = new Map<string, { beat: Beat; seenAt: number; pending: number }>();
  private waiters: (() => void)[] = [];

  observe(beat: Beat, now = Date.now()): void {
    if (beat.draining) this.nodes.delete(beat.id);
    else this.nodes.set(beat.id, { beat, seenAt: now, pending: 0 });
    for (const w of this.waiters.splice(0)) w();
  }

  notePlaced(nodeId: string): void {
    const n = this.nodes.get(nodeId);
    if (n) n.pending++;
  }

  private score(nodeId: string): number {
    const n = this.nodes.get(nodeId);
    return n ? n.beat.load.score + n.pending * PENDING_ROOM_WEIGHT : Infinity;
  }

  private routers(b: Beat): number {
    return Number(b.load.details['routers'] ?? 0) + (this.nodes.get(b.id)?.pending ?? 0);
  }

  private live(now = Date.now()): Beat[] {
    const out: Beat[] = [];
    for (const [id, { beat, seenAt }] of this.nodes) {
      if (now - seenAt > beat.intervalMs * 3) this.nodes.delete(id);
      else out.push(beat);
    }
    return out;
  }

  isAlive(nodeId: string): boolean {
    return this.live().some((b) => b.id === nodeId);
  }

  get size(): number {
    return this.live().length;
  }

  /** The live node with the lowest load score; waits up to `waitMs` for a first heartbeat. */
  async leastLoaded(waitMs: number, exclude: readonly string[] = []): Promise<string | undefined> {
    const pick = () =>
      this.live()
        .filter((b) => !exclude.includes(b.id))
        .sort((a, b) => this.score(a.id) - this.score(b.id) || this.routers(a) - this.routers(b) || a.id.localeCompare(b.id))[0]?.id;
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
