import { StrataError, type MediaEvent, type PeerSummary, type ProducerSummary, type RecordedTrack, type RoomEvent, type Span } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { RoomMedia } from './room-media.js';

/** What one track's writer reports (see track-recorder.ts). Times are unix ms. */
export interface TrackSinkStats {
  packets: number;
  lost: number;
  bytes: number;
  firstPacketAt: number | undefined;
  lastPacketAt: number | undefined;
  gaps: { at: number; durationMs: number }[];
}

/** One track's writer: a UDP port receiving its RTP (and RTCP), a file being written. */
export interface TrackSink {
  readonly port: number;
  stats(): TrackSinkStats;
  /** Finalizes the file (idempotent). */
  close(): Promise<TrackSinkStats>;
}

export interface TrackSinkOptions {
  kind: 'audio' | 'video';
  /** Absolute path of the file to write. */
  path: string;
  payloadType: number;
  ssrc: number;
  clockRate: number;
}

export type TrackSinkFactory = (opts: TrackSinkOptions) => Promise<TrackSink>;

export interface SegmentOptions {
  recordingId: string;
  roomId: string;
  segment: number;
  /** The recording's start: every offset counts from here. */
  startedAt: number;
  /** The media node this segment records from. */
  nodeId: string;
  /** Who the recorder is on that node (its transports are this peer's). */
  peerId: string;
  /** The recording's folder. */
  dir: string;
  /** The address the media node sends RTP to (this recorder's). */
  rtpHost: string;
  media: RoomMedia;
  sinks: TrackSinkFactory;
  /** How often the roster is read again (events may be missed; this catches up). */
  rosterPollMs: number;
  /** The room had no member this long: the segment reports it (the recording then stops). */
  emptyRoomMs: number;
  /** A track started, ended or changed. */
  changed(): void;
  /** The room stayed empty (or closed): the recording should end. */
  roomGone(reason: string): void;
  /** This segment's media node is no longer a leg of the room (or does not answer): record from `nodeId` instead. */
  legGone(nodeId: string): void;
  /** A track's file is closed and complete (for upload). */
  fileDone?(file: string): void;
  log: Logger;
  now?: () => number;
}

interface Track {
  info: RecordedTrack;
  sink: TrackSink | undefined;
  consumerId: string | undefined;
  /** A pause in progress, since this time (unix ms). */
  pausedSince: number | undefined;
  closing: Promise<void> | undefined;
}

const extension = (kind: 'audio' | 'video'): string => (kind === 'audio' ? 'ogg' : 'webm');

/**
 * One recorder's stretch of one recording: every producer of the room, recorded on one leg
 * into one file per track. It follows the room by its events (new producers, pauses, producers
 * and peers leaving) and by reading the roster again now and then, so a missed event costs at
 * most one poll. A producer that appears later gets its own track, whose offset is when its
 * first packet arrived.
 */
