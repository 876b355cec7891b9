import {
  LegLevels,
  SpeakerRanking,
  StrataError,
  subjects,
  type ConsumerInfo,
  type MediaEvent,
  type PeerMedia,
  type PeerSummary,
  type ProducerSummary,
  type SrtpCryptoSuite,
  type SrtpParameters,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { Cascade, type CascadeSettings, type FarLegs } from './cascade.js';
import { reportConsumerEvents } from './consumer-events.js';
import { LegSpeakers, type LegSpeakersOptions } from './leg-speakers.js';
import { LegSync, type LegSyncDeps } from './leg-sync.js';
import type { Watcher } from './link-demand.js';
import { mediasoupCall } from './media-error.js';
import { directionOf, PeerTransports, type AnyTransport, type Direction, type TransportSettings } from './peer-transports.js';
import { RemoteLegs, type RemoteProducer } from './remote-legs.js';
import type { PooledWorker } from './worker-pool.js';

type Source = 'camera' | 'microphone' | 'screen' | 'bot';
type Action = 'pause' | 'resume' | 'close';

export interface MediaRoomEvents {
  /** A peer's consumer or transport changed on its own (producer closed, layers...). */
  media(event: MediaEvent): void;
  activeSpeaker(peerId: string, producerId: string): void;
  /** The room went from used (members or transports) to unused, or back. */
  idle(idle: boolean): void;
}

export interface RoomLimits extends TransportSettings {
  /** Returns false when the node cannot take one more consumer. */
  admitConsumer(): boolean;
}

export interface RoomOptions {
  roomId: string;
  nodeId: string;
  region: string;
  worker: PooledWorker;
  codecs: types.RouterRtpCodecCapability[];
  speakerIntervalMs: number;
  /** The room-wide ranking this leg takes part in. */
  speakers: LegSpeakersOptions;
  limits: RoomLimits;
  cascade: CascadeSettings;
  /** How long a consume waits to hear of a producer another leg announced to the room. */
  remoteProducerWaitMs: number;
  /** How often a leg asks the legs it has links with whether they are still there. */
  linkCheckMs: number;
  bus: LegSyncDeps['bus'];
  far: FarLegs;
  events: MediaRoomEvents;
  log: Logger;
}

export interface Member {
  peerId: string;
  identity: string;
  name?: string;
}

interface Owned<T> {
  peerId: string;
  value: T;
}

interface ConsumerEntry {
  peerId: string;
  consumer: types.Consumer;
  /** The highest spatial layer the client asked for (undefined: the top one); what a link forwards follows it. */
  spatialLayer: number | undefined;
}

/**
 * This node's leg of one room: a router, its active-speaker observer, the leg's members (from
 * join to leave), and every peer's transports, producers and consumers, indexed by id and
 * tagged with the owning peer. The rest of the room (the other legs' members and producers)
 * is `remote`, kept in step by `sync`; producers of other legs that local peers consume
 * come over the `cascade`'s links and are then producers of this router like the local ones.
 */
export class MediaRoom {
  private readonly members = new Map<string, Member>();
  private wasIdle = true;
  /** Sent on every join: copied out of mediasoup once, not per request. */
  readonly rtpCapabilities: Record<string, unknown>;
  private readonly transports = new Map<string, Owned<AnyTransport>>();
  /** This leg's peers' producers (forwarded ones are the cascade's). */
  private readonly producers = new Map<string, Owned<types.Producer>>();
  private readonly consumers = new Map<string, ConsumerEntry>();
  private readonly consumersOf = new Map<string, Set<string>>();
  private readonly remote: RemoteLegs;
  private readonly sync: LegSync;
  private readonly cascade: Cascade;
  private readonly transportsFactory: PeerTransports;
  private readonly waitingFor = new Map<string, (() => void)[]>();
  readonly roomId: string;
  readonly nodeId: string;
  readonly region: string;
  private readonly log: Logger;

  private speakers!: LegSpeakers;

  private constructor(
    readonly router: types.Router,
    readonly worker: PooledWorker,
    private readonly speaker: types.ActiveSpeakerObserver,
    private readonly opts: RoomOptions,
  ) {
    this.roomId = opts.roomId;
    this.nodeId = opts.nodeId;
    this.region = opts.region;
    this.log = opts.log.child({ roomId: opts.roomId, routerId: router.id });
    this.rtpCapabilities = JSON.parse(JSON.stringify(router.rtpCapabilities)) as Record<string, unknown>;
    this.transportsFactory = new PeerTransports(router, worker, opts.limits, this.log);
    this.cascade = new Cascade(this, opts.far, opts.cascade, this.log);
    this.remote = new RemoteLegs({
      producerAdded: (id) => this.wake(id),
      producerPaused: (id, paused) => this.cascade.remotePaused(id, paused),
      producerClosed: (id) => this.cascade.remoteClosed(id),
      legGone: (nodeId) => {
        this.cascade.legGone(nodeId);
        this.speakers?.dropLeg(nodeId);
      },
    });
    this.sync = new LegSync(opts.roomId, router.id, this.remote, () => this.localRoster(), {
      bus: opts.bus,
      region: opts.region,
      nodeId: opts.nodeId,
      far: opts.far,
      log: this.log,
    });
    speaker.on('dominantspeaker', ({ producer }) => {
      const owner = this.producers.get(producer.id);
      if (owner) opts.events.activeSpeaker(owner.peerId, producer.id);
    });
    const check = setInterval(() => {
      const linked = this.cascade.linkedNodes();
      if (linked.length) void this.sync.audit(linked);
    }, opts.linkCheckMs);
    check.unref();
    router.observer.once('close', () => {
      clearInterval(check);
      this.sync.close();
      this.cascade.close();
      this.speakers?.close();
    });
  }

  static async create(opts: RoomOptions): Promise<MediaRoom> {
    const router = await opts.worker.worker.createRouter({ mediaCodecs: opts.codecs, appData: { roomId: opts.roomId } });
    const speaker = await router.createActiveSpeakerObserver({ interval: opts.speakerIntervalMs });
    const room = new MediaRoom(router, opts.worker, speaker, opts);
    const { bus, region, roomId } = opts;
    room.speakers = await LegSpeakers.create(
      router,
      roomId,
      opts.nodeId,
      {
        publishLevels: (e) => bus.publish(LegLevels, subjects.roomLevels(region, roomId), e),
        subscribeLevels: (on) => bus.subscribe(LegLevels, subjects.roomLevels(region, roomId), on),
        publishRanking: (e) => bus.publish(SpeakerRanking, subjects.roomRanking(region, roomId), e),
      },
      opts.speakers,
      (peerId) => room.members.has(peerId) || room.remote.hasMember(peerId),
      room.log,
    );
    room.sync.start();
    return room;
  }

  get counts(): { transports: number; producers: number; consumers: number; links: number; linkStreamsOut: number; linkStreamsIn: number } {
    const c = this.cascade.counts;
    return {
      transports: this.transports.size,
      producers: this.producers.size,
      consumers: this.consumers.size,
      links: c.links,
      linkStreamsOut: c.sending,
      linkStreamsIn: c.receiving,
    };
  }

  get closed(): boolean {
    return this.router.closed;
  }

  /** Nobody is a member and no peer's transport is open: the registry may close the room (links do not keep it). */
  get idle(): boolean {
    return this.members.size === 0 && this.transports.size === 0;
  }

  private idleChanged(): void {
    if (this.router.closed || this.idle === this.wasIdle) return;
    this.wasIdle = this.idle;
    this.opts.events.idle(this.idle);
  }

  /** Makes `peer` a member (idempotent: a resume admits the same peer again). */
  admit(peer: Member): void {
    const isNew = !this.members.has(peer.peerId);
    const member = { peerId: peer.peerId, identity: peer.identity, ...(peer.name ? { name: peer.name } : {}) };
    this.members.set(peer.peerId, member);
    if (isNew) this.sync.changed({ type: 'memberJoined', peer: member });
    this.idleChanged();
  }

  isMember(peerId: string): boolean {
    return this.members.has(peerId);
  }

  /** Members of this leg (not of the whole room). */
  get memberCount(): number {
    return this.members.size;
  }

  /** The node of another leg is gone (its heartbeats stopped, or it drains): its leg goes, with its links. */
  nodeGone(nodeId: string): void {
    this.remote.drop(nodeId);
    this.cascade.legGone(nodeId); // also when this leg never knew its members
  }

  /** The other legs the placement names: any not known yet is asked for its state. */
  learnLegs(nodeIds: readonly string[]): Promise<void> {
    return this.sync.learn(nodeIds);
  }

  private static summary(producer: types.Producer): ProducerSummary {
    const source = (producer.appData as { source?: Source }).source;
    return { producerId: producer.id, kind: producer.kind, paused: producer.paused, ...(source ? { source } : {}) };
  }

  /** This leg's members with what they publish here. */
  localRoster(): PeerSummary[] {
    const out = new Map<string, PeerSummary>();
    for (const m of this.members.values()) out.set(m.peerId, { ...m, producers: [] });
    for (const { peerId, value } of this.producers.values()) out.get(peerId)?.producers.push(MediaRoom.summary(value));
    return [...out.values()];
  }

  /** Every member of the room, on every leg, with what they publish. */
  roster(): PeerSummary[] {
    const local = this.localRoster();
    const here = new Set(local.map((p) => p.peerId));
    return [...local, ...this.remote.peers().filter((p) => !here.has(p.peerId))];
  }

  /** The room's speaker ranking as this leg sees it. */
  get ranking() {
    return this.speakers.current;
  }

  legSnapshot() {
    return this.sync.snapshot();
  }

  get links(): Cascade {
    return this.cascade;
  }

  /** One peer's WebRTC transports, producers and consumers on this node (plain transports are not a client's). */
  peerMedia(peerId: string): PeerMedia {
    const media: PeerMedia = { transports: [], producers: [], consumers: [] };
    for (const { peerId: owner, value: transport } of this.transports.values()) {
      const direction = directionOf(transport);
      if (owner === peerId && transport.type === 'webrtc' && direction) media.transports.push({ transportId: transport.id, direction });
    }
    for (const { peerId: owner, value } of this.producers.values()) if (owner === peerId) media.producers.push(MediaRoom.summary(value));
    for (const [consumerId, { peerId: owner, consumer }] of this.consumers)
      if (owner === peerId) media.consumers.push({ consumerId, producerId: consumer.producerId });
    return media;
  }

  private addTransport(peerId: string, transport: AnyTransport): void {
    this.transports.set(transport.id, { peerId, value: transport });
    (transport as types.Transport).observer.once('close', () => {
      this.transports.delete(transport.id);
      this.idleChanged();
    });
    this.idleChanged();
  }

  async createWebRtcTransport(peerId: string, direction: Direction, forceTcp: boolean) {
    const { transport, info } = await this.transportsFactory.webRtc(peerId, direction, forceTcp, (t) =>
      this.opts.events.media({ type: 'transportClosed', roomId: this.roomId, nodeId: this.nodeId, peerId, transportId: t.id }),
    );
    this.addTransport(peerId, transport);
    return info;
  }

  /** `srtp`: SRTP/SRTCP with that suite; the answer then carries the key this transport encrypts with. */
  async createPlainTransport(peerId: string, comedia: boolean, rtcpMux: boolean, srtp?: { cryptoSuite: SrtpCryptoSuite }) {
    const { transport, info } = await this.transportsFactory.plain(peerId, comedia, rtcpMux, srtp);
    this.addTransport(peerId, transport);
    return info;
  }

  /*
   * Every operation names the peer it acts for, and an object of another peer is refused with
   * FORBIDDEN. Gateways check ownership first (and answer NOT_FOUND, revealing nothing); the
   * node does not rely on every caller doing it.
   */
  private owned<E extends { peerId: string }>(what: string, map: Map<string, E>, id: string, peerId: string): E {
    const entry = map.get(id);
    if (!entry) throw new StrataError('NOT_FOUND', `no ${what} ${id} in room ${this.roomId}`);
    if (entry.peerId !== peerId) throw new StrataError('FORBIDDEN', `${what} ${id} is not peer ${peerId}'s`);
    return entry;
  }

  private transport(transportId: string, peerId: string): AnyTransport {
    return this.owned('transport', this.transports, transportId, peerId).value;
  }

  private webRtcTransport(transportId: string, peerId: string): types.WebRtcTransport {
    const t = this.transport(transportId, peerId);
    if (t.type !== 'webrtc') throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a WebRTC transport`);
    return t as types.WebRtcTransport;
  }

  private plainTransport(transportId: string, peerId: string): types.PlainTransport {
    const t = this.transport(transportId, peerId);
    if (t.type !== 'plain') throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a plain transport`);
    return t as types.PlainTransport;
  }

  connectWebRtcTransport(peerId: string, transportId: string, dtlsParameters: types.DtlsParameters): Promise<void> {
    const t = this.webRtcTransport(transportId, peerId);
    return mediasoupCall(() => t.connect({ dtlsParameters }));
  }

  /**
   * Checked here rather than left to mediasoup: its refusals are worker TypeErrors whose wording
   * may change, and one that got through would be INTERNAL. Refused before connect(), so a bad
   * request does not use up the transport's one connect().
   */
  async connectPlainTransport(
    peerId: string,
    transportId: string,
    ip: string | undefined,
    port: number | undefined,
    rtcpPort: number | undefined,
    srtpParameters: SrtpParameters | undefined,
  ): Promise<{ srtpParameters?: SrtpParameters }> {
    const t = this.plainTransport(transportId, peerId);
    const srtp = t.srtpParameters !== undefined;
    if (srtp && !srtpParameters)
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} has SRTP: plain.connect needs srtpParameters (the far side's key)`);
    if (!srtp && srtpParameters) throw new StrataError('INVALID_MESSAGE', `transport ${transportId} has no SRTP: plain.connect takes no srtpParameters`);
    const comedia = (t.appData as { comedia?: boolean }).comedia === true;
    if (!comedia && (ip === undefined || port === undefined))
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not comedia: plain.connect needs ip and port`);
    await mediasoupCall(() =>
      t.connect({
        ...(ip !== undefined ? { ip } : {}),
        ...(port !== undefined ? { port } : {}),
        ...(rtcpPort ? { rtcpPort } : {}),
        ...(srtpParameters ? { srtpParameters: { ...srtpParameters } } : {}),
      }),
    );
    // Read after connect: a suite other than the transport's makes mediasoup draw a new key.
    return t.srtpParameters ? { srtpParameters: { ...t.srtpParameters } } : {};
  }

  async restartIce(peerId: string, transportId: string) {
    const t = this.webRtcTransport(transportId, peerId);
    const iceParameters = await mediasoupCall(() => t.restartIce());
    return { ...iceParameters };
  }

  closeTransport(peerId: string, transportId: string): void {
    this.transport(transportId, peerId).close();
  }

  async transportStats(peerId: string, transportId: string): Promise<Record<string, unknown>[]> {
    const t = this.transport(transportId, peerId);
    const stats: object[] = await mediasoupCall<object[]>(() => t.getStats());
    return stats.map((s) => ({ ...s }) as Record<string, unknown>);
  }

  async produce(
    peerId: string,
    transportId: string,
    kind: types.MediaKind,
    rtpParameters: types.RtpParameters,
    paused: boolean,
    source: Source | undefined,
  ): Promise<string> {
    const transport = this.transport(transportId, peerId);
    if (transport.type === 'webrtc' && directionOf(transport) !== 'send') {
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a send transport`);
    }
    const producer = await mediasoupCall(() => transport.produce({ kind, rtpParameters, paused, appData: { peerId, source } }));
    this.producers.set(producer.id, { peerId, value: producer });
    this.sync.changed({ type: 'producerAdded', peerId, producer: MediaRoom.summary(producer) });
    producer.observer.once('close', () => {
      this.producers.delete(producer.id);
      this.sync.changed({ type: 'producerClosed', peerId, producerId: producer.id });
    });
    if (kind === 'audio') {
      await this.speaker
        .addProducer({ producerId: producer.id })
        .catch((err: unknown) => this.log.warn({ err, producerId: producer.id }, 'not observed for active speaker'));
      await this.speakers.addProducer(producer.id);
    }
    this.log.info({ peerId, producerId: producer.id, kind, source }, 'producer created');
    return producer.id;
  }

  async producerAction(peerId: string, producerId: string, action: Action): Promise<void> {
    const p = this.owned('producer', this.producers, producerId, peerId).value;
    if (action === 'close') return p.close();
    await mediasoupCall(() => (action === 'pause' ? p.pause() : p.resume()));
    this.sync.changed({ type: 'producerPaused', peerId, producerId, paused: p.paused });
  }

  /** For the cascade: a producer of this leg's own peers. */
  localProducer(producerId: string): types.Producer | undefined {
    return this.producers.get(producerId)?.value;
  }

  /** For the cascade: this leg's consumers of `producerId`, as its demand sees them. */
  *watchers(producerId: string): Iterable<Watcher> {
    for (const id of this.consumersOf.get(producerId) ?? []) {
      const c = this.consumers.get(id);
      if (c && !c.consumer.closed) yield { paused: c.consumer.paused, spatialLayer: c.spatialLayer };
    }
  }

  private wake(producerId: string): void {
    for (const w of this.waitingFor.get(producerId) ?? []) w();
    this.waitingFor.delete(producerId);
  }

  /**
   * Where `producerId` lives: on this leg, or on another. A client hears of a new producer from
   * its gateway, which may be sooner than this leg hears of it from the producer's leg: wait a
   * moment for it before answering NOT_FOUND.
   */
  private async findProducer(producerId: string): Promise<{ local: types.Producer; peerId: string } | { remote: RemoteProducer } | undefined> {
    const look = () => {
      const local = this.producers.get(producerId);
      if (local) return { local: local.value, peerId: local.peerId };
      const remote = this.remote.producer(producerId);
      return remote ? { remote } : undefined;
    };
    const now = look();
    if (now || this.opts.remoteProducerWaitMs <= 0) return now;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.opts.remoteProducerWaitMs);
      const list = this.waitingFor.get(producerId) ?? [];
      list.push(() => {
        clearTimeout(t);
        resolve();
      });
      this.waitingFor.set(producerId, list);
    });
    return look();
  }

  async consume(
    peerId: string,
    transportId: string,
    producerId: string,
    rtpCapabilities: types.RtpCapabilities,
    preferredLayers?: { spatialLayer: number; temporalLayer?: number },
  ): Promise<ConsumerInfo> {
    const transport = this.transport(transportId, peerId);
    if (transport.type === 'webrtc' && directionOf(transport) !== 'recv') {
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a receive transport`);
    }
    const found = await this.findProducer(producerId);
    if (!found) throw new StrataError('NOT_FOUND', `no producer ${producerId} in room ${this.roomId}`);
    const ownerId = 'local' in found ? found.peerId : found.remote.peerId;
    if (ownerId === peerId) throw new StrataError('INVALID_MESSAGE', 'a peer does not consume its own producer');
    if (!this.limits.admitConsumer()) throw new StrataError('CAPACITY', 'this media node is at its consumer capacity');
    // A producer of another leg is forwarded here first; from then on it is a producer of this router like any other.
    if ('remote' in found) await this.cascade.pull(found.remote, preferredLayers?.spatialLayer);
    const forwarded = this.cascade.isForwarded(producerId);
    // A forwarded producer is one stream: its layer is the far leg's to pick, only the temporal one is ours.
    const layers = preferredLayers && { ...preferredLayers, spatialLayer: forwarded ? 0 : preferredLayers.spatialLayer };
    if (!this.router.canConsume({ producerId, rtpCapabilities })) {
      this.cascade.watchersChanged(producerId); // a stream pulled for nobody goes again
      throw new StrataError('INVALID_MESSAGE', `these RTP capabilities cannot consume producer ${producerId}`);
    }
    // Paused until the client has its side ready; resuming asks the sender for a key frame.
    const consumer = await mediasoupCall(() =>
      transport.consume({ producerId, rtpCapabilities, paused: true, ...(layers ? { preferredLayers: layers } : {}), appData: { peerId } }),
    );
    this.consumers.set(consumer.id, { peerId, consumer, spatialLayer: preferredLayers?.spatialLayer });
    let set = this.consumersOf.get(producerId);
    if (!set) this.consumersOf.set(producerId, (set = new Set()));
    set.add(consumer.id);
    consumer.observer.once('close', () => {
      this.consumers.delete(consumer.id);
      const s = this.consumersOf.get(producerId);
      s?.delete(consumer.id);
      if (s?.size === 0) this.consumersOf.delete(producerId);
      this.cascade.watchersChanged(producerId);
    });
    reportConsumerEvents(consumer, { roomId: this.roomId, nodeId: this.nodeId, peerId }, this.opts.events.media);
    this.cascade.watchersChanged(producerId);
    return {
      consumerId: consumer.id,
      producerId,
      peerId: ownerId,
      kind: consumer.kind,
      rtpParameters: JSON.parse(JSON.stringify(consumer.rtpParameters)) as ConsumerInfo['rtpParameters'],
      type: consumer.type,
      producerPaused: consumer.producerPaused,
    };
  }

  private get limits(): RoomLimits {
    return this.opts.limits;
  }

  async consumerAction(peerId: string, consumerId: string, action: Action): Promise<void> {
    const c = this.owned('consumer', this.consumers, consumerId, peerId).consumer;
    if (action === 'close') c.close();
    else if (action === 'pause') await mediasoupCall(() => c.pause());
    else {
      await mediasoupCall(() => c.resume());
      if (c.kind === 'video') await c.requestKeyFrame().catch(() => undefined);
    }
    this.cascade.watchersChanged(c.producerId);
  }

  /**
   * A producer forwarded from another leg arrives as one stream, at the highest layer a
   * consumer here asked for: the layer a client asks for is that demand, and locally only the
   * temporal layer is left to choose.
   */
  async setPreferredLayers(peerId: string, consumerId: string, spatialLayer: number, temporalLayer: number | undefined): Promise<void> {
    const entry = this.owned('consumer', this.consumers, consumerId, peerId);
    const forwarded = this.cascade.isForwarded(entry.consumer.producerId);
    const spatial = forwarded ? 0 : spatialLayer;
    await mediasoupCall(() => entry.consumer.setPreferredLayers({ spatialLayer: spatial, ...(temporalLayer !== undefined ? { temporalLayer } : {}) }));
    entry.spatialLayer = spatialLayer;
    if (forwarded) this.cascade.watchersChanged(entry.consumer.producerId);
  }

  /** Ends `peerId`'s membership and closes every transport of it (its producers and consumers go with them). */
  closePeer(peerId: string): number {
    let n = 0;
    for (const { peerId: owner, value: transport } of [...this.transports.values()]) {
      if (owner === peerId) {
        transport.close();
        n++;
      }
    }
    if (this.members.delete(peerId)) this.sync.changed({ type: 'memberLeft', peerId });
    this.idleChanged();
    return n;
  }

  close(): void {
    this.router.close();
  }
}
