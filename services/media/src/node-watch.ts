import type { Bus } from '@strata/bus';
import { Heartbeat, subjects } from '@strata/protocol';
import { HeartbeatTable } from '@strata/service';
import type { Logger } from '@strata/telemetry';

/**
 * The region's other media nodes, from their heartbeats: a node that was live and whose beats
 * stopped (killed, partitioned) or that announced it drains is reported gone once, so the
 * legs of its rooms here can drop it and its links without asking it.
 */
export class NodeWatch {
  private readonly table = new HeartbeatTable();
  private readonly live = new Set<string>();
  private readonly sub: { unsubscribe(): void };
  private readonly timer: NodeJS.Timeout;

  constructor(
    bus: Pick<Bus, 'subscribe'>,
    region: string,
    private readonly self: string,
    checkMs: number,
    private readonly onGone: (nodeId: string) => void,
    private readonly log: Logger,
  ) {
    this.sub = bus.subscribe(Heartbeat, subjects.heartbeats(region, 'media'), (beat) => {
      if (beat.id === this.self) return;
      this.table.observe(beat);
      if (beat.draining) this.check();
      else this.live.add(beat.id);
    });
    this.timer = setInterval(() => this.check(), checkMs);
    this.timer.unref();
  }

  private check(): void {
    const now = new Set(this.table.live().map((b) => b.id));
    for (const id of [...this.live]) {
      if (now.has(id)) continue;
      this.live.delete(id);
      this.log.warn({ nodeId: id }, 'media node gone; dropping its legs');
      this.onGone(id);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
  }
}
