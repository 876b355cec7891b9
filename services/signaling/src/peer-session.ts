import {
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaProduce,
  MediaProducerAction,
  MediaRoomOpen,
  MediaTransportConnect,
  MediaTransportCreate,
  MediaTransportRestartIce,
  MediaTransportStats,
  PEER_MEDIA_LIMITS,
  StrataError,
  type MediaEvent,
  type PeerMedia,
  type PeerRecord,
  type RequestOf,
  type ResponseOf,
  type RoomEvent,
  type SpeakerRanking,
  type RpcDef,
  type WsMethod,
  type WsNotification,
  type WsNotificationData,
  type WsRequest,
  type WsResponse,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { MediaNodes } from './media-client.js';
import type { PeerStore } from './peer-store.js';
import type { Recordings } from './recordings.js';
import type { RoomHub, RoomMember } from './room-hub.js';

/** How a session talks to its socket; absent while the peer is disconnected (resume grace). */
export interface SocketLink {
  notify<N extends WsNotification>(name: N, data: WsNotificationData<N>): void;
  close(code: number, reason: string): void;
}

export interface SessionDeps {
  media: MediaNodes;
  gatewayId: string;
  store: PeerStore;
  hub: RoomHub;
  recordings: Recordings;
  log: Logger;
  /** The session is no longer this gateway's: resumed on another one (`moved`), or removed by someone else (`ended`). */
  lost(session: PeerSession, why: 'moved' | 'ended'): void;
  /** The peer store's generation now (see `PeerStore.generation`); a change starts the restoring of every session's record. */
  storeGeneration(): Promise<string>;
}

type SessionMethod = Exclude<WsMethod, 'join' | 'resume' | 'leave'>;
type Handlers = { [M in SessionMethod]: (s: PeerSession, req: WsRequest<M>) => Promise<WsResponse<M>> };

/**
 * One peer in one room, as held by this gateway: checks that every id a client names is its
 * own, forwards the operation to the peer's media node, and keeps the peer's KV record current
 * (ownership and connection state only: media operations write nothing to KV).
 * Record writes go one at a time, each conditional on the revision the previous one produced:
 * once another gateway has taken the session over, this one's writes fail instead of undoing
 * the takeover, and the session is handed to `deps.lost`.
 */
export class PeerSession implements RoomMember {
  socket: SocketLink | null = null;
  graceTimer: NodeJS.Timeout | undefined;
  readonly log: Logger;
  /** Set once the session is no longer this gateway's (left, removed, or moved): nothing is written after. */
  ended = false;
  /**
   * The peer store's generation `revision` belongs to (unknown: undefined). A record missing
   * from a later generation was lost with the bucket, not removed by anyone: it is written again.
   */
  generation: string | undefined;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly deps: SessionDeps,
    public record: PeerRecord,
    /** The KV revision of `record` as last written or read. */
    public revision: number,
    /** The peer's own media, as its node last told it (at join or resume) and as this session changed it since. */
    public own: PeerMedia,
  ) {
    this.log = deps.log.child({ roomId: record.roomId, peerId: record.peerId, nodeId: record.nodeId });
  }

  get peerId(): string {
    return this.record.peerId;
  }

  get roomId(): string {
    return this.record.roomId;
  }

  /** Writes the record after the writes already queued; resolves false when the session turned out not to be ours. */
  persist(): Promise<boolean> {
    const run = this.writes.then(() => this.write());
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * After the peer store was lost and made anew (`generation` is the new one): writes the record
   * again unless a write since did. True when this call wrote it.
   */
  restore(generation: string): Promise<boolean> {
    const run = this.writes.then(async () => {
      if (this.ended || this.generation === generation) return false;
      const stored = await this.deps.store.get(this.record.region, this.roomId, this.peerId);
      const rev = stored ? null : await this.deps.store.createIfAbsent(this.record);
      this.generation = generation;
      if (rev === null) return false;
      this.revision = rev;
      return true;
    });
    this.writes = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Resolves once every queued write is done (its revision is then current). */
  async settled(): Promise<void> {
    await this.writes;
  }

  private async write(): Promise<boolean> {
    if (this.ended) return false;
    const { store } = this.deps;
    const rev = await store.update(this.record, this.revision);
    if (rev !== null) {
      this.revision = rev;
      return true;
    }
    // Someone else wrote the record: a gateway that resumed the session, one whose sweep
    // thought this gateway dead, or one removing it. Only the second leaves it ours. Or nobody
    // did, and the bucket was lost (a nats-server restarted without its store): write it anew.
    const stored = await store.get(this.record.region, this.roomId, this.peerId);
    if (!stored && this.generation !== undefined) {
      const generation = await this.deps.storeGeneration();
      const rev = generation !== this.generation ? await store.createIfAbsent(this.record) : null;
      if (rev !== null) {
        this.generation = generation;
        this.revision = rev;
        this.log.warn('record written again: the peer store was lost and made anew');
        return true;
      }
    }
    const ours = stored && stored.record.gatewayId === this.deps.gatewayId && stored.record.resumeHash === this.record.resumeHash;
    const again = ours ? await store.update(this.record, stored.revision) : null;
    if (again !== null) {
      this.revision = again;
      return true;
    }
    this.log.info({ gatewayId: stored?.record.gatewayId }, stored?.record.resumeHash ? 'session taken over by another gateway' : 'session removed elsewhere');
    this.deps.lost(this, stored?.record.resumeHash ? 'moved' : 'ended');
    return false;
  }

  private media<D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    return this.deps.media.node(this.record.nodeId).request(def, req);
  }

  private ownTransport(transportId: string, direction?: 'send' | 'recv') {
    const t = this.own.transports.find((x) => x.transportId === transportId);
    if (!t) throw new StrataError('NOT_FOUND', `no transport ${transportId} of yours`);
    if (direction && t.direction !== direction) throw new StrataError('INVALID_MESSAGE', `transport ${transportId} is a ${t.direction} transport`);
    return t;
  }

  private ownProducer(producerId: string) {
    const p = this.own.producers.find((x) => x.producerId === producerId);
    if (!p) throw new StrataError('NOT_FOUND', `no producer ${producerId} of yours`);
    return p;
  }

  private ownConsumer(consumerId: string) {
    const c = this.own.consumers.find((x) => x.consumerId === consumerId);
    if (!c) throw new StrataError('NOT_FOUND', `no consumer ${consumerId} of yours`);
    return c;
  }

  private grant(name: 'publish' | 'subscribe' | 'record'): void {
    // admin includes record: an operator's token may do what a recording bot's may.
    if (!this.record.grants[name] && !(name === 'record' && this.record.grants.admin)) throw new StrataError('FORBIDDEN', `your token does not grant ${name}`);
  }

  private publishRoom(e: RoomEvent): void {
    this.deps.hub.publish(e);
  }

  /** One table for every session (not closures per session: a gateway holds thousands). */
  private static readonly handlers: Handlers = {
    // Asked again of the node rather than kept per session: the join answer carries them, and
    // a copy per session is most of what a session would weigh.
    getRouterRtpCapabilities: async (s) => ({ rtpCapabilities: (await s.media(MediaRoomOpen, { roomId: s.roomId })).rtpCapabilities }),

    createWebRtcTransport: async (s, { direction, forceTcp }) => {
      s.grant(direction === 'send' ? 'publish' : 'subscribe');
      if (s.own.transports.length >= PEER_MEDIA_LIMITS.transports)
        throw new StrataError('CAPACITY', `at most ${PEER_MEDIA_LIMITS.transports} transports per peer`);
      const info = await s.media(MediaTransportCreate, { roomId: s.roomId, peerId: s.peerId, direction, ...(forceTcp ? { forceTcp } : {}) });
      s.own.transports.push({ transportId: info.transportId, direction });
      return info;
    },

    connectWebRtcTransport: async (s, { transportId, dtlsParameters }) => {
      s.ownTransport(transportId);
      return s.media(MediaTransportConnect, { roomId: s.roomId, peerId: s.peerId, transportId, dtlsParameters });
    },

    restartIce: async (s, { transportId }) => {
      s.ownTransport(transportId);
      return s.media(MediaTransportRestartIce, { roomId: s.roomId, peerId: s.peerId, transportId });
    },

    getTransportStats: async (s, { transportId }) => {
      s.ownTransport(transportId);
      return s.media(MediaTransportStats, { roomId: s.roomId, peerId: s.peerId, transportId });
    },

    produce: async (s, { transportId, kind, rtpParameters, paused, source }) => {
      s.grant('publish');
      s.ownTransport(transportId, 'send');
      if (s.own.producers.length >= PEER_MEDIA_LIMITS.producers) throw new StrataError('CAPACITY', `at most ${PEER_MEDIA_LIMITS.producers} producers per peer`);
      const { producerId } = await s.media(MediaProduce, {
        roomId: s.roomId,
        peerId: s.peerId,
        transportId,
        kind,
        rtpParameters,
        ...(paused !== undefined ? { paused } : {}),
        ...(source ? { source } : {}),
      });
      const producer = { producerId, kind, paused: paused ?? false, ...(source ? { source } : {}) };
      s.own.producers.push(producer);
      s.publishRoom({ type: 'newProducer', roomId: s.roomId, peerId: s.peerId, producer });
      return { producerId };
    },

    pauseProducer: async (s, { producerId }) => s.setProducerPaused(producerId, true),

    resumeProducer: async (s, { producerId }) => s.setProducerPaused(producerId, false),

    closeProducer: async (s, { producerId }) => {
      s.ownProducer(producerId);
      await s.media(MediaProducerAction, { roomId: s.roomId, peerId: s.peerId, producerId, action: 'close' });
      s.own.producers = s.own.producers.filter((x) => x.producerId !== producerId);
      s.publishRoom({ type: 'producerClosed', roomId: s.roomId, peerId: s.peerId, producerId });
      return {};
    },

    consume: async (s, { transportId, producerId, rtpCapabilities, preferredLayers }) => {
      s.grant('subscribe');
      s.ownTransport(transportId, 'recv');
      if (s.own.consumers.length >= PEER_MEDIA_LIMITS.consumers) throw new StrataError('CAPACITY', `at most ${PEER_MEDIA_LIMITS.consumers} consumers per peer`);
      if (s.own.producers.some((p) => p.producerId === producerId)) throw new StrataError('INVALID_MESSAGE', 'a peer does not consume its own producer');
      const info = await s.media(MediaConsume, {
        roomId: s.roomId,
        peerId: s.peerId,
        transportId,
        producerId,
        rtpCapabilities,
        ...(preferredLayers ? { preferredLayers } : {}),
      });
      s.own.consumers.push({ consumerId: info.consumerId, producerId });
      return info;
    },

    pauseConsumer: async (s, { consumerId }) => {
      s.ownConsumer(consumerId);
      return s.media(MediaConsumerAction, { roomId: s.roomId, peerId: s.peerId, consumerId, action: 'pause' });
    },

    resumeConsumer: async (s, { consumerId }) => {
      s.ownConsumer(consumerId);
      return s.media(MediaConsumerAction, { roomId: s.roomId, peerId: s.peerId, consumerId, action: 'resume' });
    },

    closeConsumer: async (s, { consumerId }) => {
      s.ownConsumer(consumerId);
      await s.media(MediaConsumerAction, { roomId: s.roomId, peerId: s.peerId, consumerId, action: 'close' });
      s.own.consumers = s.own.consumers.filter((x) => x.consumerId !== consumerId);
      return {};
    },

    startRecording: async (s) => {
      s.grant('record');
      return s.deps.recordings.start(s.roomId, s.record.identity);
    },

    stopRecording: async (s, { recordingId }) => {
      s.grant('record');
      await s.deps.recordings.ofRoom(recordingId, s.roomId);
      return s.deps.recordings.stop(recordingId);
    },

    listRecordings: async (s) => {
      s.grant('record');
      return { recordings: await s.deps.recordings.list(s.roomId) };
    },

    setConsumerPreferredLayers: async (s, { consumerId, spatialLayer, temporalLayer }) => {
      s.ownConsumer(consumerId);
      return s.media(MediaConsumerLayers, {
        roomId: s.roomId,
        peerId: s.peerId,
        consumerId,
        spatialLayer,
        ...(temporalLayer !== undefined ? { temporalLayer } : {}),
      });
    },
  };

  private async setProducerPaused(producerId: string, paused: boolean): Promise<Record<string, never>> {
    const p = this.ownProducer(producerId);
    await this.media(MediaProducerAction, { roomId: this.roomId, peerId: this.peerId, producerId, action: paused ? 'pause' : 'resume' });
    p.paused = paused;
    this.publishRoom({ type: paused ? 'producerPaused' : 'producerResumed', roomId: this.roomId, peerId: this.peerId, producerId });
    return {};
  }

  handle<M extends SessionMethod>(method: M, data: WsRequest<M>): Promise<WsResponse<M>> {
    const h = PeerSession.handlers[method] as (s: PeerSession, req: WsRequest<M>) => Promise<WsResponse<M>>;
    return h(this, data);
  }

  static isSessionMethod(method: WsMethod): method is SessionMethod {
    return method !== 'join' && method !== 'resume' && method !== 'leave';
  }

  // Room traffic from NATS (RoomMember)

  onRoomEvent(e: RoomEvent): void {
    const s = this.socket;
    if (!s) return;
    switch (e.type) {
      case 'peerJoined':
        return s.notify('peerJoined', { peerId: e.peerId, identity: e.identity, ...(e.name ? { name: e.name } : {}) });
      case 'peerLeft':
        return s.notify('peerLeft', { peerId: e.peerId, reason: e.reason });
      case 'newProducer':
        return s.notify('newProducer', { peerId: e.peerId, producer: e.producer });
      case 'producerClosed':
      case 'producerPaused':
      case 'producerResumed':
        return s.notify(e.type, { peerId: e.peerId, producerId: e.producerId });
      case 'peerMoved':
        return; // gateway to gateway (RoomHub hands it to onMoved)
    }
  }

  onMediaEvent(e: MediaEvent): void {
    switch (e.type) {
      case 'consumerClosed':
        this.own.consumers = this.own.consumers.filter((c) => c.consumerId !== e.consumerId);
        this.socket?.notify('consumerClosed', { consumerId: e.consumerId, producerId: e.producerId });
        return;
      case 'consumerPaused':
      case 'consumerResumed':
        this.socket?.notify(e.type, { consumerId: e.consumerId, producerId: e.producerId });
        return;
      case 'consumerLayersChanged':
        this.socket?.notify('consumerLayersChanged', { consumerId: e.consumerId, spatialLayer: e.spatialLayer, temporalLayer: e.temporalLayer });
        return;
      case 'transportClosed':
        this.own.transports = this.own.transports.filter((t) => t.transportId !== e.transportId);
        this.socket?.notify('transportClosed', { transportId: e.transportId });
        return;
    }
  }

  onSpeakers(e: SpeakerRanking): void {
    // Every leg ranks the room the same way; a peer hears its own leg's ranking only.
    if (e.nodeId === this.record.nodeId) this.socket?.notify('speakers', { k: e.k, audio: e.audio, order: e.order });
  }

  onActiveSpeaker(peerId: string, producerId: string): void {
    this.socket?.notify('activeSpeaker', { peerId, producerId });
  }

  onMoved(gatewayId: string): void {
    if (gatewayId !== this.deps.gatewayId) this.deps.lost(this, 'moved');
  }
}
