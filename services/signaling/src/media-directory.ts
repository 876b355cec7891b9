import type { EventOf, Heartbeat } from '@strata/protocol';

type Beat = EventOf<typeof Heartbeat>;

/** The region's media nodes as their heartbeats describe them. */
export class MediaDirectory {
  private readonly nodes = new Map<string, { beat: Beat; seenAt: number }>();
  private waiters: (() => void)[] = [];

  observe(beat: Beat, now = Date.now()): void {
    if (beat.draining) this.nodes.delete(beat.id);
    else this.nodes.set(beat.id, { beat, seenAt: now });
    for (const w of this.waiters.splice(0)) w();
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
        .sort((a, b) => a.load.score - b.load.score || a.id.localeCompare(b.id))[0]?.id;
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
