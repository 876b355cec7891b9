import type { Bus } from '@strata/bus';
import {
  RecordingGet,
  RecordingList,
  RecordingStart,
  RecordingStop,
  StrataError,
  subjects,
  type Recording,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
} from '@strata/protocol';

/**
 * The region's recorder pool as the gateway reaches it: one request to the pool's queue group,
 * answered by whichever recorder takes it. With no recorder running, NATS has no responder and
 * the caller gets UNAVAILABLE, said plainly.
 */
export class Recordings {
  constructor(
    private readonly bus: Pick<Bus, 'request'>,
    private readonly region: string,
    private readonly timeoutMs: number,
  ) {}

  private async call<D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    try {
      return await this.bus.request(def, subjects.recording(this.region, def.name), req, { timeoutMs: this.timeoutMs });
    } catch (err) {
      const se = StrataError.from(err);
      if (se.code === 'UNAVAILABLE') throw new StrataError('UNAVAILABLE', `no recorder is running in region ${this.region}`);
      throw err;
    }
  }

  start(roomId: string, requestedBy: string): Promise<Recording> {
    return this.call(RecordingStart, { roomId, requestedBy });
  }

  stop(recordingId: string): Promise<Recording> {
    return this.call(RecordingStop, { recordingId });
  }

  get(recordingId: string): Promise<Recording> {
    return this.call(RecordingGet, { recordingId });
  }

  async list(roomId?: string): Promise<Recording[]> {
    return (await this.call(RecordingList, roomId ? { roomId } : {})).recordings;
  }

  /** A recording of `roomId`, or NOT_FOUND: a peer never learns of another room's recordings. */
  async ofRoom(recordingId: string, roomId: string): Promise<Recording> {
    const r = await this.get(recordingId);
    if (r.roomId !== roomId) throw new StrataError('NOT_FOUND', `no recording ${recordingId} in room ${roomId}`);
    return r;
  }
}
