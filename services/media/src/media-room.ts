import {
  StrataError,
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
import { mediasoupCall } from './media-error.js';
import type { PooledWorker } from './worker-pool.js';

type AnyTransport = types.WebRtcTransport | types.PlainTransport;
type Direction = 'send' | 'recv';
type Source = 'camera' | 'microphone' | 'screen' | 'bot';
type Action = 'pause' | 'resume' | 'close';

export interface MediaRoomEvents {
  /** A peer's consumer or transport changed on its own (producer closed, layers...). */
  media(event: MediaEvent): void;
  activeSpeaker(peerId: string, producerId: string): void;
  /** The room went from used (members or transports) to unused, or back. */
  idle(idle: boolean): void;
}

export interface RoomLimits {
  /** Returns false when the node cannot take one more consumer. */
  admitConsumer(): boolean;
  initialOutgoingBitrate: number;
  listenIp: string;
  announcedAddress: string | undefined;
}

export interface Member {
  peerId: string;
  identity: string;
  name?: string;
}

/**
 * This node's share of one room: a router, its active-speaker observer, its members (the
 * room's roster on this node, from join to leave), and every peer's transports, producers and
 * consumers, indexed by id and tagged with the owning peer.
 */
export class MediaRoom {
  private readonly members = new Map<string, Member>();
  private wasIdle = true;
  /** Sent on every join: copied out of mediasoup once, not per request. */
  readonly rtpCapabilities: Record<string, unknown>;
  private readonly transports = new Map<string, { peerId: string; transport: AnyTransport }>();
  private readonly producers = new Map<string, { peerId: string; producer: types.Producer }>();
  private readonly consumers = new Map<string, { peerId: string; consumer: types.Consumer }>();

  private constructor(
    readonly roomId: string,
    readonly nodeId: string,
    readonly router: types.Router,
    readonly worker: PooledWorker,
    private readonly speaker: types.ActiveSpeakerObserver,
    private readonly limits: RoomLimits,
    private readonly events: MediaRoomEvents,
    private readonly log: Logger,
  ) {
    this.rtpCapabilities = JSON.parse(JSON.stringify(router.rtpCapabilities)) as Record<string, unknown>;
    speaker.on('dominantspeaker', ({ producer }) => {
      const owner = this.producers.get(producer.id);
      if (owner) this.events.activeSpeaker(owner.peerId, producer.id);
    });
  }

  static async create(
    roomId: string,
    nodeId: string,
    worker: PooledWorker,
    codecs: types.RouterRtpCodecCapability[],
    speakerIntervalMs: number,
    limits: RoomLimits,
    events: MediaRoomEvents,
    log: Logger,
  ): Promise<MediaRoom> {
    const router = await worker.worker.createRouter({ mediaCodecs: codecs, appData: { roomId } });
    const speaker = await router.createActiveSpeakerObserver({ interval: speakerIntervalMs });
    return new MediaRoom(roomId, nodeId, router, worker, speaker, limits, events, log.child({ roomId, routerId: router.id }));
  }

  get counts(): { transports: number; producers: number; consumers: number } {
    return { transports: this.transports.size, producers: this.producers.size, consumers: this.consumers.size };
  }

  get closed(): boolean {
    return this.router.closed;
  }

  /** Nobody is a member and no transport is open: the registry may close the room. */
  get idle(): boolean {
    return this.members.size === 0 && this.transports.size === 0;
  }

  private idleChanged(): void {
    if (this.router.closed || this.idle === this.wasIdle) return;
    this.wasIdle = this.idle;
    this.events.idle(this.idle);
  }

  /** Makes `peer` a member (idempotent: a resume admits the same peer again). */
  admit(peer: Member): void {
    this.members.set(peer.peerId, { peerId: peer.peerId, identity: peer.identity, ...(peer.name ? { name: peer.name } : {}) });
    this.idleChanged();
  }

  isMember(peerId: string): boolean {
    return this.members.has(peerId);
  }

  get memberCount(): number {
    return this.members.size;
  }

  private static summary(producer: types.Producer): ProducerSummary {
    const source = (producer.appData as { source?: Source }).source;
    return { producerId: producer.id, kind: producer.kind, paused: producer.paused, ...(source ? { source } : {}) };
  }

  /** Every member with what it publishes here. */
  roster(): PeerSummary[] {
    const out = new Map<string, PeerSummary>();
    for (const m of this.members.values()) out.set(m.peerId, { ...m, producers: [] });
    for (const { peerId, producer } of this.producers.values()) out.get(peerId)?.producers.push(MediaRoom.summary(producer));
    return [...out.values()];
  }

  /** One peer's WebRTC transports, producers and consumers on this node (plain transports are not a client's). */
  peerMedia(peerId: string): PeerMedia {
    const media: PeerMedia = { transports: [], producers: [], consumers: [] };
    for (const { peerId: owner, transport } of this.transports.values()) {
      const direction = (transport.appData as { direction?: Direction }).direction;
      if (owner === peerId && transport.type === 'webrtc' && direction) media.transports.push({ transportId: transport.id, direction });
    }
    for (const { peerId: owner, producer } of this.producers.values()) if (owner === peerId) media.producers.push(MediaRoom.summary(producer));
    for (const [consumerId, { peerId: owner, consumer }] of this.consumers)
      if (owner === peerId) media.consumers.push({ consumerId, producerId: consumer.producerId });
    return media;
  }

  private addTransport(peerId: string, transport: AnyTransport): void {
    this.transports.set(transport.id, { peerId, transport });
    (transport as types.Transport).observer.once('close', () => {
      this.transports.delete(transport.id);
      this.idleChanged();
    });
    this.idleChanged();
  }

  async createWebRtcTransport(peerId: string, direction: Direction, forceTcp: boolean) {
    const transport = await mediasoupCall(() =>
      this.router.createWebRtcTransport({
        webRtcServer: this.worker.webRtcServer,
        enableUdp: !forceTcp,
        enableTcp: true,
        preferUdp: !forceTcp,
        initialAvailableOutgoingBitrate: this.limits.initialOutgoingBitrate,
        appData: { peerId, direction },
      }),
    );
    this.addTransport(peerId, transport);
    transport.on('dtlsstatechange', (state) => {
      if (state !== 'failed' && state !== 'closed') return;
      // A transport whose DTLS failed carries nothing any more: close it and tell the peer,
      // whose client can then create a new one.
      this.log.warn({ peerId, transportId: transport.id, state }, 'DTLS ended; closing transport');
      if (!transport.closed) transport.close();
      this.events.media({ type: 'transportClosed', roomId: this.roomId, nodeId: this.nodeId, peerId, transportId: transport.id });
    });
    transport.on('icestatechange', (state) => this.log.debug({ peerId, transportId: transport.id, state }, 'ICE state'));
    return {
      transportId: transport.id,
      iceParameters: { ...transport.iceParameters },
      iceCandidates: transport.iceCandidates.map((c) => ({ ...c })),
      dtlsParameters: { ...transport.dtlsParameters, fingerprints: transport.dtlsParameters.fingerprints.map((f) => ({ ...f })) },
    };
  }

  /** `srtp`: SRTP/SRTCP with that suite; the answer then carries the key this transport encrypts with. */
  async createPlainTransport(peerId: string, comedia: boolean, rtcpMux: boolean, srtp?: { cryptoSuite: SrtpCryptoSuite }) {
    const transport = await mediasoupCall(() =>
      this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: this.limits.listenIp, ...(this.limits.announcedAddress ? { announcedAddress: this.limits.announcedAddress } : {}) },
        comedia,
        rtcpMux,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp.cryptoSuite } : {}),
        // comedia is kept to check plain.connect's address; mediasoup does not expose it.
        appData: { peerId, comedia },
      }),
    );
    this.addTransport(peerId, transport);
    return {
      transportId: transport.id,
      ip: this.limits.announcedAddress ?? transport.tuple.localAddress,
      port: transport.tuple.localPort,
      ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
      ...(transport.srtpParameters ? { srtpParameters: { ...transport.srtpParameters } } : {}),
    };
  }

  /*
   * Every operation names the peer it acts for, and an object of another peer is refused with
   * FORBIDDEN. Gateways check ownership first (and answer NOT_FOUND, revealing nothing); the
   * node does not rely on every caller doing it.
   */
  private owned<T>(what: string, map: Map<string, { peerId: string } & T>, id: string, peerId: string): T {
    const entry = map.get(id);
    if (!entry) throw new StrataError('NOT_FOUND', `no ${what} ${id} in room ${this.roomId}`);
    if (entry.peerId !== peerId) throw new StrataError('FORBIDDEN', `${what} ${id} is not peer ${peerId}'s`);
    return entry;
  }

  private transport(transportId: string, peerId: string): AnyTransport {
    return this.owned('transport', this.transports, transportId, peerId).transport;
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
    if (transport.type === 'webrtc' && (transport.appData as { direction?: string }).direction !== 'send') {
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a send transport`);
    }
    const producer = await mediasoupCall(() => transport.produce({ kind, rtpParameters, paused, appData: { peerId, source } }));
    this.producers.set(producer.id, { peerId, producer });
    producer.observer.once('close', () => this.producers.delete(producer.id));
    if (kind === 'audio') {
      await this.speaker
        .addProducer({ producerId: producer.id })
        .catch((err: unknown) => this.log.warn({ err, producerId: producer.id }, 'not observed for active speaker'));
    }
    this.log.info({ peerId, producerId: producer.id, kind, source }, 'producer created');
    return producer.id;
  }

  async producerAction(peerId: string, producerId: string, action: Action): Promise<void> {
    const p = this.owned('producer', this.producers, producerId, peerId);
    if (action === 'close') p.producer.close();
    else await mediasoupCall(() => (action === 'pause' ? p.producer.pause() : p.producer.resume()));
  }

  async consume(peerId: string, transportId: string, producerId: string, rtpCapabilities: types.RtpCapabilities): Promise<ConsumerInfo> {
    const transport = this.transport(transportId, peerId);
    if (transport.type === 'webrtc' && (transport.appData as { direction?: string }).direction !== 'recv') {
      throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is not a receive transport`);
    }
    const source = this.producers.get(producerId);
    if (!source) throw new StrataError('NOT_FOUND', `no producer ${producerId} in room ${this.roomId}`);
    if (source.peerId === peerId) throw new StrataError('INVALID_MESSAGE', 'a peer does not consume its own producer');
    if (!this.router.canConsume({ producerId, rtpCapabilities })) {
      throw new StrataError('INVALID_MESSAGE', `these RTP capabilities cannot consume producer ${producerId}`);
    }
    if (!this.limits.admitConsumer()) throw new StrataError('CAPACITY', 'this media node is at its consumer capacity');
    // Paused until the client has its side ready; resuming asks the sender for a key frame.
    const consumer = await mediasoupCall(() => transport.consume({ producerId, rtpCapabilities, paused: true, appData: { peerId } }));
    this.consumers.set(consumer.id, { peerId, consumer });
    const base = { roomId: this.roomId, nodeId: this.nodeId, peerId, consumerId: consumer.id, producerId };
    consumer.observer.once('close', () => this.consumers.delete(consumer.id));
    consumer.on('producerclose', () => this.events.media({ type: 'consumerClosed', ...base }));
    consumer.on('producerpause', () => this.events.media({ type: 'consumerPaused', ...base }));
    consumer.on('producerresume', () => this.events.media({ type: 'consumerResumed', ...base }));
    consumer.on('layerschange', (layers) =>
      this.events.media({
        type: 'consumerLayersChanged',
        roomId: this.roomId,
        nodeId: this.nodeId,
        peerId,
        consumerId: consumer.id,
        spatialLayer: layers?.spatialLayer ?? null,
        temporalLayer: layers?.temporalLayer ?? null,
      }),
    );
    return {
      consumerId: consumer.id,
      producerId,
      peerId: source.peerId,
      kind: consumer.kind,
      rtpParameters: JSON.parse(JSON.stringify(consumer.rtpParameters)) as ConsumerInfo['rtpParameters'],
      type: consumer.type,
      producerPaused: consumer.producerPaused,
    };
  }

  async consumerAction(peerId: string, consumerId: string, action: Action): Promise<void> {
    const c = this.owned('consumer', this.consumers, consumerId, peerId);
    if (action === 'close') c.consumer.close();
    else if (action === 'pause') await mediasoupCall(() => c.consumer.pause());
    else {
      await mediasoupCall(() => c.consumer.resume());
      if (c.consumer.kind === 'video') await c.consumer.requestKeyFrame().catch(() => undefined);
    }
  }

  async setPreferredLayers(peerId: string, consumerId: string, spatialLayer: number, temporalLayer: number | undefined): Promise<void> {
    const c = this.owned('consumer', this.consumers, consumerId, peerId);
    await mediasoupCall(() => c.consumer.setPreferredLayers({ spatialLayer, ...(temporalLayer !== undefined ? { temporalLayer } : {}) }));
  }

  /** Ends `peerId`'s membership and closes every transport of it (its producers and consumers go with them). */
  closePeer(peerId: string): number {
    let n = 0;
    for (const { peerId: owner, transport } of [...this.transports.values()]) {
      if (owner === peerId) {
        transport.close();
        n++;
      }
    }
    this.members.delete(peerId);
    this.idleChanged();
    return n;
  }

  close(): void {
    this.router.close();
  }
}
