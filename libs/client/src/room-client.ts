import type { WsNotificationData } from '@strata/protocol';
import type {
  ConsumerLike,
  DeviceLike,
  EncodingLike,
  MediaKind,
  ProducerLike,
  TrackSource,
  TransportConnectionState,
  TransportDirection,
  TransportLike,
  TransportOptionsLike,
} from './device.js';
import { Emitter, type ListenerErrorHandler } from './emitter.js';
import { SignalingError } from './errors.js';
import { viewOf, type Speakers } from './room-view.js';
import { withTurnTransports, type TurnTransport } from './ice-servers.js';
import type { ConnectionState, JoinResult, ResumeResult, SignalingClient } from './signaling-client.js';

type ProducerSummary = JoinResult['peers'][number]['producers'][number];

export interface RemotePeer {
  readonly peerId: string;
  readonly identity: string;
  readonly name: string | undefined;
  /** The peer's producers as the room announced them, by producerId. */
  readonly producers: Map<string, ProducerSummary>;
}

export interface Layers {
  spatialLayer: number | null;
  temporalLayer: number | null;
}

export interface RemoteConsumer<TTrack> {
  readonly consumerId: string;
  readonly producerId: string;
  readonly peerId: string;
  readonly kind: MediaKind;
  readonly source: TrackSource | undefined;
  /** 'simple' | 'simulcast' | 'svc' as the media node chose it. */
  readonly type: string;
  readonly consumer: ConsumerLike<TTrack>;
  readonly track: TTrack;
  /** Paused by the node (ours or the producer's pause). */
  paused: boolean;
  producerPaused: boolean;
  /** What the node currently forwards (simulcast/SVC only). */
  layers: Layers | undefined;
  /** In the room view; a consumer that left it is paused, and closed after the view's linger time unless it comes back. */
  inView: boolean;
}

export interface LocalProducer {
  readonly producerId: string;
  readonly kind: MediaKind;
  readonly source: TrackSource | undefined;
  readonly producer: ProducerLike;
}

export type RoomClientEvents<TTrack> = {
  joined: [result: JoinResult];
  peerJoined: [peer: RemotePeer];
  peerLeft: [peer: RemotePeer, reason: string];
  /** A producer of a peer was added, closed, paused or resumed. */
  peerUpdated: [peer: RemotePeer];
  /** A remote track is ready to play (consumed and resumed). */
  consumer: [consumer: RemoteConsumer<TTrack>];
  consumerClosed: [consumer: RemoteConsumer<TTrack>, reason: string];
  /** Paused/resumed or layers changed. */
  consumerUpdated: [consumer: RemoteConsumer<TTrack>];
  activeSpeaker: [peerId: string, producerId: string];
  /** The speaker ranking changed (see `speakers`). */
  speakers: [speakers: Speakers];
  /** The set of producers this client receives changed: tiles come and go with it. */
  viewChanged: [view: ReadonlySet<string>];
  transportState: [direction: TransportDirection, state: TransportConnectionState];
  connectionState: [state: ConnectionState];
  resumed: [result: ResumeResult];
  /**
   * The media node went away and the gateway moved this peer to another: transports were
   * created again, every track published again (`republished` maps old producer ids to new
   * ones), and the view is being consumed again.
   */
  mediaMoved: [republished: ReadonlyMap<string, LocalProducer>];
  closed: [reason: string, error: Error | undefined];
  /** Something failed in the background (an automatic consume, an ICE restart). */
  error: [error: Error];
};

export interface RoomClientOptions<TTrack> {
  signaling: SignalingClient;
  device: DeviceLike<TTrack>;
  token: string;
  /** Display name; overrides the token's `name` claim. */
  name?: string;
  /**
   * Consume the room view as it changes: the video of the `videoSlots` most recent speakers
   * (and the pinned peers'), the audio of the top-K speakers; everything in a room that fits.
   * Default true. Off: nothing is consumed but what `consume()` asks for.
   */
  autoConsume?: boolean;
  /** How many peers' video the view holds (tiles). Default 9. */
  videoSlots?: number;
  /** How long a consumer that left the view stays (paused) before it is closed. Default 5000 ms. */
  viewLingerMs?: number;
  /** Pass the gateway's ICE servers (TURN) to the transports. Default true. */
  useIceServers?: boolean;
  /** Only these TURN transports of the gateway's ICE servers (default: all it gives). */
  turnTransports?: readonly TurnTransport[];
  /** `relay`: media only through TURN (WebRTC's iceTransportPolicy), to test or to hide the client's address. */
  iceTransportPolicy?: 'all' | 'relay';
  /** Ask the gateway for new ICE parameters when a transport's connection fails. Default true. */
  restartIceOnFailure?: boolean;
  /** Where an event listener that throws is reported (emit() carries on); default console.error. */
  onListenerError?: ListenerErrorHandler;
}

