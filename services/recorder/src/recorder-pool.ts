import type { Bus } from '@strata/bus';
import {
  RecorderStop,
  RecordingGet,
  RecordingList,
  RecordingStart,
  RecordingStop,
  StrataError,
  subjects,
  type Recording,
  type RecordingLease,
  type RecordingSegment,
  type RpcDef,
} from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Subscription } from 'nats';
import type { RecordingStore, Versioned } from './recording-store.js';
import type { RoomMedia } from './room-media.js';
import { SegmentRecorder, type TrackSinkFactory } from './segment-recorder.js';

export interface PoolOptions {
  region: string;
  recorderId: string;
  dir: string;
  rtpHost: string;
  /** How long a lease holds without renewal; renewed every third of it. */
  leaseMs: number;
  rosterPollMs: number;
  emptyRoomMs: number;
  bus: Bus;
  store: RecordingStore;
  media: RoomMedia;
  sinks: TrackSinkFactory;
  /**
   * Tracks this recorder writes at most before it leaves the pool's start queue (0: no limit). A
   * soft limit: a recording's tracks grow as its room publishes.
   */
  maxTracks?: number;
  /** Upload of finished files (to a bucket): called with the local path and the key it goes to. */
  upload?: (localPath: string, key: string) => void;
  log: Logger;
  now?: () => number;
}

interface Held {
  record: Versioned<Recording>;
  lease: Versioned<RecordingLease>;
  segment: SegmentRecorder;
  /** Record writes, one after another (each is conditional on the one before). */
  writes: Promise<void>;
  writeScheduled: boolean;
  ending: Promise<Recording> | undefined;
  /** Moving to another leg (see move). */
  moving: boolean;
}

const DONE = new Set(['done', 'failed']);

/**
 * This recorder's part of the region's pool. Requests come through a queue group, so any
 * recorder may take any request: the one that takes a start holds the recording; a stop is
 * passed to the holder. Holders renew their leases; every recorder sweeps the active leases
 * and takes over any left to expire, as a new segment, writing the gap into the record. On
 * SIGTERM a recorder finalizes its files and releases its leases, so another takes over at
 * once rather than after the lease runs out.
 */
