import type { Bus } from '@strata/bus';
import {
  RecordingGet,
  RecordingList,
  RecordingStart,
  RecordingStop,
  StrataError,
  subjects,
  type ErrorCode,
  type Recording,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
} from '@strata/protocol';

const START_ATTEMPTS = 3;
const READ_ATTEMPTS = 3;

/** `attempt()`, asked again while it fails with `code`: at most `attempts` times in all. */
async function askAgainOn<T>(code: ErrorCode, attempts: number, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (StrataError.from(err).code !== code || n === attempts) throw err;
    }
  }
}

/**
 * The region's recorder pool as the gateway reaches it: one request to the pool's queue group,
 * answered by whichever recorder takes it. With no recorder running, or none with room for a new
 * recording (a full one leaves the start queue), NATS has no responder and the caller gets
 * UNAVAILABLE, said plainly. A start that reached a recorder just as it filled up is CAPACITY,
 * and is asked again: the queue no longer holds that recorder.
 */
export class Recordings {
  constructor(
    private readonly bus: Pick<Bus, 'request'>,
    private readonly region: string,
    /** A start or stop: the recorder may wait on a media node. */
    private readonly timeoutMs: number,
    /** A read, all attempts together: within a client's own request timeout, so that it hears the answer. */
    private readonly readTimeoutMs = timeoutMs,
  ) {}

  private async call<D extends RpcDef>(def: D, req: RequestOf<D>, timeoutMs = this.timeoutMs): Promise<ResponseOf<D>> {
    try {
      return await this.bus.request(def, subjects.recording(this.region, def.name), req, { timeoutMs });
    } catch (err) {
      const se = StrataError.from(err);
      if (se.code !== 'UNAVAILABLE') throw err;
      throw new StrataError(
        'UNAVAILABLE',
        def.name === RecordingStart.name
          ? `no recorder in region ${this.region} is running and has room for a recording`
          : `no recorder is running in region ${this.region}`,
      );
    }
  }

  /**
   * A read is safe to ask again, and is, on silence: the queue group can hand it to a recorder
   * that is going away (SIGTERM, a lost connection), which never answers; the next attempt
   * reaches another. Each attempt gets a third of the read timeout.
   */
  private read<D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    return askAgainOn('TIMEOUT', READ_ATTEMPTS, () => this.call(def, req, Math.ceil(this.readTimeoutMs / READ_ATTEMPTS)));
  }

  start(roomId: string, requestedBy: string): Promise<Recording> {
    return askAgainOn('CAPACITY', START_ATTEMPTS, () => this.call(RecordingStart, { roomId, requestedBy }));
  }

  stop(recordingId: string): Promise<Recording> {
    return this.call(RecordingStop, { recordingId });
  }

  get(recordingId: string): Promise<Recording> {
    return this.read(RecordingGet, { recordingId });
  }

  async list(roomId?: string): Promise<Recording[]> {
    return (await this.read(RecordingList, roomId ? { roomId } : {})).recordings;
  }

  /** A recording of `roomId`, or NOT_FOUND: a peer never learns of another room's recordings. */
  async ofRoom(recordingId: string, roomId: string): Promise<Recording> {
    const r = await this.get(recordingId);
    if (r.roomId !== roomId) throw new StrataError('NOT_FOUND', `no recording ${recordingId} in room ${roomId}`);
    return r;
  }
}
