/**
 * What a region still holds once its rooms are empty, counted from outside:
 *
 * - JetStream KV: messages and subjects of the streams behind the buckets (`KV_strata-peers`,
 *   `KV_strata-rooms`). A deleted key leaves a marker message on NATS
 *   2.9, and that counts: it is state left behind.
 * - NATS: client subscriptions per connection (nats-server's `/connz?subs=1`, needs its
 *   monitoring port) and consumers per KV stream (a watcher or `keys()` listing left open).
 *   `/subsz`'s total is recorded too, not compared (see diffLeftovers).
 * - The services' own counts, from their heartbeats (`load.details`): the gateway's sockets,
 *   sessions, rooms (room subscriptions) and grace timers, the media node's routers, transports,
 *   producers and consumers. Every numeric detail is compared, so a detail added later counts too.
 *
 * One counter keeps one NATS connection for every count, so its own subscriptions are in the
 * baseline and in the final count alike.
 */
import { Bus } from '@strata/bus';
import { memoryLogger } from '@strata/harness';
import { Heartbeat, buckets, subjects, type EventOf } from '@strata/protocol';

/** Every bucket the services use (`libs/protocol`'s list), as its stream. */
export const KV_STREAMS: readonly string[] = Object.values(buckets).map((b) => `KV_${b}`);

export interface LeftoverCounts {
  /** Per stream: messages and subjects (keys and delete markers), and consumers (watchers, `keys()` listings). */
  kv: Record<string, { messages: number; subjects: number; consumers: number }>;
  /** `/subsz` num_subscriptions (every account, JetStream's internal ones included; not compared); undefined without a monitoring URL. */
  natsSubscriptions: number | undefined;
  /** `/connz?subs=1`: client subscriptions per connection name (services name theirs `<kind>-<nodeId>`). */
  natsSubscriptionsByConnection: Record<string, number>;
  /** Sum over the region's gateways / media nodes of each numeric heartbeat detail. */
  gateway: Record<string, number>;
  media: Record<string, number>;
  /** How many nodes of each kind answered. */
  nodes: { signaling: number; media: number };
}

/** Details that describe capacity or configuration, not state a session leaves behind. */
const NOT_STATE = new Set(['workers', 'maxConsumers', 'sessionCapacity', 'eventLoop']);

export interface LeftoverDiff {
  what: string;
  baseline: number;
  now: number;
}

/** Every count that differs from the baseline (KV: any growth; others: any difference). */
export function diffLeftovers(baseline: LeftoverCounts, now: LeftoverCounts): LeftoverDiff[] {
  const out: LeftoverDiff[] = [];
  for (const s of KV_STREAMS) {
    const b = baseline.kv[s] ?? { messages: 0, subjects: 0, consumers: 0 };
    const n = now.kv[s] ?? { messages: 0, subjects: 0, consumers: 0 };
    if (n.messages !== b.messages) out.push({ what: `${s} messages`, baseline: b.messages, now: n.messages });
    if (n.subjects !== b.subjects) out.push({ what: `${s} subjects`, baseline: b.subjects, now: n.subjects });
    // Growth only: the warm-up's ephemeral consumers (`keys()` listings) may still be in the
    // baseline and expire on the server's schedule.
    if (n.consumers > b.consumers) out.push({ what: `nats consumers on ${s}`, baseline: b.consumers, now: n.consumers });
  }
  // `/subsz`'s total also counts JetStream's internal subscriptions, which come and go with
  // ephemeral consumers on the server's own schedule: reported, not compared. Client
  // subscriptions per connection and consumers per stream are what a service leaves behind.
  const conns = new Set([...Object.keys(baseline.natsSubscriptionsByConnection), ...Object.keys(now.natsSubscriptionsByConnection)]);
  for (const c of conns) {
    const b = baseline.natsSubscriptionsByConnection[c] ?? 0;
    const n = now.natsSubscriptionsByConnection[c] ?? 0;
    if (b !== n) out.push({ what: `nats subscriptions of ${c}`, baseline: b, now: n });
  }
  for (const kind of ['gateway', 'media'] as const) {
    const keys = new Set([...Object.keys(baseline[kind]), ...Object.keys(now[kind])]);
    for (const k of keys) {
      if (NOT_STATE.has(k)) continue;
      const b = baseline[kind][k] ?? 0;
      const n = now[kind][k] ?? 0;
      if (b !== n) out.push({ what: `${kind} ${k}`, baseline: b, now: n });
    }
  }
  return out;
}

export class LeftoverCounter {
  readonly #beats = new Map<string, EventOf<typeof Heartbeat>>();

  private constructor(
    readonly bus: Bus,
    readonly monitorUrl: string | undefined,
  ) {}