export interface PublishOptions {
  source?: TrackSource;
  /** Simulcast layers (e.g. VP8_SIMULCAST_ENCODINGS); omit for a single encoding. */
  encodings?: readonly EncodingLike[];
  codecOptions?: Record<string, unknown>;
}

const TRACK_SOURCES: ReadonlySet<string> = new Set<TrackSource>(['camera', 'microphone', 'screen', 'bot']);

/**
 * A participant in one room: joins over signaling, loads the device, opens one send and one
 * receive transport, publishes local tracks and consumes everyone else's, and keeps that
 * state across a signaling resume.
 */
export class RoomClient<TTrack> extends Emitter<RoomClientEvents<TTrack>> {
  readonly signaling: SignalingClient;
  readonly device: DeviceLike<TTrack>;
  readonly #opts: RoomClientOptions<TTrack>;
  readonly #autoConsume: boolean;

  #joined: JoinResult | undefined;
  #ready = false;
  #closed = false;
  #send: TransportLike<TTrack> | undefined;
  #recv: TransportLike<TTrack> | undefined;
  readonly #peers = new Map<string, RemotePeer>();
  readonly #consumers = new Map<string, RemoteConsumer<TTrack>>();
  /** producerIds being consumed right now, so two triggers do not consume one producer twice. */
  readonly #consuming = new Set<string>();
  readonly #producers = new Map<string, LocalProducer>();
  /** What each producer was published from, to publish it again on another media node. */
  readonly #published = new Map<string, { track: TTrack; opts: PublishOptions }>();
  readonly #transportStates = new Map<TransportDirection, TransportConnectionState>();
  #activeSpeaker: { peerId: string; producerId: string } | undefined;
  #speakers: Speakers | undefined;
  readonly #pinned = new Set<string>();
  #videoSlots: number;
  #view: ReadonlySet<string> = new Set();
  /** Consumers out of the view, closed when their timer fires. */
  readonly #lingering = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #iceRestarts = { send: 0, recv: 0 };
  readonly #unsubscribe: (() => void)[] = [];

  constructor(opts: RoomClientOptions<TTrack>) {
    super(opts.onListenerError);
    this.#opts = opts;
    this.signaling = opts.signaling;
    this.device = opts.device;
    this.#autoConsume = opts.autoConsume ?? true;
    this.#videoSlots = opts.videoSlots ?? 9;
    this.#listen();
  }

