import type { Bus } from '@strata/bus';
import { LegEvent, MediaRoomLeg, StrataError, subjects, type PeerSummary, type ProducerSummary } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { Subscription } from 'nats';
import type { FarLegs } from './cascade.js';
import type { RemoteLegs } from './remote-legs.js';

type Change =
  | { type: 'memberJoined'; peer: { peerId: string; identity: string; name?: string } }
  | { type: 'memberLeft'; peerId: string }
  | { type: 'producerAdded'; peerId: string; producer: ProducerSummary }
  | { type: 'producerPaused'; peerId: string; producerId: string; paused: boolean }
  | { type: 'producerClosed'; peerId: string; producerId: string };

export interface LegSyncDeps {
  /** What the sync needs of the bus (a fake in unit tests). */
  bus: Pick<Bus, 'publish' | 'subscribe'>;
  region: string;
  nodeId: string;
  far: FarLegs;
  log: Logger;
}

/**
 * Keeps one leg and the room's other legs in step over NATS: publishes what changes here,
 * numbered, and applies what the others publish to `remote`. A leg that hears of a leg it
 * does not know, or misses one of its events, asks that leg for its state (`room.leg`), so a
 * lost message costs a request, never a wrong roster.
 */
export class LegSync {
  private seq = 0;
  private sub: Subscription | undefined;
  private readonly fetching = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly roomId: string,
    /** This opening of the room on this node (the router's id). */
    readonly legId: string,
    private readonly remote: RemoteLegs,
    /** This leg's own members with their producers. */
    private readonly localPeers: () => PeerSummary[],
    private readonly deps: LegSyncDeps,
  ) {}

  /** Listens first, then announces itself and asks the legs it was told of: nothing said meanwhile is missed. */
  start(): void {
    const { bus, region, log } = this.deps;
    this.sub = bus.subscribe(LegEvent, subjects.roomLegs(region, this.roomId), (e) => this.onEvent(e));
    this.publish({ type: 'legOpened', seq: 0 });
    log.debug({ roomId: this.roomId, legId: this.legId }, 'leg opened');
  }

  /** Legs the placement names: those not known yet are asked for their state; resolves once they answered (or failed to). */
  async learn(nodeIds: readonly string[]): Promise<void> {
    const asked: Promise<void>[] = [];
    for (const n of nodeIds) if (n !== this.deps.nodeId && !this.remote.has(n)) asked.push(this.fetch(n));
    await Promise.all(asked);
  }

  snapshot() {
    return { open: true, legId: this.legId, seq: this.seq, peers: this.localPeers() };
  }

  changed(change: Change): void {
    if (this.closed) return;
    this.seq++;
    this.publish({ ...change, seq: this.seq });
  }

  private publish(body: (Change & { seq: number }) | { type: 'legOpened'; seq: number; hello?: boolean } | { type: 'legClosed'; seq: number }): void {
    const { bus, region, nodeId } = this.deps;
    bus.publish(LegEvent, subjects.roomLegs(region, this.roomId), { ...body, roomId: this.roomId, nodeId, legId: this.legId } as LegEvent);
  }

  private onEvent(e: LegEvent): void {
    if (this.closed || e.nodeId === this.deps.nodeId) return;
    const outcome = this.remote.apply(e);
    if (outcome === 'gap') void this.fetch(e.nodeId);
    // A leg that just opened may not know this one (it was placed before us, unseen): say we are here.
    if (e.type === 'legOpened' && !e.hello) this.publish({ type: 'legOpened', seq: this.seq, hello: true });
  }

  /**
   * Asks the legs this one has links with whether they are still there: a leg that closed
   * without us hearing it, or opened again, or whose node stopped answering, is dropped with
   * its links, never left half-open. Missed events are repaired on the way.
   */
  async audit(nodeIds: readonly string[]): Promise<void> {
    await Promise.all(nodeIds.map((n) => this.fetch(n, true)));
  }

  private fetch(nodeId: string, dropIfSilent = false): Promise<void> {
    const inFlight = this.fetching.get(nodeId);
    if (inFlight) return inFlight;
    const run = this.deps.far
      .request(nodeId, MediaRoomLeg, { roomId: this.roomId })
      .then((snap) => {
        if (this.closed) return;
        if (!snap.open || !snap.legId) this.remote.drop(nodeId);
        else this.remote.replace(nodeId, { legId: snap.legId, seq: snap.seq, peers: snap.peers });
      })
      .catch((err: unknown) => {
        const code = StrataError.from(err).code;
        const silent = code === 'TIMEOUT' || code === 'UNAVAILABLE';
        this.deps.log.warn({ roomId: this.roomId, nodeId, code }, silent && dropIfSilent ? 'leg does not answer; dropping it' : 'leg state not fetched');
        if (silent && dropIfSilent && !this.closed) this.remote.drop(nodeId);
      })
      .finally(() => this.fetching.delete(nodeId));
    this.fetching.set(nodeId, run);
    return run;
  }

  close(): void {
    if (this.closed) return;
    this.seq++;
    this.publish({ type: 'legClosed', seq: this.seq });
    this.closed = true;
    this.sub?.unsubscribe();
  }
}