export class SegmentRecorder {
  private readonly tracks = new Map<string, Track>();
  private readonly failed = new Set<string>();
  private unwatch: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private emptySince: number | undefined;
  /** Roster reads that failed in a row: a media node that stopped answering. */
  private failures = 0;
  private closed = false;
  private started = false;
  private nextIndex = 1;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: SegmentOptions) {
    this.log = opts.log.child({ recordingId: opts.recordingId, roomId: opts.roomId, segment: opts.segment, nodeId: opts.nodeId });
    this.now = opts.now ?? Date.now;
  }

  /** Starts recording what the room publishes now; resolves once each of those tracks is set up (or failed). */
  async start(): Promise<void> {
    const { media, roomId, peerId } = this.opts;
    this.started = true;
    this.unwatch = media.watch(roomId, peerId, { room: (e) => this.onRoomEvent(e), media: (e) => this.onMediaEvent(e) });
    await this.reconcile();
    this.poll = setInterval(() => void this.reconcile(), this.opts.rosterPollMs);
    this.poll.unref();
  }

  /** The tracks of this segment as the record holds them. */
  snapshot(): RecordedTrack[] {
    return [...this.tracks.values()].map((t) => this.withStats(t));
  }

  get trackCount(): number {
    let n = 0;
    for (const t of this.tracks.values()) if (t.sink && !t.info.final) n++;
    return n;
  }

  private offset(at: number): number {
    return Math.max(0, Math.round(at - this.opts.startedAt));
  }

  private withStats(t: Track): RecordedTrack {
    if (!t.sink || t.info.final) return { ...t.info };
    const s = t.sink.stats();
    const pauses = t.pausedSince !== undefined ? [...t.info.pauses, { fromMs: this.offset(t.pausedSince), toMs: this.offset(this.now()) }] : t.info.pauses;
    return { ...t.info, ...this.fromStats(s), pauses };
  }

  private fromStats(s: TrackSinkStats): Partial<RecordedTrack> {
    const gaps: Span[] = s.gaps.map((g) => ({ fromMs: this.offset(g.at), toMs: this.offset(g.at + g.durationMs) }));
    return {
      packets: s.packets,
      lost: s.lost,
      bytes: s.bytes,
      gaps,
      ...(s.firstPacketAt !== undefined ? { startOffsetMs: this.offset(s.firstPacketAt) } : {}),
      ...(s.lastPacketAt !== undefined ? { endOffsetMs: this.offset(s.lastPacketAt) } : {}),
    };
  }

  private async reconcile(): Promise<void> {
    if (this.closed) return;
    const { media, nodeId, roomId } = this.opts;
    // The placement says where the room is. No placement: nobody is in the room (the gateways
    // erase it with the last member), which counts toward the empty-room timeout like an empty
    // roster; someone may join again meanwhile. A leg that went (its members left, or its node
    // died and they moved) moves the recording to another leg.
    const legs = await media.legs(roomId).catch(() => undefined);
    if (this.closed) return;
    if (legs === null) return this.empty();
    const other = legs?.find((l) => l !== nodeId);
    if (legs && !legs.includes(nodeId) && other) return this.opts.legGone(other);
    let peers: PeerSummary[];
    try {
      peers = await media.roster(nodeId, roomId);
      this.failures = 0;
    } catch (err) {
      this.log.warn({ err }, 'could not read the room roster');
      if (++this.failures >= 3 && other) this.opts.legGone(other);
      return;
    }
    if (this.closed) return;
    const members = peers.filter((p) => p.peerId !== this.opts.peerId);
    if (members.length === 0) this.empty();
    else this.emptySince = undefined;
    const live = new Set<string>();
    const setups: Promise<void>[] = [];
    for (const p of members)
      for (const pr of p.producers) {
        live.add(pr.producerId);
        setups.push(this.addTrack(p, pr));
      }
    // Producers gone without us hearing of it.
    for (const [producerId, t] of this.tracks) if (!live.has(producerId) && !t.info.final) void this.endTrack(producerId, 'gone from the roster');
    await Promise.all(setups);
  }

  /** Nobody in the room at this read: past `emptyRoomMs` of that, the recording ends. */
  private empty(): void {
    this.emptySince ??= this.now();
    if (this.now() - this.emptySince >= this.opts.emptyRoomMs) this.opts.roomGone('room empty');
  }

  private onRoomEvent(e: RoomEvent): void {
    if (this.closed) return;
    switch (e.type) {
      case 'newProducer':
        void this.addTrack({ peerId: e.peerId, identity: '', producers: [] }, e.producer);
        break;
      case 'producerClosed':
        void this.endTrack(e.producerId, 'producer closed');
        break;
      case 'peerLeft':
        for (const [id, t] of this.tracks) if (t.info.peerId === e.peerId) void this.endTrack(id, 'peer left');
        break;
      case 'peerJoined':
        this.emptySince = undefined;
        break;
      default:
        break;
    }
  }

  private onMediaEvent(e: MediaEvent): void {
    if (this.closed || !('producerId' in e)) return;
    const t = this.tracks.get(e.producerId);
    if (!t || t.consumerId !== e.consumerId) return;
    if (e.type === 'consumerClosed') void this.endTrack(e.producerId, 'consumer closed');
    else if (e.type === 'consumerPaused') this.pause(t, true);
    else if (e.type === 'consumerResumed') this.pause(t, false);
  }

  private pause(t: Track, paused: boolean): void {
    if (paused && t.pausedSince === undefined) t.pausedSince = this.now();
    else if (!paused && t.pausedSince !== undefined) {
      t.info = { ...t.info, pauses: [...t.info.pauses, { fromMs: this.offset(t.pausedSince), toMs: this.offset(this.now()) }] };
      t.pausedSince = undefined;
    } else return;
    this.opts.changed();
  }

  /** Sets up one track: transport, consumer, writer, then resume (which asks for a key frame). */
  private async addTrack(peer: PeerSummary, producer: ProducerSummary): Promise<void> {
    const { producerId } = producer;
    if (this.tracks.has(producerId) || this.failed.has(producerId) || this.closed) return;
    const { media, nodeId, roomId, peerId, segment } = this.opts;
    const index = this.nextIndex++;
    const trackId = `${segment}-${String(index).padStart(3, '0')}-${producer.kind}`;
    const track: Track = {
      info: {
        trackId,
        segment,
        producerId,
        peerId: peer.peerId,
        identity: peer.identity,
        kind: producer.kind,
        codec: producer.kind === 'audio' ? 'audio/opus' : 'video/VP8',
        file: `${trackId}.${extension(producer.kind)}`,
        pauses: [],
        gaps: [],
        final: false,
      },
      sink: undefined,
      consumerId: undefined,
      pausedSince: producer.paused ? this.now() : undefined,
      closing: undefined,
    };
    this.tracks.set(producerId, track);
    try {
      const transport = await media.plainTransport(nodeId, roomId, peerId);
      const consumer = await media.consume(nodeId, roomId, peerId, transport.transportId, producerId);
      const codec = consumer.rtpParameters.codecs[0];
      const ssrc = consumer.rtpParameters.encodings?.[0]?.ssrc;
      if (!codec || ssrc === undefined) throw new StrataError('INTERNAL', `consumer of ${producerId} has no codec or SSRC`);
      track.consumerId = consumer.consumerId;
      track.info = { ...track.info, codec: codec.mimeType, identity: track.info.identity || (await this.identityOf(peer.peerId)) };
      const sink = await this.opts.sinks({
        kind: producer.kind,
        path: `${this.opts.dir}/${track.info.file}`,
        payloadType: codec.payloadType,
        ssrc,
        clockRate: codec.clockRate,
      });
      track.sink = sink;
      if (this.closed || track.closing) {
        await sink.close();
        return;
      }
      await transport.connect(this.opts.rtpHost, sink.port);
      await media.resume(nodeId, roomId, peerId, consumer.consumerId);
      if (consumer.producerPaused && track.pausedSince === undefined) track.pausedSince = this.now();
      this.log.info({ producerId, trackId, kind: producer.kind, peerId: peer.peerId }, 'track recording');
      this.opts.changed();
    } catch (err) {
      // A producer that closed meanwhile (NOT_FOUND) is routine; anything else is logged. The
      // roster poll does not retry it: one producer that cannot be consumed must not loop.
      const se = StrataError.from(err);
      this.log[se.code === 'NOT_FOUND' ? 'info' : 'warn'](
        { producerId, code: se.code, err: se.code === 'INTERNAL' ? err : undefined },
        `track not recorded: ${se.message}`,
      );
      this.tracks.delete(producerId);
      this.failed.add(producerId);
      await track.sink?.close().catch(() => undefined);
    }
  }

  /** Identities come with the roster; a producer heard of by event first gets it from there. */
  private async identityOf(peerId: string): Promise<string> {
    try {
      const peers = await this.opts.media.roster(this.opts.nodeId, this.opts.roomId);
      return peers.find((p) => p.peerId === peerId)?.identity ?? '';
    } catch {
      return '';
    }
  }

  private endTrack(producerId: string, why: string): Promise<void> {
    const t = this.tracks.get(producerId);
    if (!t || t.info.final) return Promise.resolve();
    t.closing ??= (async () => {
      const stats = await t.sink?.close();
      const pauses = t.pausedSince !== undefined ? [...t.info.pauses, { fromMs: this.offset(t.pausedSince), toMs: this.offset(this.now()) }] : t.info.pauses;
      t.pausedSince = undefined;
      t.info = { ...t.info, ...(stats ? this.fromStats(stats) : {}), pauses, final: true };
      this.log.info({ producerId, trackId: t.info.trackId, why, packets: stats?.packets, lost: stats?.lost }, 'track ended');
      this.opts.changed();
      if (t.sink) this.opts.fileDone?.(t.info.file);
    })();
    return t.closing;
  }

  /**
   * Ends the segment: every file finalized, the recorder's transports on the media node
   * closed. Idempotent. `leaveMedia: false` when the media node is known to be gone.
   */
  async close(leaveMedia = this.started): Promise<RecordedTrack[]> {
    if (!this.closed) {
      this.closed = true;
      clearInterval(this.poll);
      this.unwatch?.();
      await Promise.all([...this.tracks.keys()].map((id) => this.endTrack(id, 'segment ended')));
      if (leaveMedia)
        await this.opts.media
          .closePeer(this.opts.nodeId, this.opts.roomId, this.opts.peerId)
          .catch((err: unknown) => this.log.warn({ err }, 'could not close the recorder transports on the media node'));
    }
    return this.snapshot();
  }
}