  get peerId(): string | undefined {
    return this.#joined?.peerId;
  }
  get roomId(): string | undefined {
    return this.#joined?.roomId;
  }
  get joinResult(): JoinResult | undefined {
    return this.#joined;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get peers(): ReadonlyMap<string, RemotePeer> {
    return this.#peers;
  }
  get consumers(): ReadonlyMap<string, RemoteConsumer<TTrack>> {
    return this.#consumers;
  }
  get producers(): ReadonlyMap<string, LocalProducer> {
    return this.#producers;
  }
  get activeSpeaker(): { peerId: string; producerId: string } | undefined {
    return this.#activeSpeaker;
  }
  /** The room's speaker ranking, once the gateway told it. */
  get speakers(): Speakers | undefined {
    return this.#speakers;
  }
  /** The producers this client receives (or is setting up), by id. */
  get view(): ReadonlySet<string> {
    return this.#view;
  }
  get pinned(): ReadonlySet<string> {
    return this.#pinned;
  }
  /** Keeps `peerId`'s video in the view whatever the ranking says. */
  pin(peerId: string): void {
    this.#pinned.add(peerId);
    this.#applyView();
  }
  unpin(peerId: string): void {
    this.#pinned.delete(peerId);
    this.#applyView();
  }
  /** How many peers' video to receive (the tiles on screen). */
  setVideoSlots(n: number): void {
    this.#videoSlots = Math.max(0, Math.floor(n));
    this.#applyView();
  }
  get sendTransport(): TransportLike<TTrack> | undefined {
    return this.#send;
  }
  get recvTransport(): TransportLike<TTrack> | undefined {
    return this.#recv;
  }
  /** ICE restarts applied to each local transport (after a resume, on failure, or asked for). */
  get iceRestarts(): Readonly<Record<TransportDirection, number>> {
    return { ...this.#iceRestarts };
  }
  transportState(direction: TransportDirection): TransportConnectionState | undefined {
    return this.#transportStates.get(direction);
  }

  async join(): Promise<JoinResult> {
    if (this.#joined) throw new SignalingError('CONFLICT', 'already joined');
    if (this.signaling.state === 'new') await this.signaling.connect();
    const joined = await this.signaling.join({ token: this.#opts.token, ...(this.#opts.name ? { name: this.#opts.name } : {}) });
    this.#joined = joined;
    this.#speakers = joined.speakers;
    for (const p of joined.peers) this.#upsertPeer(p.peerId, p.identity, p.name, p.producers);
    try {
      if (!this.device.loaded) await this.device.load({ routerRtpCapabilities: joined.rtpCapabilities });
      if (joined.grants.publish) this.#send = await this.#createTransport('send');
      if (joined.grants.subscribe) this.#recv = await this.#createTransport('recv');
    } catch (err) {
      await this.leave();
      throw err;
    }
    this.#ready = true;
    this.emit('joined', joined);
    this.#applyView();
    return joined;
  }

  async publish(track: TTrack, opts: PublishOptions = {}): Promise<LocalProducer> {
    const transport = this.#send;
    if (!transport) throw new SignalingError('FORBIDDEN', this.#joined ? 'no publish grant' : 'not joined', 'produce');
    // Copies: handlers write rids into the encodings they are given. The track stays the
    // caller's (not stopped with the producer): it is published again if the media moves.
    const producer = await transport.produce({
      track,
      stopTracks: false,
      ...(opts.encodings ? { encodings: opts.encodings.map((e) => ({ ...e })) } : {}),
      ...(opts.codecOptions ? { codecOptions: opts.codecOptions } : {}),
      appData: opts.source ? { source: opts.source } : {},
    });
    const local: LocalProducer = { producerId: producer.id, kind: producer.kind === 'audio' ? 'audio' : 'video', source: opts.source, producer };
    this.#producers.set(producer.id, local);
    this.#published.set(producer.id, { track, opts });
    return local;
  }

  async unpublish(producerId: string): Promise<void> {
    const local = this.#producers.get(producerId);
    this.#producers.delete(producerId);
    this.#published.delete(producerId);
    local?.producer.close();
    await this.signaling.request('closeProducer', { producerId });
  }

  async pauseProducer(producerId: string): Promise<void> {
    this.#producers.get(producerId)?.producer.pause();
    await this.signaling.request('pauseProducer', { producerId });
  }

  async resumeProducer(producerId: string): Promise<void> {
    this.#producers.get(producerId)?.producer.resume();
    await this.signaling.request('resumeProducer', { producerId });
  }

  /** Consumes one producer of another peer (autoConsume does this for all of them). */
  async consume(producerId: string): Promise<RemoteConsumer<TTrack> | undefined> {
    const existing = [...this.#consumers.values()].find((c) => c.producerId === producerId);
    if (existing) return existing;
    const recv = this.#recv;
    if (!recv) throw new SignalingError('FORBIDDEN', this.#joined ? 'no subscribe grant' : 'not joined', 'consume');
    if (this.#consuming.has(producerId)) return undefined;
    this.#consuming.add(producerId);
    try {
      const info = await this.signaling.request('consume', { transportId: recv.id, producerId, rtpCapabilities: this.device.rtpCapabilities });
      const consumer = await recv.consume({
        id: info.consumerId,
        producerId: info.producerId,
        kind: info.kind,
        rtpParameters: info.rtpParameters,
        appData: { peerId: info.peerId },
      });
      const summary = this.#peers.get(info.peerId)?.producers.get(producerId);
      // The producer (or its peer, or we) may have gone while the consume was in flight.
      if (!summary || this.#closed) {
        consumer.close();
        void this.signaling.request('closeConsumer', { consumerId: info.consumerId }).catch(() => undefined);
        return undefined;
      }
      const remote: RemoteConsumer<TTrack> = {
        consumerId: info.consumerId,
        producerId: info.producerId,
        peerId: info.peerId,
        kind: info.kind,
        source: summary.source,
        type: info.type,
        consumer,
        track: consumer.track,
        paused: true,
        producerPaused: info.producerPaused,
        layers: undefined,
        inView: true,
      };
      this.#consumers.set(remote.consumerId, remote);
      // Consumers start paused on the node so no RTP arrives before the client consumer exists.
      await this.signaling.request('resumeConsumer', { consumerId: remote.consumerId });
      remote.paused = false;
      this.emit('consumer', remote);
      // The view may have moved on while this was set up.
      if (this.#autoConsume && !this.#view.has(producerId)) this.#park(remote);
      return remote;
    } finally {
      this.#consuming.delete(producerId);
    }
  }

  async setPreferredLayers(consumerId: string, spatialLayer: number, temporalLayer?: number): Promise<void> {
    await this.signaling.request('setConsumerPreferredLayers', {
      consumerId,
      spatialLayer,
      ...(temporalLayer === undefined ? {} : { temporalLayer }),
    });
  }

  async pauseConsumer(consumerId: string): Promise<void> {
    await this.signaling.request('pauseConsumer', { consumerId });
  }

  async resumeConsumer(consumerId: string): Promise<void> {
    await this.signaling.request('resumeConsumer', { consumerId });
  }

  /** Asks the gateway for new ICE parameters and restarts ICE on one transport. */
  async restartIce(direction: TransportDirection): Promise<void> {
    const transport = direction === 'send' ? this.#send : this.#recv;
    if (!transport || transport.closed) return;
    const { iceParameters } = await this.signaling.request('restartIce', { transportId: transport.id });
    await transport.restartIce({ iceParameters });
    this.#iceRestarts[direction]++;
  }

  /** Leaves the room (the gateway closes our media at once) and closes the signaling client. */
  async leave(): Promise<void> {
    if (this.#closed) return;
    // While reconnecting, the request waits for the resume: peers then see a prompt `leave`
    // instead of a `timeout` at the end of the grace period.
    const s = this.signaling.state;
    if (s === 'connected' || s === 'reconnecting') await this.signaling.request('leave', {}, { timeoutMs: 3000 }).catch(() => undefined);
    this.#teardown('leave', undefined);
  }

  #listen(): void {
    const s = this.signaling;
    this.#unsubscribe.push(
      s.on('state', (state) => this.emit('connectionState', state)),
      s.on('resumed', (res) => void this.#onResumed(res).catch((err: unknown) => this.#fail(err))),
      s.on('closed', (error) => this.#teardown(error ? 'connection lost' : 'closed', error)),
      s.onNotification('peerJoined', (d) => this.#upsertPeer(d.peerId, d.identity, d.name, [])),
      s.onNotification('peerLeft', (d) => this.#removePeer(d.peerId, d.reason)),
      s.onNotification('newProducer', (d) => this.#onNewProducer(d)),
      s.onNotification('producerClosed', (d) => this.#onProducerClosed(d.peerId, d.producerId)),
      s.onNotification('producerPaused', (d) => this.#setProducerPaused(d.peerId, d.producerId, true)),
      s.onNotification('producerResumed', (d) => this.#setProducerPaused(d.peerId, d.producerId, false)),
      s.onNotification('consumerClosed', (d) => this.#closeConsumer(d.consumerId, 'closed by the node')),
      s.onNotification('consumerPaused', (d) => this.#updateConsumer(d.consumerId, (c) => (c.paused = true))),
      s.onNotification('consumerResumed', (d) => this.#updateConsumer(d.consumerId, (c) => (c.paused = false))),
      s.onNotification('consumerLayersChanged', (d) =>
        this.#updateConsumer(d.consumerId, (c) => (c.layers = { spatialLayer: d.spatialLayer, temporalLayer: d.temporalLayer })),
      ),
      s.onNotification('activeSpeaker', (d) => {
        this.#activeSpeaker = { peerId: d.peerId, producerId: d.producerId };
        this.emit('activeSpeaker', d.peerId, d.producerId);
      }),
      s.onNotification('speakers', (d) => {
        this.#speakers = d;
        this.emit('speakers', d);
        this.#applyView();
      }),
      s.onNotification('mediaMoved', (d) => void this.#onMediaMoved(d).catch((err: unknown) => this.#fail(err))),
      s.onNotification('transportClosed', (d) => {
        if (d.transportId === this.#send?.id || d.transportId === this.#recv?.id)
          this.#fail(new SignalingError('UNAVAILABLE', `transport ${d.transportId} closed by the node`));
      }),
    );
  }

  async #createTransport(direction: TransportDirection): Promise<TransportLike<TTrack>> {
    const info = await this.signaling.request('createWebRtcTransport', { direction });
    const given = this.#opts.useIceServers === false ? [] : (this.#joined?.iceServers ?? []);
    const iceServers = this.#opts.turnTransports ? withTurnTransports(given, this.#opts.turnTransports) : given;
    const options: TransportOptionsLike = {
      id: info.transportId,
      iceParameters: info.iceParameters,
      iceCandidates: info.iceCandidates,
      dtlsParameters: info.dtlsParameters,
      ...(iceServers.length ? { iceServers } : {}),
      ...(this.#opts.iceTransportPolicy ? { iceTransportPolicy: this.#opts.iceTransportPolicy } : {}),
    };
    const transport = direction === 'send' ? this.device.createSendTransport(options) : this.device.createRecvTransport(options);
    transport.on('connect', ({ dtlsParameters }, callback, errback) => {
      this.signaling.request('connectWebRtcTransport', { transportId: transport.id, dtlsParameters }).then(() => callback(), errback);
    });
    if (direction === 'send') {
      transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
        const source = typeof appData['source'] === 'string' && TRACK_SOURCES.has(appData['source']) ? (appData['source'] as TrackSource) : undefined;
        this.signaling
          .request('produce', { transportId: transport.id, kind, rtpParameters, ...(source ? { source } : {}) })
          .then(({ producerId }) => callback({ id: producerId }), errback);
      });
    }
    transport.on('connectionstatechange', (state) => {
      this.#transportStates.set(direction, state);
      this.emit('transportState', direction, state);
      if (state === 'failed' && this.#opts.restartIceOnFailure !== false && this.signaling.state === 'connected') {
        this.restartIce(direction).catch((err: unknown) => this.#fail(err));
      }
    });
    this.#transportStates.set(direction, 'new');
    return transport;
  }

  #upsertPeer(peerId: string, identity: string, name: string | undefined, producers: readonly ProducerSummary[]): RemotePeer | undefined {
    if (peerId === this.#joined?.peerId) return undefined;
    let peer = this.#peers.get(peerId);
    const fresh = !peer;
    if (!peer) {
      peer = { peerId, identity, name, producers: new Map() };
      this.#peers.set(peerId, peer);
    }
    for (const p of producers) peer.producers.set(p.producerId, p);
    if (fresh) {
      this.emit('peerJoined', peer);
      this.#applyView(); // a newcomer may fill a free tile
    }
    return peer;
  }

  #removePeer(peerId: string, reason: string): void {
    const peer = this.#peers.get(peerId);
    if (!peer) return;
    for (const c of [...this.#consumers.values()]) if (c.peerId === peerId) this.#closeConsumer(c.consumerId, `peer left (${reason})`);
    this.#peers.delete(peerId);
    if (this.#activeSpeaker?.peerId === peerId) this.#activeSpeaker = undefined;
    this.emit('peerLeft', peer, reason);
    this.#applyView();
  }

  #onNewProducer(d: WsNotificationData<'newProducer'>): void {
    // newProducer may precede peerJoined's delivery to us only in theory; create the peer lazily.
    const peer = this.#peers.get(d.peerId) ?? this.#upsertPeer(d.peerId, d.peerId, undefined, []);
    if (!peer) return;
    peer.producers.set(d.producer.producerId, d.producer);
    this.emit('peerUpdated', peer);
    this.#applyView();
  }

  #onProducerClosed(peerId: string, producerId: string): void {
    const peer = this.#peers.get(peerId);
    if (peer?.producers.delete(producerId)) this.emit('peerUpdated', peer);
    for (const c of [...this.#consumers.values()]) if (c.producerId === producerId) this.#closeConsumer(c.consumerId, 'producer closed');
    this.#applyView();
  }

  #setProducerPaused(peerId: string, producerId: string, paused: boolean): void {
    const peer = this.#peers.get(peerId);
    const p = peer?.producers.get(producerId);
    if (!peer || !p) return;
    peer.producers.set(producerId, { ...p, paused });
    for (const c of this.#consumers.values()) if (c.producerId === producerId) c.producerPaused = paused;
    this.emit('peerUpdated', peer);
  }

  #updateConsumer(consumerId: string, change: (c: RemoteConsumer<TTrack>) => void): void {
    const c = this.#consumers.get(consumerId);
    if (!c) return;
    change(c);
    this.emit('consumerUpdated', c);
  }

  #closeConsumer(consumerId: string, reason: string): void {
    const c = this.#consumers.get(consumerId);
    if (!c) return;
    this.#consumers.delete(consumerId);
    clearTimeout(this.#lingering.get(consumerId));
    this.#lingering.delete(consumerId);
    if (!c.consumer.closed) c.consumer.close();
    this.emit('consumerClosed', c, reason);
  }

  /**
   * Follows the view: consumes what entered it, resumes what came back within the linger
   * time (no new consumer), pauses what left it and closes that after the linger time. A
   * paused consumer is what tells the media node, and through it the far legs, that nobody
   * here watches.
   */
  #applyView(): void {
    if (!this.#ready || !this.#autoConsume || !this.#recv || this.#closed) return;
    const view = viewOf({ peers: this.#peers.values(), speakers: this.#speakers, videoSlots: this.#videoSlots, pinned: this.#pinned });
    const changed = view.size !== this.#view.size || [...view].some((id) => !this.#view.has(id));
    this.#view = view;
    const byProducer = new Map([...this.#consumers.values()].map((c) => [c.producerId, c]));
    for (const id of view) {
      const c = byProducer.get(id);
      if (!c) this.#consumeInBackground(id);
      else if (!c.inView) this.#unpark(c);
    }
    for (const c of byProducer.values()) if (c.inView && !view.has(c.producerId)) this.#park(c);
    if (changed) this.emit('viewChanged', view);
  }

  #park(c: RemoteConsumer<TTrack>): void {
    c.inView = false;
    this.emit('consumerUpdated', c);
    this.pauseConsumer(c.consumerId).catch((err: unknown) => this.#backgroundError(err));
    const timer = setTimeout(() => {
      this.#lingering.delete(c.consumerId);
      if (!this.#consumers.has(c.consumerId) || c.inView) return;
      this.#closeConsumer(c.consumerId, 'left the view');
      this.signaling.request('closeConsumer', { consumerId: c.consumerId }).catch((err: unknown) => this.#backgroundError(err));
    }, this.#opts.viewLingerMs ?? 5000);
    this.#lingering.set(c.consumerId, timer);
  }

  #unpark(c: RemoteConsumer<TTrack>): void {
    clearTimeout(this.#lingering.get(c.consumerId));
    this.#lingering.delete(c.consumerId);
    c.inView = true;
    this.emit('consumerUpdated', c);
    this.resumeConsumer(c.consumerId).catch((err: unknown) => this.#backgroundError(err));
  }

  #backgroundError(err: unknown): void {
    if (err instanceof SignalingError && err.code === 'NOT_FOUND') return; // it went meanwhile
    if (!this.#closed) this.#fail(err);
  }

  #consumeInBackground(producerId: string): void {
    this.consume(producerId).catch((err: unknown) => this.#backgroundError(err));
  }

  /**
   * After a resume the gateway's lists are the truth: notifications sent while we were away
   * were lost, so peers, producers and consumers are reconciled against them.
   */
  async #onResumed(res: ResumeResult): Promise<void> {
    for (const t of res.transports) {
      const local = t.direction === 'send' ? this.#send : this.#recv;
      if (local && local.id === t.transportId && !local.closed) {
        await local.restartIce({ iceParameters: t.iceParameters });
        this.#iceRestarts[t.direction]++;
      }
    }
    const ownProducers = new Set(res.producers.map((p) => p.producerId));
    for (const [id, local] of this.#producers) {
      if (ownProducers.has(id)) continue;
      this.#producers.delete(id);
      local.producer.close();
    }
    const livePeers = new Map(res.peers.map((p) => [p.peerId, p]));
    for (const peerId of [...this.#peers.keys()]) if (!livePeers.has(peerId)) this.#removePeer(peerId, 'left while disconnected');
    for (const p of res.peers) {
      const peer = this.#upsertPeer(p.peerId, p.identity, p.name, p.producers);
      if (!peer) continue;
      const live = new Set(p.producers.map((x) => x.producerId));
      for (const id of [...peer.producers.keys()]) if (!live.has(id)) this.#onProducerClosed(p.peerId, id);
    }
    const liveConsumers = new Set(res.consumers.map((c) => c.consumerId));
    for (const id of [...this.#consumers.keys()]) if (!liveConsumers.has(id)) this.#closeConsumer(id, 'gone after resume');
    this.emit('resumed', res);
    this.#applyView();
  }

  /**
   * Everything this client had on the media node is gone with it: drop it locally, then do
   * what a join does on the new leg (transports, the same tracks published with the same
   * options, the view consumed). The session, the peer id and the device stay.
   */
  async #onMediaMoved(d: WsNotificationData<'mediaMoved'>): Promise<void> {
    if (this.#closed) return;
    this.#ready = false;
    for (const id of [...this.#consumers.keys()]) this.#closeConsumer(id, d.reason);
    const republish = [...this.#producers.entries()].map(([id, local]) => ({ id, local, from: this.#published.get(id) }));
    for (const { local } of republish) if (!local.producer.closed) local.producer.close();
    this.#producers.clear();
    this.#published.clear();
    this.#closeTransports(true);
    this.#speakers = d.speakers;
    // The socket stayed up, so no room event was missed: the new leg's roster only adds. It may
    // be older than events already here (a producer published again meanwhile), so it removes
    // nothing; peerLeft and producerClosed do that.
    for (const p of d.peers) this.#upsertPeer(p.peerId, p.identity, p.name, p.producers);
    const grants = this.#joined?.grants;
    if (grants?.publish) this.#send = await this.#createTransport('send');
    if (grants?.subscribe) this.#recv = await this.#createTransport('recv');
    const republished = new Map<string, LocalProducer>();
    for (const { id, from } of republish) if (from) republished.set(id, await this.publish(from.track, from.opts));
    this.#ready = true;
    this.emit('mediaMoved', republished);
    this.#applyView();
  }

  /** `forget`: drop them too (new ones follow); a client that closes keeps them to be looked at. */
  #closeTransports(forget: boolean): void {
    for (const [direction, transport] of [
      ['send', this.#send],
      ['recv', this.#recv],
    ] as const) {
      if (!transport) continue;
      transport.close();
      // mediasoup-client reports no state change for a close() of our own.
      this.#transportStates.set(direction, 'closed');
      this.emit('transportState', direction, 'closed');
    }
    if (!forget) return;
    this.#send = undefined;
    this.#recv = undefined;
  }

  #fail(err: unknown): void {
    this.emit('error', err instanceof Error ? err : new Error(String(err)));
  }

  #teardown(reason: string, error: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready = false;
    for (const id of [...this.#consumers.keys()]) this.#closeConsumer(id, reason);
    for (const p of this.#producers.values()) if (!p.producer.closed) p.producer.close();
    this.#producers.clear();
    this.#closeTransports(false);
    // Close first so listeners still see the final 'closed' connection state.
    if (this.signaling.state !== 'closed') this.signaling.close();
    for (const off of this.#unsubscribe.splice(0)) off();
    this.emit('closed', reason, error);
  }
}
