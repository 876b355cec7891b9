import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from './codecs.js';
import type { PooledWorker, WorkerPool } from './worker-pool.js';
import { StrataError } from '@strata/protocol';

export interface MediaRoom {
  readonly roomId: string;
  readonly router: types.Router;
  readonly worker: PooledWorker;
}

/** This node's share of each room: one router per room, on the least-loaded worker. */
export class RoomRegistry {
  private readonly rooms = new Map<string, MediaRoom>();
  private readonly opening = new Map<string, Promise<MediaRoom>>();

  constructor(
    private readonly pool: WorkerPool,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.rooms.size;
  }

  get(roomId: string): MediaRoom | undefined {
    return this.rooms.get(roomId);
  }

  /** Idempotent: concurrent opens of one room share one router. */
  open(roomId: string): Promise<MediaRoom> {
    const existing = this.rooms.get(roomId);
    if (existing) return Promise.resolve(existing);
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
    const router = await worker.worker.createRouter({ mediaCodecs: MEDIA_CODECS, appData: { roomId } });
    worker.routers++;
    const room: MediaRoom = { roomId, router, worker };
    router.observer.once('close', () => {
      worker.routers--;
      this.rooms.delete(roomId);
    });
    this.rooms.set(roomId, room);
    this.log.info({ roomId, routerId: router.id, workerPid: worker.worker.pid }, 'room opened');
    return room;
  }

  close(roomId: string): boolean {
    const room = this.rooms.get(roomId);
    if (!room) return false;
    room.router.close();
    this.log.info({ roomId }, 'room closed');
    return true;
  }

  all(): IterableIterator<MediaRoom> {
    return this.rooms.values();
  }
}