export class RecorderPool {
  private readonly held = new Map<string, Held>();
  /** Files of recordings held here whose upload was confirmed: recordingId → file → where. */
  private readonly uploads = new Map<string, Map<string, { key: string; at: number }>>();
  private readonly subs: Subscription[] = [];
  /** The start queue's subscription while this recorder has room for more tracks (see admit). */
  private starts: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** A sweep is running: the next waits for it (two at once would renew a lease on one revision, and the loser would let go of it). */
  private ticking = false;
  private closing = false;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: PoolOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
  }

  start(): void {
    const { bus, region, recorderId } = this.opts;
    const pool = (def: RpcDef) => subjects.recording(region, def.name);
    const queue = { queue: subjects.queues.recorder };
    this.admit();
    this.subs.push(
      bus.serve(RecordingStop, pool(RecordingStop), ({ recordingId, reason }) => this.stopAnywhere(recordingId, reason ?? 'stopped'), queue),
      bus.serve(RecordingGet, pool(RecordingGet), async ({ recordingId }) => (await this.mustRead(recordingId)).value, queue),
      bus.serve(
        RecordingList,
        pool(RecordingList),
        async ({ roomId, active }) => ({
          recordings: (await this.opts.store.all())
            .filter((r) => (roomId === undefined || r.roomId === roomId) && (active === undefined || active === !DONE.has(r.status)))
            .sort((a, b) => a.createdAt - b.createdAt),
        }),
        queue,
      ),
      bus.serve(RecorderStop, subjects.recorder(region, recorderId, 'stop'), ({ recordingId, reason }) => this.stopHeld(recordingId, reason)),
    );
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 3));
    this.timer = setInterval(() => {
      if (this.ticking) return;
      this.ticking = true;
      void this.tick().finally(() => (this.ticking = false));
    }, every);
    this.timer.unref();
  }

  /** Whether this recorder writes as many tracks as it may. */
  get full(): boolean {
    const max = this.opts.maxTracks ?? 0;
    return max > 0 && this.tracks >= max;
  }

  /**
   * In the start queue only while not full: NATS then hands new recordings to the recorders with
   * room, and answers "no responders" (UNAVAILABLE at the gateway) when none has any. Leaving
   * drains the subscription, so a start already delivered here is still answered.
   */
  private admit(): void {
    if (this.closing) return;
    if (this.full && this.starts) {
      this.log.info({ tracks: this.tracks, maxTracks: this.opts.maxTracks }, 'at capacity: no new recordings here until below it');
      void this.starts.drain().catch(() => undefined);
      this.starts = undefined;
    } else if (!this.full && !this.starts) {
      const { bus, region } = this.opts;
      this.starts = bus.serve(
        RecordingStart,
        subjects.recording(region, RecordingStart.name),
        ({ roomId, requestedBy }) => this.startRecording(roomId, requestedBy),
        { queue: subjects.queues.recorder },
      );
      if (this.tracks > 0) this.log.info({ tracks: this.tracks, maxTracks: this.opts.maxTracks }, 'below capacity: taking new recordings again');
    }
  }

  /** Tracks being written by this recorder now. */
  get tracks(): number {
    let n = 0;
    for (const h of this.held.values()) n += h.segment.trackCount;
    return n;
  }

  get recordings(): number {
    return this.held.size;
  }

  private async mustRead(recordingId: string): Promise<Versioned<Recording>> {
    const r = await this.opts.store.read(recordingId);
    if (!r) throw new StrataError('NOT_FOUND', `no recording ${recordingId} in region ${this.opts.region}`);
    return r;
  }

  private folder(recordingId: string): string {
    return join(this.opts.dir, recordingId);
  }

  // --- start ---------------------------------------------------------------------------------

  private async startRecording(roomId: string, requestedBy: string): Promise<Recording> {
    if (this.closing) throw new StrataError('UNAVAILABLE', 'this recorder is shutting down');
    // Delivered before this recorder left the queue: the caller asks again and reaches another.
    if (this.full) throw new StrataError('CAPACITY', `recorder ${this.opts.recorderId} is full (${this.tracks} of ${this.opts.maxTracks} tracks)`);
    const legs = await this.opts.media.legs(roomId);
    if (!legs || legs.length === 0) throw new StrataError('NOT_FOUND', `room ${roomId} is not open in region ${this.opts.region}`);
    const running = (await this.opts.store.activeLeases()).find((l) => l.value.roomId === roomId);
    if (running) throw new StrataError('CONFLICT', `room ${roomId} is already being recorded (recording ${running.value.recordingId})`);
    const now = this.now();
    const recordingId = `RC_${randomBytes(9).toString('base64url')}`;
    const nodeId = legs[0] as string;
    const recording: Recording = {
      recordingId,
      roomId,
      region: this.opts.region,
      status: 'starting',
      requestedBy,
      createdAt: now,
      startedAt: now,
      recorderId: this.opts.recorderId,
      segments: [{ segment: 1, recorderId: this.opts.recorderId, nodeId, startedAt: now }],
      gaps: [],
      tracks: [],
    };
    const lease: RecordingLease = { recordingId, roomId, recorderId: this.opts.recorderId, segment: 1, until: now + this.opts.leaseMs, renewedAt: now };
    const created = await this.opts.store.create(recording, lease);
    if (!created) throw new StrataError('CONFLICT', `recording id ${recordingId} is taken; try again`);
    await mkdir(this.folder(recordingId), { recursive: true });
    const held = this.hold(created.record, created.lease, nodeId, 1, now);
    try {
      await held.segment.start();
    } catch (err) {
      await this.end(held, 'failed', `could not start: ${StrataError.from(err).message}`, 'stopped');
      throw err;
    }
    held.record = { ...held.record, value: { ...held.record.value, status: 'recording' } };
    await this.flush(held);
    this.log.info({ recordingId, roomId, nodeId, requestedBy }, 'recording started');
    this.admit();
    return this.current(held);
  }

  /** Starts holding a recording: its segment on `nodeId`. */
  private hold(record: Versioned<Recording>, lease: Versioned<RecordingLease>, nodeId: string, segment: number, startedAt: number): Held {
    const { recordingId, roomId } = record.value;
    // The segment's callbacks reach the holding through this, once it exists.
    const self = (): Held => held;
    const held: Held = {
      record,
      lease,
      writes: Promise.resolve(),
      writeScheduled: false,
      ending: undefined,
      moving: false,
      segment: this.segmentOf(self, recordingId, roomId, nodeId, segment, record.value.startedAt ?? startedAt),
    };
    this.held.set(recordingId, held);
    return held;
  }

  private segmentOf(held: () => Held, recordingId: string, roomId: string, nodeId: string, segment: number, startedAt: number): SegmentRecorder {
    return new SegmentRecorder({
      recordingId,
      roomId,
      segment,
      startedAt,
      nodeId,
      peerId: `rec-${recordingId}-${segment}`,
      dir: this.folder(recordingId),
      rtpHost: this.opts.rtpHost,
      media: this.opts.media,
      sinks: this.opts.sinks,
      rosterPollMs: this.opts.rosterPollMs,
      emptyRoomMs: this.opts.emptyRoomMs,
      changed: () => this.scheduleWrite(held()),
      fileDone: (file) => this.opts.upload?.(join(this.folder(recordingId), file), `${recordingId}/${file}`),
      roomGone: (reason) => void this.stopHeld(recordingId, reason).catch(() => undefined),
      legGone: (to) => void this.move(held(), to).catch((err: unknown) => this.log.warn({ err, recordingId }, 'could not move the recording to another leg')),
      log: this.log,
      now: this.now,
    });
  }

  /**
   * The segment's media node left the room's placement: this recorder goes on from another leg
   * as the next segment (the lease's segment number moves first, so a takeover cannot reuse it).
   */
  private async move(held: Held, nodeId: string): Promise<void> {
    if (held.ending || held.moving || this.held.get(held.record.value.recordingId) !== held) return;
    held.moving = true;
    try {
      const now = this.now();
      const from = held.lease.value.segment;
      const lease: RecordingLease = { ...held.lease.value, segment: from + 1, until: now + this.opts.leaseMs, renewedAt: now };
      const rev = await this.opts.store.writeLease(lease, held.lease.revision);
      if (rev === null) return void (await this.abandon(held));
      const old = held.segment;
      const tracks = await old.close();
      const r = held.record.value;
      held.lease = { value: lease, revision: rev };
      held.record = {
        ...held.record,
        value: {
          ...r,
          tracks: [...r.tracks.filter((t) => t.segment !== from), ...tracks],
          segments: [
            ...r.segments.map((s) => (s.segment === from ? { ...s, endedAt: now, end: 'moved' as const } : s)),
            { segment: from + 1, recorderId: this.opts.recorderId, nodeId, startedAt: now },
          ],
        },
      };
      held.segment = this.segmentOf(() => held, r.recordingId, r.roomId, nodeId, from + 1, r.startedAt ?? r.createdAt);
      const fromNode = r.segments.find((x) => x.segment === from)?.nodeId;
      this.log.info({ recordingId: r.recordingId, from: fromNode, to: nodeId, segment: from + 1 }, 'recording moved to another leg');
      await held.segment.start();
      await this.flush(held);
    } finally {
      held.moving = false;
    }
  }

  /** The record as it stands: the earlier segments' tracks and this segment's, with live stats and confirmed uploads. */
  private current(held: Held): Recording {
    const r = held.record.value;
    const mine = held.lease.value.segment;
    const uploaded = this.uploads.get(r.recordingId);
    const tracks = [...r.tracks.filter((t) => t.segment !== mine), ...held.segment.snapshot()];
    return { ...r, tracks: uploaded ? tracks.map((t) => (uploaded.has(t.file) ? { ...t, uploaded: uploaded.get(t.file) } : t)) : tracks };
  }

  /**
   * A file's upload was confirmed: the record says so. A recording still held here gets it
   * with its next write; one that ended is written with a compare-and-set of its own.
   */
  async markUploaded(localPath: string, key: string, at = this.now()): Promise<void> {
    const [recordingId, file] = relative(this.opts.dir, localPath).split(sep);
    if (!recordingId || !file || file === 'manifest.json') return;
    const held = this.held.get(recordingId);
    // A recording ending here has written its last record (or is about to): wait, then write it as any other.
    if (held?.ending) await held.ending.catch(() => undefined);
    else if (held) {
      const m = this.uploads.get(recordingId) ?? new Map<string, { key: string; at: number }>();
      m.set(file, { key, at });
      this.uploads.set(recordingId, m);
      this.scheduleWrite(held);
      return;
    }
    for (let attempt = 0; attempt < 8; attempt++) {
      const r = await this.opts.store.read(recordingId);
      if (!r || !r.value.tracks.some((t) => t.file === file)) return;
      const value = { ...r.value, tracks: r.value.tracks.map((t) => (t.file === file ? { ...t, uploaded: { key, at } } : t)) };
      if ((await this.opts.store.write(value, r.revision)) !== null) {
        if (DONE.has(value.status)) await this.writeManifest(value).catch(() => undefined);
        return;
      }
    }
  }

  private scheduleWrite(held: Held): void {
    if (held.writeScheduled) return;
    held.writeScheduled = true;
    setTimeout(() => {
      held.writeScheduled = false;
      // Not once it ended here: its last write is done, and anything later is written as for any recording.
      if (this.held.get(held.record.value.recordingId) === held) void this.flush(held).catch(() => undefined);
    }, 100).unref();
  }

  /** Writes the record (and the manifest), after any write already under way. */
  private flush(held: Held): Promise<void> {
    const write = held.writes.then(async () => {
      const { recordingId } = held.record.value;
      for (let attempt = 0; attempt < 5; attempt++) {
        const value = this.current(held);
        const rev = await this.opts.store.write(value, held.record.revision);
        if (rev !== null) {
          held.record = { value, revision: rev };
          await this.writeManifest(value);
          return;
        }
        // Someone else wrote it. While the lease is ours, that was an upload confirmed for an
        // earlier segment's file: take the tracks as they are now and write ours over them
        // again. Otherwise a recorder that took the recording over wrote it: ours is no longer.
        const [lease, fresh] = await Promise.all([this.opts.store.readLease(recordingId), this.opts.store.read(recordingId)]);
        const ours = lease?.value.recorderId === this.opts.recorderId && lease.value.segment === held.lease.value.segment;
        if (!ours || !fresh) break;
        held.record = { value: { ...held.record.value, tracks: fresh.value.tracks }, revision: fresh.revision };
      }
      this.log.warn({ recordingId }, 'the recording was taken over by another recorder: leaving it');
      void this.abandon(held);
    });
    held.writes = write.catch((err: unknown) => this.log.warn({ err, recordingId: held.record.value.recordingId }, 'could not write the recording record'));
    return write;
  }

  private async writeManifest(r: Recording): Promise<void> {
    const dir = this.folder(r.recordingId);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.manifest-${this.opts.recorderId}.json`);
    const manifest = { version: 1, writtenBy: this.opts.recorderId, writtenAt: this.now(), ...r };
    await writeFile(tmp, JSON.stringify(manifest, null, 2));
    await rename(tmp, join(dir, 'manifest.json'));
  }

  // --- stop ----------------------------------------------------------------------------------

  /** A stop taken by this pool member: done here if the recording is ours, by its holder otherwise. */
  private async stopAnywhere(recordingId: string, reason: string): Promise<Recording> {
    const r = await this.mustRead(recordingId);
    if (DONE.has(r.value.status)) throw new StrataError('CONFLICT', `recording ${recordingId} is already ${r.value.status}`);
    if (this.held.has(recordingId)) return this.stopHeld(recordingId, reason);
    const lease = await this.opts.store.readLease(recordingId);
    if (!lease) return (await this.mustRead(recordingId)).value; // it ended meanwhile
    try {
      return await this.opts.bus.request(
        RecorderStop,
        subjects.recorder(this.opts.region, lease.value.recorderId, 'stop'),
        { recordingId, reason },
        { timeoutMs: 10_000 },
      );
    } catch (err) {
      const se = StrataError.from(err);
      if (se.code !== 'UNAVAILABLE' && se.code !== 'TIMEOUT' && se.code !== 'NOT_FOUND') throw err;
    }
    // Its holder is gone: once the lease runs out, take it and end it here.
    const wait = Math.max(0, lease.value.until - this.now());
    await new Promise((res) => setTimeout(res, wait + 10));
    const taken = await this.takeOver(recordingId, false);
    if (!taken) {
      const again = await this.mustRead(recordingId);
      if (DONE.has(again.value.status)) return again.value;
      throw new StrataError('UNAVAILABLE', `recording ${recordingId}: its recorder does not answer and its lease is held; try again`);
    }
    return this.stopHeld(recordingId, reason);
  }

  /** Stops a recording this recorder holds. Idempotent while it ends; CONFLICT once it is done. */
  private async stopHeld(recordingId: string, reason: string): Promise<Recording> {
    const held = this.held.get(recordingId);
    if (!held) {
      const r = await this.mustRead(recordingId);
      if (DONE.has(r.value.status)) throw new StrataError('CONFLICT', `recording ${recordingId} is already ${r.value.status}`);
      throw new StrataError('NOT_FOUND', `recording ${recordingId} is not held by recorder ${this.opts.recorderId}`);
    }
    return this.end(held, 'done', reason, 'stopped');
  }

  /** Ends a held recording for good (done or failed), or, with `handover`, only this recorder's segment of it. */
  private end(held: Held, status: 'done' | 'failed' | 'recording', reason: string, end: NonNullable<RecordingSegment['end']>): Promise<Recording> {
    held.ending ??= (async () => {
      const { recordingId } = held.record.value;
      if (status !== 'recording') {
        held.record = { ...held.record, value: { ...held.record.value, status: 'stopping' } };
        await this.flush(held).catch(() => undefined);
      }
      await held.segment.close();
      const now = this.now();
      const r = held.record.value;
      const segments = r.segments.map((s) => (s.segment === held.lease.value.segment ? { ...s, endedAt: now, end } : s));
      const next: Recording = status === 'recording' ? { ...r, segments } : { ...r, status, segments, stoppedAt: now, reason };
      if (status !== 'recording') delete next.recorderId; // nobody holds a finished recording
      held.record = { ...held.record, value: next };
      await this.flush(held);
      if (status === 'recording') {
        // Released: the next sweep of any recorder takes it at once.
        const released: RecordingLease = { ...held.lease.value, until: 0, renewedAt: now };
        await this.opts.store.writeLease(released, held.lease.revision);
      } else {
        await this.opts.store.endLease(recordingId, held.lease.revision);
        this.opts.upload?.(join(this.folder(recordingId), 'manifest.json'), `${recordingId}/manifest.json`);
      }
      this.held.delete(recordingId);
      this.uploads.delete(recordingId);
      this.log.info({ recordingId, status, reason, end }, status === 'recording' ? 'recording handed over' : 'recording ended');
      return this.current(held);
    })();
    return held.ending;
  }

  /** Another recorder took the recording over: stop writing, leave the media node. */
  private async abandon(held: Held): Promise<void> {
    if (!this.held.delete(held.record.value.recordingId)) return;
    await held.segment.close();
  }

  // --- leases and takeover -------------------------------------------------------------------

  private async tick(): Promise<void> {
    if (this.closing) return;
    this.admit();
    const now = this.now();
    for (const held of [...this.held.values()]) {
      if (held.ending) continue;
      const lease: RecordingLease = { ...held.lease.value, until: now + this.opts.leaseMs, renewedAt: now };
      try {
        const rev = await this.opts.store.writeLease(lease, held.lease.revision);
        if (rev === null) {
          this.log.warn({ recordingId: lease.recordingId }, 'lost the lease of a recording (taken over): leaving it');
          await this.abandon(held);
          continue;
        }
        held.lease = { value: lease, revision: rev };
        this.scheduleWrite(held); // the stats move on
      } catch (err) {
        this.log.warn({ err, recordingId: lease.recordingId }, 'could not renew a lease');
      }
    }
    try {
      for (const l of await this.opts.store.activeLeases()) {
        if (l.value.recorderId === this.opts.recorderId && this.held.has(l.value.recordingId)) continue;
        if (l.value.until > this.now() || this.closing) continue;
        // A full recorder takes over only what no recorder with room took within one more lease.
        if (this.full && this.now() - l.value.until < this.opts.leaseMs) continue;
        await this.takeOver(l.value.recordingId, true);
      }
    } catch (err) {
      this.log.warn({ err }, 'could not sweep the recording leases');
    }
  }

  /**
   * Takes an expired (or released) lease: conditional on its revision, so of several recorders
   * sweeping at once one wins. With `record`, a new segment starts; the time nobody recorded
   * is a gap of the record.
   */
  private async takeOver(recordingId: string, record: boolean): Promise<boolean> {
    const lease = await this.opts.store.readLease(recordingId);
    const now = this.now();
    if (!lease || lease.value.until > now) return false;
    const segment = lease.value.segment + 1;
    const mine: RecordingLease = { ...lease.value, recorderId: this.opts.recorderId, segment, until: now + this.opts.leaseMs, renewedAt: now };
    const rev = await this.opts.store.writeLease(mine, lease.revision);
    if (rev === null) return false;
    const r = await this.mustRead(recordingId);
    const prev = r.value.segments.find((s) => s.segment === lease.value.segment);
    // A crashed holder's segment ends when it last renewed; one handed over says when it ended.
    const endedAt = prev?.endedAt ?? lease.value.renewedAt;
    const start = r.value.startedAt ?? r.value.createdAt;
    const gaps = endedAt < now ? [...r.value.gaps, { fromMs: Math.max(0, endedAt - start), toMs: Math.max(0, now - start) }] : r.value.gaps;
    const segments: RecordingSegment[] = r.value.segments.map((s) =>
      s.segment === lease.value.segment && !s.end ? { ...s, endedAt, end: 'lost' as const } : s,
    );
    const legs = record && !DONE.has(r.value.status) ? await this.opts.media.legs(r.value.roomId) : null;
    const nodeId = legs?.[0];
    const value: Recording = {
      ...r.value,
      recorderId: this.opts.recorderId,
      gaps,
      segments: nodeId ? [...segments, { segment, recorderId: this.opts.recorderId, nodeId, startedAt: now }] : segments,
    };
    const held = this.hold({ value, revision: r.revision }, { value: mine, revision: rev }, nodeId ?? 'none', segment, start);
    this.log.info({ recordingId, from: lease.value.recorderId, segment, gapMs: now - endedAt }, 'took over a recording');
    // The old holder's transports, if its media node still has them, carry RTP to nobody.
    if (prev?.nodeId && prev.end !== 'handover')
      void this.opts.media.closePeer(prev.nodeId, r.value.roomId, `rec-${recordingId}-${lease.value.segment}`).catch(() => undefined);
    if (!record) return true;
    if (!nodeId || DONE.has(r.value.status)) {
      await this.end(held, 'done', r.value.status === 'stopping' ? (r.value.reason ?? 'stopped') : 'room closed', 'stopped');
      return true;
    }
    await mkdir(this.folder(recordingId), { recursive: true });
    await held.segment.start().catch((err: unknown) => this.log.warn({ err, recordingId }, 'the new segment could not read the room'));
    await this.flush(held).catch(() => undefined);
    if (r.value.status === 'stopping') await this.end(held, 'done', r.value.reason ?? 'stopped', 'stopped');
    return true;
  }

  /** SIGTERM: every held recording's files finalized and its lease released for another recorder. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    for (const s of this.subs) s.unsubscribe();
    this.starts?.unsubscribe();
    this.starts = undefined;
    await Promise.all([...this.held.values()].map((h) => this.end(h, 'recording', 'recorder stopped', 'handover').catch(() => undefined)));
  }
}