  static async open(opts: { natsUrl: string; natsMonitorUrl?: string | undefined; region: string }): Promise<LeftoverCounter> {
    const bus = await Bus.connect({ servers: opts.natsUrl, name: 'loadtest-leftovers', logger: memoryLogger().log });
    const c = new LeftoverCounter(bus, opts.natsMonitorUrl);
    bus.subscribe(Heartbeat, subjects.heartbeats(opts.region), (b) => void c.#beats.set(b.id, b));
    // The JetStream API inbox is created on first use: make it now, so the baseline has it.
    await c.#kv();
    return c;
  }

  async #kv(): Promise<LeftoverCounts['kv']> {
    const jsm = await this.bus.nc.jetstreamManager();
    const kv: LeftoverCounts['kv'] = {};
    for (const s of KV_STREAMS) {
      try {
        const info = await jsm.streams.info(s);
        kv[s] = { messages: info.state.messages, subjects: info.state.num_subjects ?? 0, consumers: info.state.consumer_count };
      } catch {
        kv[s] = { messages: 0, subjects: 0, consumers: 0 }; // bucket not created yet
      }
    }
    return kv;
  }

  async #subscriptions(): Promise<{ total: number | undefined; byConnection: Record<string, number> }> {
    if (!this.monitorUrl) return { total: undefined, byConnection: {} };
    const subsz = (await (await fetch(`${this.monitorUrl}/subsz`)).json()) as { num_subscriptions?: number };
    const connz = (await (await fetch(`${this.monitorUrl}/connz?subs=1&limit=100000`)).json()) as {
      connections?: { cid: number; name?: string; subscriptions?: number }[];
    };
    const byConnection: Record<string, number> = {};
    for (const c of connz.connections ?? []) {
      const name = c.name || `cid-${c.cid}`;
      byConnection[name] = (byConnection[name] ?? 0) + (c.subscriptions ?? 0);
    }
    return { total: subsz.num_subscriptions, byConnection };
  }

  /** Waits for a heartbeat from every known node sent after now, then counts. */
  async count(timeoutMs = 10_000): Promise<LeftoverCounts> {
    const since = Date.now();
    const deadline = since + timeoutMs;
    for (;;) {
      const nodes = [...this.#beats.values()].filter((b) => b.kind === 'signaling' || b.kind === 'media');
      if (nodes.length > 0 && nodes.every((b) => b.ts >= since)) break;
      if (Date.now() > deadline)
        throw new Error(
          `no fresh heartbeat from ${
            nodes
              .filter((b) => b.ts < since)
              .map((b) => b.id)
              .join(', ') || 'any gateway or media node'
          } within ${timeoutMs} ms`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    const gateway: Record<string, number> = {};
    const media: Record<string, number> = {};
    const nodes = { signaling: 0, media: 0 };
    for (const b of this.#beats.values()) {
      const into = b.kind === 'signaling' ? gateway : b.kind === 'media' ? media : undefined;
      if (!into) continue;
      nodes[b.kind as 'signaling' | 'media']++;
      for (const [k, v] of Object.entries(b.load.details)) if (typeof v === 'number') into[k] = (into[k] ?? 0) + v;
    }
    const kv = await this.#kv();
    const subs = await this.#subscriptions();
    return { kv, natsSubscriptions: subs.total, natsSubscriptionsByConnection: subs.byConnection, gateway, media, nodes };
  }

  /**
   * Counts until everything but KV is back to `baseline` (rooms close on an idle timer, so the
   * media node's counts settle late) or the deadline passes; returns the last count. KV is
   * not waited for: a marker never goes away by itself.
   */
  async settle(baseline: LeftoverCounts, timeoutMs: number): Promise<LeftoverCounts> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.count();
      const live = diffLeftovers(baseline, now).filter((d) => !d.what.startsWith('KV_'));
      if (live.length === 0 || Date.now() > deadline) return now;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /**
   * Waits (up to `timeoutMs`) until the services' heartbeats show no session, room, router or
   * transport: the state of an idle region, to take a baseline from.
   */
  async quiesce(timeoutMs: number): Promise<LeftoverCounts> {
    const deadline = Date.now() + timeoutMs;
    let previous: LeftoverCounts | undefined;
    for (;;) {
      const now = await this.count();
      const busy = ['sessions', 'sockets', 'rooms'].some((k) => (now.gateway[k] ?? 0) > 0) || ['routers', 'transports'].some((k) => (now.media[k] ?? 0) > 0);
      // Idle in two counts in a row, each after a fresh heartbeat, with the same subscriptions:
      // a room's per-room subscriptions (its legs' events, levels) go with the room, and a
      // count taken as it closes could see one without the other.
      const steady = previous !== undefined && JSON.stringify(previous.natsSubscriptionsByConnection) === JSON.stringify(now.natsSubscriptionsByConnection);
      if ((!busy && steady) || Date.now() > deadline) return now;
      previous = busy ? undefined : now;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async close(): Promise<void> {
    await this.bus.drain().catch(() => undefined);
  }
}
