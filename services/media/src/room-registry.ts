import { StrataError } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { MEDIA_CODECS } from './codecs.js';
import type { CascadeSettings, FarLegs } from './cascade.js';
import type { LegSyncDeps } from './leg-sync.js';
import { MediaRoom, type MediaRoomEvents, type RoomLimits, type RoomOptions as MediaRoomOptions } from './media-room.js';
import type { WorkerPool } from './worker-pool.js';

export interface RegistryOptions {
  nodeId: string;
  region: string;
  /** Where links to other nodes listen, and how long a link stream nobody watches lingers. */
  link: CascadeSettings;
  remoteProducerWaitMs: number;
  linkCheckMs: number;
  bus: LegSyncDeps['bus'];
  far: FarLegs;
  idleTimeoutMs: number;
  speakerIntervalMs: number;
  speakers: MediaRoomOptions['speakers'];
  maxConsumers: number;
  initialOutgoingBitrate: number;
  listenIp: string;
  announcedAddress: string | undefined;
}

/**
 * The rooms this node holds. A room opens on `room.open` or on the first transport created in
 * it, on the least-loaded worker, and closes once it has had no member and no transport for
 * `idleTimeoutMs`.
 */
export class RoomRegistry {
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly opening = new Map<string, Promise<MediaRoom>>();
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly opts: RegistryOptions,
    private readonly events: (room: MediaRoom) => Omit<MediaRoomEvents, 'idle'>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.rooms.size;
  }

  totals() {
    const t = { routers: this.rooms.size, transports: 0, producers: 0, consumers: 0, links: 0, linkStreamsOut: 0, linkStreamsIn: 0 };
    for (const r of this.rooms.values()) {
      const c = r.counts;
      t.transports += c.transports;
      t.producers += c.producers;
      t.consumers += c.consumers;
      t.links += c.links;
      t.linkStreamsOut += c.linkStreamsOut;
      t.linkStreamsIn += c.linkStreamsIn;
    }
    return t;
  }

  /** The room if it is open here, without opening it. */
  find(roomId: string): MediaRoom | undefined {
    const room = this.rooms.get(roomId);
    return room && !room.closed ? room : undefined;
  }

  get(roomId: string): MediaRoom {
    const room = this.rooms.get(roomId);
    if (!room || room.closed) throw new StrataError('NOT_FOUND', `room ${roomId} is not open on this node`);
    return room;
  }

  /** Idempotent: concurrent opens of one room share one router. */
  open(roomId: string): Promise<MediaRoom> {
    const existing = this.rooms.get(roomId);
    if (existing && !existing.closed) return Promise.resolve(existing);
    let p = this.opening.get(roomId);
    if (!p) {
      p = this.create(roomId).finally(() => this.opening.delete(roomId));
      this.opening.set(roomId, p);
    }
    return p;
  }

  private async create(roomId: string): Promise<MediaRoom> {
    const worker = this.pool.leastLoaded();
    if (!worker) throw new StrataError('UNAVAILABLE', 'no live mediasoup worker on this node');
    const limits: RoomLimits = {
      admitConsumer: () => this.totals().consumers < this.opts.maxConsumers,
      initialOutgoingBitrate: this.opts.initialOutgoingBitrate,
      listenIp: this.opts.listenIp,
      announcedAddress: this.opts.announcedAddress,
    };
    let room: MediaRoom | undefined;
    const events: MediaRoomEvents = {
      media: (e) => room && this.events(room).media(e),
      activeSpeaker: (peerId, producerId) => room && this.events(room).activeSpeaker(peerId, producerId),
      idle: (idle) => (idle ? this.armIdle(roomId) : this.disarmIdle(roomId)),
    };
    room = await MediaRoom.create({
      roomId,
      nodeId: this.opts.nodeId,
      region: this.opts.region,
      worker,
      codecs: MEDIA_CODECS,
      speakerIntervalMs: this.opts.speakerIntervalMs,
      speakers: this.opts.speakers,
      limits,
      cascade: this.opts.link,
      remoteProducerWaitMs: this.opts.remoteProducerWaitMs,
      linkCheckMs: this.opts.linkCheckMs,
      bus: this.opts.bus,
      far: this.opts.far,
      events,
      log: this.log,
    });
    worker.routers++;
    room.router.observer.once('close', () => {
      worker.routers--;
      this.disarmIdle(roomId);
      if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
    });
    this.rooms.set(roomId, room);
    this.armIdle(roomId); // a room nobody uses after opening it must not live forever
    this.log.info({ roomId, routerId: room.router.id, workerPid: worker.worker.pid }, 'room opened');
    return room;
  }

  private armIdle(roomId: string): void {
    this.disarmIdle(roomId);
    const t = setTimeout(() => {
      this.idleTimers.delete(roomId);
      const room = this.rooms.get(roomId);
      if (room && room.idle) {
        this.log.info({ roomId }, 'room idle; closing');
        room.close();
      }
    }, this.opts.idleTimeoutMs);
    t.unref();
    this.idleTimers.set(roomId, t);
  }

  private disarmIdle(roomId: string): void {
    const t = this.idleTimers.get(roomId);
    if (t) clearTimeout(t);
    this.idleTimers.delete(roomId);
  }

  close(roomId: string): boolean {
    const room = this.rooms.get(roomId);
    if (!room) return false;
    room.close();
    this.log.info({ roomId }, 'room closed');
    return true;
  }

  /** Another media node is gone: every room here drops its leg there. */
  nodeGone(nodeId: string): void {
    for (const r of this.rooms.values()) r.nodeGone(nodeId);
  }

  closeAll(): void {
    for (const r of [...this.rooms.values()]) r.close();
  }
}
