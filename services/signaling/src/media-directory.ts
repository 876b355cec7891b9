import { HeartbeatTable, type Beat } from '@strata/service';
import type { NodeLoad } from './leg-selector.js';

/** What one leg placed since a node's last heartbeat is assumed to cost, until the node reports. */
const PENDING_LEG_WEIGHT = 0.01;

/**
 * The region's media nodes as their heartbeats describe them. Heartbeats lag by up to an
 * interval, so legs this gateway placed since a node's last heartbeat count against it:
 * a burst of new rooms spreads over the nodes instead of piling onto the one that looked idle.
 *
 * It also says which nodes are gone, so records naming them can be cleaned up without asking
 * them: a node that announced it drains, or one not heard within the liveness window once the
 * directory has listened for that long (before that, silence means nothing: a gateway that just
 * started has heard from nobody yet).
 */
export class MediaDirectory {
  private readonly table = new HeartbeatTable();
  /** Legs placed on each node since its last heartbeat. */
  private readonly pending = new Map<string, number>();
  /** Nodes whose last word was that they drain. */
  private readonly drained = new Set<string>();
  private waiters: (() => void)[] = [];

  constructor(
    /** How long this directory must have listened before silence means gone: three heartbeat intervals, the liveness window. */
    private readonly windowMs: number,
    private readonly listeningSince = Date.now(),
  ) {}

  observe(beat: Beat, now = Date.now()): void {
    this.table.observe(beat, now);
    this.pending.delete(beat.id);
    if (beat.draining) this.drained.add(beat.id);
    else this.drained.delete(beat.id);
    for (const w of this.waiters.splice(0)) w();
  }

  notePlaced(nodeId: string): void {
    this.pending.set(nodeId, (this.pending.get(nodeId) ?? 0) + 1);
  }

  /** Every live node with its load, pending legs counted in. */
  loads(now = Date.now()): NodeLoad[] {
    return this.table.live(now).map((b) => {
      const pending = this.pending.get(b.id) ?? 0;
      return { nodeId: b.id, score: b.load.score + pending * PENDING_LEG_WEIGHT, routers: Number(b.load.details['routers'] ?? 0) + pending };
    });
  }

  isLive(nodeId: string, now = Date.now()): boolean {
    return this.table.live(now).some((b) => b.id === nodeId);
  }

  /** True only when the node is known to be gone: it said it drains, or stayed silent for a whole window this directory listened through. */
  isGone(nodeId: string, now = Date.now()): boolean {
    if (this.drained.has(nodeId)) return true;
    return this.warm(now) && !this.isLive(nodeId, now);
  }

  /** Whether this directory has listened for a whole window: before that, a node not heard from may just not have beaten yet. */
  warm(now = Date.now()): boolean {
    return now - this.listeningSince >= this.windowMs;
  }

  /** Resolves once the directory is warm. */
  async untilWarm(now = Date.now()): Promise<void> {
    const left = this.listeningSince + this.windowMs - now;
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }

  get size(): number {
    return this.table.live().length;
  }

  /** Waits up to `waitMs` for a first live node; true when there is one. */
  async anyLive(waitMs: number): Promise<boolean> {
    if (this.size > 0 || waitMs <= 0) return this.size > 0;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, waitMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.size > 0;
  }
}
