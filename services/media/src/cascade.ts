import { MediaLinkConnect, MediaLinkForward, MediaLinkStop, StrataError, type LinkTuple, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { demandOf, isReduction, sameDemand, type Demand, type Watcher } from './link-demand.js';
import { Link, linkCapabilities, type LinkSettings } from './link.js';
import { mediasoupCall, unlessGone } from './media-error.js';
import type { RemoteProducer } from './remote-legs.js';

/** How a leg reaches the node of another leg of its room. */
export interface FarLegs {
  request<D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>): Promise<ResponseOf<D>>;
}

/** What the cascade needs of the leg it serves. */
export interface CascadeHost {
  readonly roomId: string;
  readonly nodeId: string;
  readonly region: string;
  readonly router: types.Router;
  /** A producer of this leg's own peers (never one forwarded here: links do not relay). */
  localProducer(producerId: string): types.Producer | undefined;
  /** This leg's consumers of a producer forwarded here. */
  watchers(producerId: string): Iterable<Watcher>;
}

export interface CascadeSettings extends LinkSettings {
  /** How long a stream nobody watches keeps flowing (or set up) before it is paused (or stopped). */
  lingerMs: number;
}

export type ForwardAnswer = ResponseOf<typeof MediaLinkForward>;

/** A producer of another leg, forwarded here: on this router it is a producer like any other, with the same id. */
class Inbound {
  producer: types.Producer | undefined;
  /** What the far leg was last asked to send. */
  applied: Demand = { forward: true, paused: false, spatialLayer: undefined };
  busy = false;
  lingerTimer: NodeJS.Timeout | undefined;
  /** The far leg said the producer closed while the stream was being set up. */
  gone = false;

  constructor(
    readonly producerId: string,
    readonly nodeId: string,
    readonly ready: Promise<types.Producer>,
  ) {}
}

/**
 * One leg's links to the other legs of its room, and the streams on them, both ways:
 * - near side: a local subscriber needs producer P of leg X → `pull(P)` asks X to forward it
 *   and produces it here under P's id; from then on the demand of this leg's consumers of P
 *   (`watchersChanged`) decides what X sends: nothing once no consumer is left, no bytes once
 *   none watches, and only the highest spatial layer a watcher asked for. Less waits
 *   `lingerMs`; more is asked at once.
 * - far side: another leg's `link.connect`, `link.forward`, `link.stop` (`connect`, `forward`,
 *   `stop`): one consumer per producer and node on the link, with preferred layers.
 * One link (a plain transport on each end) per pair of legs, created by whichever needs it
 * first and reused for every stream between them, both directions.
 */
