import type { EventOf, Heartbeat } from '@strata/protocol';

type Beat = EventOf<typeof Heartbeat>;

/** The services of this region as their heartbeats describe them, for the status API and page. */
export class RegionStatus {
  private readonly beats = new Map<string, { beat: Beat; seenAt: number }>();

  observe(beat: Beat, now = Date.now()): void {
    this.beats.set(`${beat.kind}/${beat.id}`, { beat, seenAt: now });
  }

  /** Services heard from within three heartbeat intervals; older entries are forgotten. */
  live(now = Date.now()): Beat[] {
    const out: Beat[] = [];
    for (const [key, { beat, seenAt }] of this.beats) {
      if (now - seenAt > beat.intervalMs * 3 || beat.draining) this.beats.delete(key);
      else out.push(beat);
    }
    return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  }

  isAlive(kind: Beat['kind'], id: string, now = Date.now()): boolean {
    return this.live(now).some((b) => b.kind === kind && b.id === id);
  }
}
