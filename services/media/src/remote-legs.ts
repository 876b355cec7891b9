import type { LegEvent, PeerSummary, ProducerSummary } from '@strata/protocol';

/** One leg's state as of its event `seq`. */
export interface LegSnapshot {
  legId: string;
  seq: number;
  peers: PeerSummary[];
}

export interface RemoteProducer {
  nodeId: string;
  peerId: string;
  producer: ProducerSummary;
}

/** What a change to another leg means for this one: the streams it pulls from that leg follow. */
export interface RemoteLegsListener {
  producerAdded(producerId: string): void;
  producerPaused(producerId: string, paused: boolean): void;
  producerClosed(producerId: string, nodeId: string): void;
  /** The leg is gone (closed, replaced by a new opening, or dropped because its node is): its links go too. */
  legGone(nodeId: string): void;
}

/**
 * `applied`: the state moved on; `stale`: already known; `gap`: events were missed (or the leg
 * is new to us mid-way): ask that leg for its state and `replace` with it.
 */
export type Outcome = 'applied' | 'stale' | 'gap';

interface Leg {
  legId: string;
  seq: number;
  members: Map<string, PeerSummary>;
}

/**
 * The other legs of one room, as their events and snapshots tell: their members and producers.
 * Every leg keeps this for every other leg, so each answers a join with the whole room and
 * knows where any producer lives. Events are numbered per leg (per opening of the room on a
 * node: `legId`), so a lost or reordered one is noticed, never silently skipped.
 */
export class RemoteLegs {
  private readonly legs = new Map<string, Leg>();
  private readonly producers = new Map<string, { nodeId: string; peerId: string }>();

  constructor(private readonly listener: RemoteLegsListener) {}

  nodes(): string[] {
    return [...this.legs.keys()];
  }

  hasMember(peerId: string): boolean {
    for (const leg of this.legs.values()) if (leg.members.has(peerId)) return true;
    return false;
  }

  has(nodeId: string): boolean {
    return this.legs.has(nodeId);
  }

  producer(producerId: string): RemoteProducer | undefined {
    const where = this.producers.get(producerId);
    const producer =
      where &&
      this.legs
        .get(where.nodeId)
        ?.members.get(where.peerId)
        ?.producers.find((p) => p.producerId === producerId);
    return where && producer ? { ...where, producer } : undefined;
  }

  /** Every member of every other leg. */
  peers(): PeerSummary[] {
    const out: PeerSummary[] = [];
    for (const leg of this.legs.values()) for (const m of leg.members.values()) out.push({ ...m, producers: m.producers.map((p) => ({ ...p })) });
    return out;
  }

  get memberCount(): number {
    let n = 0;
    for (const leg of this.legs.values()) n += leg.members.size;
    return n;
  }

  apply(e: LegEvent): Outcome {
    let leg = this.legs.get(e.nodeId);
    if (leg && leg.legId !== e.legId) {
      // The room closed on that node and opened again: what we knew of it is gone.
      this.drop(e.nodeId);
      leg = undefined;
    }
    if (e.type === 'legOpened') {
      // A presence announcement: it carries the leg's current number without adding one.
      if (leg) return e.seq > leg.seq ? 'gap' : 'stale';
      if (e.seq > 0) return 'gap';
      this.legs.set(e.nodeId, { legId: e.legId, seq: 0, members: new Map() });
      return 'applied';
    }
    if (e.type === 'legClosed') {
      if (!leg) return 'stale';
      this.drop(e.nodeId);
      return 'applied';
    }
    const seq = leg?.seq ?? 0;
    if (e.seq <= seq) return 'stale';
    if (e.seq > seq + 1) return 'gap';
    if (!leg) {
      leg = { legId: e.legId, seq: 0, members: new Map() };
      this.legs.set(e.nodeId, leg);
    }
    leg.seq = e.seq;
    switch (e.type) {
      case 'memberJoined':
        if (!leg.members.has(e.peer.peerId)) leg.members.set(e.peer.peerId, { ...e.peer, producers: [] });
        break;
      case 'memberLeft': {
        const m = leg.members.get(e.peerId);
        leg.members.delete(e.peerId);
        for (const p of m?.producers ?? []) this.forget(p.producerId, e.nodeId);
        break;
      }
      case 'producerAdded': {
        const m = leg.members.get(e.peerId);
        if (m && !m.producers.some((p) => p.producerId === e.producer.producerId)) {
          m.producers.push({ ...e.producer });
          this.producers.set(e.producer.producerId, { nodeId: e.nodeId, peerId: e.peerId });
          this.listener.producerAdded(e.producer.producerId);
        }
        break;
      }
      case 'producerPaused': {
        const p = leg.members.get(e.peerId)?.producers.find((x) => x.producerId === e.producerId);
        if (p && p.paused !== e.paused) {
          p.paused = e.paused;
          this.listener.producerPaused(e.producerId, e.paused);
        }
        break;
      }
      case 'producerClosed': {
        const m = leg.members.get(e.peerId);
        if (m) m.producers = m.producers.filter((p) => p.producerId !== e.producerId);
        this.forget(e.producerId, e.nodeId);
        break;
      }
    }
    return 'applied';
  }

  /** Takes a leg's own answer as the truth, unless what we already applied is newer. */
  replace(nodeId: string, snap: LegSnapshot): Outcome {
    let old = this.legs.get(nodeId);
    if (old && old.legId === snap.legId && snap.seq <= old.seq) return 'stale';
    if (old && old.legId !== snap.legId) {
      this.drop(nodeId); // another opening of the room there: links to the old one are dead
      old = undefined;
    }
    const before = new Map<string, ProducerSummary>();
    for (const m of old?.members.values() ?? []) for (const p of m.producers) before.set(p.producerId, p);
    const members = new Map<string, PeerSummary>();
    for (const peer of snap.peers) {
      members.set(peer.peerId, { ...peer, producers: peer.producers.map((p) => ({ ...p })) });
      for (const p of peer.producers) this.producers.set(p.producerId, { nodeId, peerId: peer.peerId });
    }
    this.legs.set(nodeId, { legId: snap.legId, seq: snap.seq, members });
    const now = new Map<string, ProducerSummary>();
    for (const m of members.values()) for (const p of m.producers) now.set(p.producerId, p);
    for (const [id, p] of before) {
      const still = now.get(id);
      if (!still) this.forget(id, nodeId);
      else if (still.paused !== p.paused) this.listener.producerPaused(id, still.paused);
    }
    for (const id of now.keys()) if (!before.has(id)) this.listener.producerAdded(id);
    return 'applied';
  }

  /** Forgets a leg: it closed, or its node is gone. */
  drop(nodeId: string): void {
    const leg = this.legs.get(nodeId);
    if (!leg) return;
    this.legs.delete(nodeId);
    for (const m of leg.members.values()) for (const p of m.producers) this.forget(p.producerId, nodeId);
    this.listener.legGone(nodeId);
  }

  private forget(producerId: string, nodeId: string): void {
    if (this.producers.get(producerId)?.nodeId !== nodeId) return;
    this.producers.delete(producerId);
    this.listener.producerClosed(producerId, nodeId);
  }
}