export class Cascade {
  private readonly ends = new Map<string, Promise<Link>>();
  /** Links this leg asked the far leg to connect, until it answered. */
  private readonly dialing = new Map<string, Promise<Link>>();
  private readonly inbound = new Map<string, Inbound>();
  /** Streams this leg sends, by `<node> <producerId>`. */
  private readonly outbound = new Map<string, { nodeId: string; consumer: types.Consumer }>();
  private readonly caps: types.RtpCapabilities;
  /** The far side's forwards and stops for one stream run one after the other, by `<node> <producerId>`. */
  private readonly streamOps = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly host: CascadeHost,
    private readonly far: FarLegs,
    private readonly settings: CascadeSettings,
    private readonly log: Logger,
  ) {
    this.caps = linkCapabilities(host.router.rtpCapabilities);
  }

  /** Nodes this leg has a link with. */
  linkedNodes(): string[] {
    return [...this.ends.keys()];
  }

  get counts(): { links: number; sending: number; receiving: number } {
    return { links: this.ends.size, sending: this.outbound.size, receiving: this.inbound.size };
  }

  /**
   * This leg's end of the link to `nodeId`, created on first use. `srtp`: what the link to it
   * must be (the setting, another region, or the far end asking); an end made without SRTP
   * cannot become an SRTP one.
   */
  private async end(nodeId: string, srtp: boolean): Promise<Link> {
    const link = await this.endOf(nodeId, srtp);
    if (srtp && !link.srtp) throw new StrataError('CONFLICT', `the link to ${nodeId} in room ${this.host.roomId} exists without SRTP`);
    return link;
  }

  private endOf(nodeId: string, srtp: boolean): Promise<Link> {
    if (this.closed) return Promise.reject(new StrataError('NOT_FOUND', `room ${this.host.roomId} closed on this node`));
    let p = this.ends.get(nodeId);
    if (!p) {
      p = Link.create(this.host.router, nodeId, this.settings, srtp, this.log);
      this.ends.set(nodeId, p);
      p.then(
        (link) =>
          link.transport.observer.once('close', () => {
            if (this.ends.get(nodeId) === p) this.ends.delete(nodeId);
          }),
        () => this.ends.delete(nodeId),
      );
    }
    return p;
  }

  /** Links stay in one region for now (a leg addresses others of its own region), so SRTP is the setting's. */
  private srtpTo(region: string): boolean {
    return this.settings.srtp === 'always' || region !== this.host.region;
  }

  /**
   * The link to `nodeId`, connected both ways. One `link.connect` per node at a time, shared by
   * concurrent pulls; `forwardNow` waits on it too.
   */
  private connectedLink(nodeId: string): Promise<Link> {
    const pending = this.dialing.get(nodeId);
    if (pending) return pending;
    const dial = this.dial(nodeId);
    this.dialing.set(nodeId, dial);
    const done = () => {
      if (this.dialing.get(nodeId) === dial) this.dialing.delete(nodeId);
    };
    dial.then(done, done);
    return dial;
  }

  /** Asks the far leg to connect to this end, unless it already did so itself. */
  private async dial(nodeId: string): Promise<Link> {
    const link = await this.end(nodeId, this.srtpTo(this.host.region));
    if (link.connected) return link;
    const { tuple } = await this.far.request(nodeId, MediaLinkConnect, {
      roomId: this.host.roomId,
      fromNodeId: this.host.nodeId,
      fromRegion: this.host.region,
      tuple: link.tuple,
    });
    await link.connectTo(tuple);
    return link;
  }

  // ---- near side: producers of other legs that this leg's subscribers consume ----

  /** The producer forwarded from its leg, set up on first use (concurrent pulls share one). */
  pull(remote: RemoteProducer, spatialLayer?: number): Promise<types.Producer> {
    const existing = this.inbound.get(remote.producer.producerId);
    if (existing) return existing.ready;
    const { producerId } = remote.producer;
    let stream: Inbound | undefined;
    const ready = (async () => {
      const link = await this.connectedLink(remote.nodeId);
      const answer = await this.far.request(remote.nodeId, MediaLinkForward, {
        roomId: this.host.roomId,
        fromNodeId: this.host.nodeId,
        producerId,
        paused: false,
        // The first consumer's layer from the start: asking the top one first would cost the
        // sender a key frame nobody needs, and could give a thumbnail a big frame first.
        ...(spatialLayer !== undefined ? { spatialLayer } : {}),
      });
      const producer = await mediasoupCall(() =>
        link.transport.produce({
          id: producerId,
          kind: answer.kind,
          rtpParameters: answer.rtpParameters as types.RtpParameters,
          paused: answer.producerPaused,
          appData: { peerId: answer.peerId, source: answer.source, forwardedFrom: remote.nodeId },
        }),
      );
      producer.observer.once('close', () => {
        const s = this.inbound.get(producerId);
        if (s?.producer === producer) this.forgetInbound(s);
      });
      if (stream) stream.producer = producer;
      if (stream?.gone) producer.close();
      this.log.info({ producerId, from: remote.nodeId, kind: answer.kind }, 'forwarded producer set up');
      return producer;
    })();
    stream = new Inbound(producerId, remote.nodeId, ready);
    stream.applied = { forward: true, paused: false, spatialLayer };
    this.inbound.set(producerId, stream);
    ready.catch((err: unknown) => {
      if (this.inbound.get(producerId) === stream) this.inbound.delete(producerId);
      this.log.warn({ err, producerId, from: remote.nodeId }, 'forwarded producer not set up');
      // A forward that timed out may still be carried out by the far leg when it gets to it:
      // tell it to stop, or it would send a stream nobody here receives.
      void this.far.request(remote.nodeId, MediaLinkStop, { roomId: this.host.roomId, fromNodeId: this.host.nodeId, producerId }).catch(() => undefined);
    });
    return ready;
  }

  /** Whether `producerId` is a producer forwarded here (not one of this leg's peers). */
  isForwarded(producerId: string): boolean {
    return this.inbound.has(producerId);
  }

  /** This leg's consumers of a forwarded producer changed (one came, went, paused, resumed, asked for other layers). */
  watchersChanged(producerId: string): void {
    const s = this.inbound.get(producerId);
    if (s) this.reconcile(s);
  }

  private reconcile(s: Inbound): void {
    if (s.busy || !s.producer || s.producer.closed) return;
    const next = demandOf(this.host.watchers(s.producerId));
    if (sameDemand(s.applied, next)) {
      this.stopLinger(s);
      return;
    }
    if (isReduction(s.applied, next)) {
      s.lingerTimer ??= setTimeout(() => {
        s.lingerTimer = undefined;
        void this.apply(s, demandOf(this.host.watchers(s.producerId)));
      }, this.settings.lingerMs);
      s.lingerTimer.unref();
      return;
    }
    this.stopLinger(s);
    void this.apply(s, next);
  }

  private stopLinger(s: Inbound): void {
    if (s.lingerTimer) clearTimeout(s.lingerTimer);
    s.lingerTimer = undefined;
  }

  private async apply(s: Inbound, demand: Demand): Promise<void> {
    if (s.busy || !s.producer || s.producer.closed || sameDemand(s.applied, demand)) return;
    s.busy = true;
    const req = { roomId: this.host.roomId, fromNodeId: this.host.nodeId, producerId: s.producerId };
    try {
      if (!demand.forward) {
        s.producer.close(); // nobody here consumes it any more
        await this.far.request(s.nodeId, MediaLinkStop, req);
      } else {
        await this.far.request(s.nodeId, MediaLinkForward, {
          ...req,
          paused: demand.paused,
          ...(demand.spatialLayer !== undefined ? { spatialLayer: demand.spatialLayer } : {}),
        });
      }
      s.applied = demand;
      this.log.debug({ producerId: s.producerId, from: s.nodeId, demand }, 'link stream changed');
    } catch (err) {
      this.log.warn({ err, producerId: s.producerId, from: s.nodeId }, 'link stream not changed; closing it');
      if (!s.producer.closed) s.producer.close();
    } finally {
      s.busy = false;
    }
    if (!s.producer.closed) this.reconcile(s);
  }

  private forgetInbound(s: Inbound): void {
    this.stopLinger(s);
    this.inbound.delete(s.producerId);
  }

  /** The far leg paused or resumed the producer: so does its copy here, and this leg's consumers tell their clients. */
  remotePaused(producerId: string, paused: boolean): void {
    const p = this.inbound.get(producerId)?.producer;
    if (!p || p.closed || p.paused === paused) return;
    void (paused ? p.pause() : p.resume()).catch((err: unknown) => this.log.warn({ err, producerId }, 'forwarded producer not paused/resumed'));
  }

  /** The producer closed on its leg (or the leg is gone): its copy here closes, and with it this leg's consumers of it. */
  remoteClosed(producerId: string): void {
    const s = this.inbound.get(producerId);
    if (!s) return;
    s.gone = true;
    if (s.producer && !s.producer.closed) s.producer.close();
  }

  /** The leg on `nodeId` closed or its node is gone: the link to it goes, with every stream on it. */
  legGone(nodeId: string): void {
    for (const s of [...this.inbound.values()]) if (s.nodeId === nodeId) this.remoteClosed(s.producerId);
    const end = this.ends.get(nodeId);
    this.ends.delete(nodeId);
    void end?.then((link) => link.close()).catch(() => undefined);
  }

  // ---- far side: what other legs pull from this one ----

  async connect(fromNodeId: string, fromRegion: string, tuple: LinkTuple): Promise<LinkTuple> {
    const srtp = this.srtpTo(fromRegion);
    if (srtp && !tuple.srtpParameters) throw new StrataError('CONFLICT', `links from ${fromNodeId} must use SRTP here (MEDIA_LINK_SRTP or another region)`);
    const link = await this.end(fromNodeId, srtp || tuple.srtpParameters !== undefined);
    await link.connectTo(tuple);
    return link.tuple;
  }

  /**
   * Runs `op` after the operations already queued for the same stream: a stop that arrives
   * while a forward still waits on the worker (a slow node, a caller that gave up) must find
   * the stream that forward makes, or that stream would flow to nobody.
   */
  private serially<T>(key: string, op: () => Promise<T>): Promise<T> {
    const run = (this.streamOps.get(key) ?? Promise.resolve()).then(op, op);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.streamOps.set(key, settled);
    void settled.then(() => {
      if (this.streamOps.get(key) === settled) this.streamOps.delete(key);
    });
    return run;
  }

  forward(fromNodeId: string, producerId: string, spatialLayer: number | undefined, paused: boolean): Promise<ForwardAnswer> {
    return this.serially(`${fromNodeId} ${producerId}`, () => this.forwardNow(fromNodeId, producerId, spatialLayer, paused));
  }

  private async forwardNow(fromNodeId: string, producerId: string, spatialLayer: number | undefined, paused: boolean): Promise<ForwardAnswer> {
    const producer = this.host.localProducer(producerId);
    if (!producer) throw new StrataError('NOT_FOUND', `no producer ${producerId} of this leg of room ${this.host.roomId}`);
    // The far leg may ask for a stream as soon as its end is connected, which is when it
    // answered our own link.connect and before that answer reached us: wait for it then.
    const pending = this.dialing.get(fromNodeId) ?? this.ends.get(fromNodeId);
    const link = pending && (await pending.catch(() => undefined));
    if (!link?.connected) throw new StrataError('CONFLICT', `no link from ${fromNodeId} in room ${this.host.roomId}: link.connect first`);
    const key = `${fromNodeId} ${producerId}`;
    let consumer = this.outbound.get(key)?.consumer;
    if (!consumer) {
      const c = await mediasoupCall(() => link.transport.consume({ producerId, rtpCapabilities: this.caps, paused, appData: { link: fromNodeId } }));
      consumer = c;
      this.outbound.set(key, { nodeId: fromNodeId, consumer: c });
      c.observer.once('close', () => {
        if (this.outbound.get(key)?.consumer === c) this.outbound.delete(key);
      });
    } else if (consumer.paused !== paused) {
      await mediasoupCall(() => (paused ? consumer!.pause() : consumer!.resume()));
      if (!paused && consumer.kind === 'video') await consumer.requestKeyFrame().catch(() => undefined);
    }
    if (consumer.type === 'simulcast' || consumer.type === 'svc') {
      // mediasoup switches at the target layer's next key frame and asks the sender for one.
      const top = Math.max(0, (producer.rtpParameters.encodings?.length ?? 1) - 1);
      const spatial = Math.min(spatialLayer ?? top, consumer.type === 'svc' ? 15 : top);
      await mediasoupCall(() => consumer!.setPreferredLayers({ spatialLayer: spatial, temporalLayer: 15 }));
    }
    const app = producer.appData as { peerId?: string; source?: ForwardAnswer['source'] };
    return {
      peerId: app.peerId ?? '',
      kind: consumer.kind,
      ...(app.source ? { source: app.source } : {}),
      rtpParameters: farRtpParameters(consumer) as ForwardAnswer['rtpParameters'],
      producerPaused: consumer.producerPaused,
    };
  }

  stop(fromNodeId: string, producerId: string): Promise<boolean> {
    const key = `${fromNodeId} ${producerId}`;
    return this.serially(key, () => {
      const out = this.outbound.get(key);
      if (!out) return Promise.resolve(false);
      out.consumer.close();
      return Promise.resolve(true);
    });
  }

  /**
   * What crosses this leg's links, from mediasoup's own stats. A stream or link that closes
   * while it is read (its producer went on the far side) is left out, not an error.
   */
  async stats() {
    const links = [];
    for (const [nodeId, end] of this.ends) {
      const link = await end.catch(() => undefined);
      if (!link || link.closed) continue;
      const transport = await unlessGone(() => link.transport.getStats());
      if (!transport) continue;
      const sending = [];
      for (const { nodeId: to, consumer } of this.outbound.values()) {
        if (to !== nodeId || consumer.closed) continue;
        const stats = await unlessGone(() => consumer.getStats());
        if (stats) sending.push({ producerId: consumer.producerId, kind: consumer.kind, paused: consumer.paused, stats: plain(stats) });
      }
      const receiving = [];
      for (const s of this.inbound.values()) {
        const producer = s.producer;
        if (s.nodeId !== nodeId || !producer || producer.closed) continue;
        const stats = await unlessGone(() => producer.getStats());
        if (stats) receiving.push({ producerId: s.producerId, kind: producer.kind, stats: plain(stats) });
      }
      links.push({ nodeId, srtp: link.srtp, transport: { ...(transport[0] ?? {}) } as Record<string, unknown>, sending, receiving });
    }
    return links;
  }

  /** The room closed here: its router took every link with it; only timers are left. */
  close(): void {
    this.closed = true;
    for (const s of this.inbound.values()) this.stopLinger(s);
    for (const end of this.ends.values()) void end.then((link) => link.close()).catch(() => undefined);
    this.ends.clear();
    this.inbound.clear();
    this.outbound.clear();
  }
}

const plain = (stats: object[]) => stats.map((s) => ({ ...s }) as Record<string, unknown>);

/**
 * What the far leg produces from a link consumer's parameters. A simulcast producer's consumer
 * sends one stream at a time; its parameters still describe the producer's spatial layers
 * (`L3T3`), and the far copy, one stream, has one (`L1T3`), so that its own consumers are
 * what mediasoup makes of a single stream with temporal layers.
 */
function farRtpParameters(consumer: types.Consumer): types.RtpParameters {
  const params = JSON.parse(JSON.stringify(consumer.rtpParameters)) as types.RtpParameters;
  if (consumer.type === 'simulcast') {
    for (const e of params.encodings ?? []) {
      const t = /T(\d+)/.exec(e.scalabilityMode ?? '')?.[1];
      if (e.scalabilityMode) e.scalabilityMode = `L1T${t ?? '1'}`;
    }
  }
  delete params.mid;
  return params;
}
