/**
 * One track of a room, from a UDP port to a file: RTP and RTCP (rtcp-mux) from a media node's
 * PlainTransport, through the jitter buffer, into an Ogg Opus (.ogg) or, via the VP8
 * depacketizer, a WebM (.webm) file. Key frames are asked for with RTCP PLI, sent back to the
 * address the RTP comes from. Nothing a sender does makes it throw: malformed datagrams, other
 * SSRCs and other payload types are counted and dropped.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { JitterBuffer, type JitterBufferOptions, type JitterEvent } from './jitter-buffer.js';
import { OggOpusWriter, type OggOpusWriterOptions } from './ogg-opus-writer.js';
import { buildEmptyReceiverReport, buildPli, isRtcp, parseRtp, type RtpPacket } from './rtp.js';
import { Vp8Depacketizer, type Vp8Frame } from './vp8-depacketizer.js';
import { WebmWriter } from './webm-writer.js';

export type TrackKind = 'audio' | 'video';

export interface TrackRecorderOptions {
  kind: TrackKind;
  /** The payload type the media node sends this track with; others are dropped. */
  payloadType: number;
  /** File path without extension; `.ogg` (audio) or `.webm` (video) is appended. */
  basePath: string;
  host: string;
  /** 0: any free port (see `port`). */
  port?: number;
  jitter?: Omit<JitterBufferOptions, 'now'>;
  /** No key frame this long after the first packet: ask for one. Default 1000 ms. */
  firstKeyFrameTimeoutMs?: number;
  /** PLIs at least this far apart. Default 500 ms. */
  pliIntervalMs?: number;
  /** Gap list entries kept for the manifest; more are counted only. Default 1000. */
  maxGapEntries?: number;
  /** Our SSRC in RTCP. */
  ssrc?: number;
  ogg?: OggOpusWriterOptions;
  /** Monotonic ms (jitter buffer, PLI timing); wall clock ms (arrival times in stats). Injectable for tests. */
  now?: () => number;
  wallClock?: () => number;
}

/**
 * A hole in the sequence numbers, placed on the RTP timeline: from the timestamp of the last packet
 * before it to that of the first packet after it, in ms from the track's first packet. For audio
 * that is one packet longer than what is missing (n lost 20 ms packets: (n + 1) × 20 ms); a loss
 * inside one video frame has duration 0 (the frame is dropped all the same).
 */
export interface Gap {
  startMs: number;
  durationMs: number;
  /** Sequence numbers missing. */
  packets: number;
}

export interface TrackStats {
  kind: TrackKind;
  file: string;
  port: number;
  ssrc: number | undefined;
  /** RTP of the track's SSRC and payload type (duplicates included). */
  packetsReceived: number;
  rtcpReceived: number;
  /** Neither RTCP nor well-formed RTP, or an RTP payload that is not the codec's. */
  malformed: number;
  /** RTP from an SSRC other than the first one seen (mediasoup's probation stream, a stray sender). */
  otherSsrc: number;
  otherPayloadType: number;
  duplicates: number;
  /** Arrived after the jitter buffer had declared them lost. */
  late: number;
  /** Sequence numbers declared lost. */
  lost: number;
  gaps: Gap[];
  /** Gaps beyond `maxGapEntries`, counted only. */
  gapsNotListed: number;
  /** RTP packets whose payload is in the file (audio: one per Opus packet; video: the packets of written frames). */
  packetsWritten: number;
  /** Audio: Opus packets; video: VP8 frames. Silence filling is not counted. */
  framesWritten: number;
  /** Video frames not written: broken by a loss, or waiting for a key frame. */
  framesDropped: number;
  keyFrames: number;
  plisSent: number;
  bytesWritten: number;
  /** Wall-clock ms of the first and last RTP packet of the track. */
  firstPacketAt: number | undefined;
  /**
   * Set when writing failed (disk full, file removed): the recording stopped there, the file is
   * valid up to its last complete write. Bad input never sets it.
   */
  error?: string;
  lastPacketAt: number | undefined;
  width?: number;
  height?: number;
}

const OPUS_CLOCK = 48_000;
const VP8_CLOCK = 90_000;
const VIDEO_TRACK = 1;
const TICK_MS = 20;
/** A stream quiet this long gets its Ogg page flushed, so at most ~1 s is lost with the process. */
const QUIET_FLUSH_MS = 1000;

export class TrackRecorder {
  readonly #opts: TrackRecorderOptions;
  readonly #socket: Socket;
  readonly #now: () => number;
  readonly #wall: () => number;
  readonly #jitter: JitterBuffer<RtpPacket>;
  readonly #clock: number;
  readonly #ourSsrc: number;
  readonly #timer: NodeJS.Timeout;
  readonly #s: TrackStats;
  #ogg: OggOpusWriter | undefined;
  #webm: WebmWriter | undefined;
  readonly #vp8: Vp8Depacketizer | undefined;
  #sender: RemoteInfo | undefined;
  #firstTs: number | undefined;
  #lastTs = 0;
  #extTs = 0;
  #firstPacketMono = 0;
  #lastPacketMono = 0;
  #lastPliMono = -Infinity;
  #pendingGap: { startMs: number; packets: number } | undefined;
  #closing: Promise<TrackStats> | undefined;
  /** Set as close() begins: no datagram, timer tick or PLI after it. */
  #stopped = false;

  static async start(opts: TrackRecorderOptions): Promise<TrackRecorder> {
    const socket = createSocket(isIP(opts.host) === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port ?? 0, opts.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    try {
      return new TrackRecorder(opts, socket);
    } catch (err) {
      // The audio file is created (and its headers written) at once: a bad path fails start().
      socket.close();
      throw err;
    }
  }

  private constructor(opts: TrackRecorderOptions, socket: Socket) {
    this.#opts = opts;
    this.#socket = socket;
    this.#now = opts.now ?? (() => performance.now());
    this.#wall = opts.wallClock ?? Date.now;
    this.#jitter = new JitterBuffer<RtpPacket>({ ...opts.jitter, now: this.#now });
    this.#clock = opts.kind === 'audio' ? OPUS_CLOCK : VP8_CLOCK;
    this.#ourSsrc = opts.ssrc ?? ((Math.random() * 0x1_0000_0000) >>> 0 || 1);
    const file = opts.basePath + (opts.kind === 'audio' ? '.ogg' : '.webm');
    this.#s = {
      kind: opts.kind,
      file,
      port: socket.address().port,
      ssrc: undefined,
      packetsReceived: 0,
      rtcpReceived: 0,
      malformed: 0,
      otherSsrc: 0,
      otherPayloadType: 0,
      duplicates: 0,
      late: 0,
      lost: 0,
      gaps: [],
      gapsNotListed: 0,
      packetsWritten: 0,
      framesWritten: 0,
      framesDropped: 0,
      keyFrames: 0,
      plisSent: 0,
      bytesWritten: 0,
      firstPacketAt: undefined,
      lastPacketAt: undefined,
    };
    if (opts.kind === 'audio') this.#ogg = new OggOpusWriter(file, opts.ogg);
    // The WebM file is created at the first key frame, which gives its picture size.
    else this.#vp8 = new Vp8Depacketizer({ onKeyFrameNeeded: () => this.#maybePli() });
    socket.on('message', (msg, rinfo) => this.#guard(() => this.#onDatagram(msg, rinfo)));
    // A socket error (ICMP unreachable for a PLI on some systems) must not end the recording.
    socket.on('error', () => {});
    this.#timer = setInterval(() => this.#guard(() => this.#tick()), TICK_MS);
    this.#timer.unref();
  }

  get port(): number {
    return this.#s.port;
  }

  get file(): string {
    return this.#s.file;
  }

  get stats(): TrackStats {
    return { ...this.#s, gaps: [...this.#s.gaps], ...this.#jitterStats() };
  }

  /** Stops receiving, writes what the jitter buffer holds, finalizes the file; idempotent. */
  close(): Promise<TrackStats> {
    this.#closing ??= (async () => {
      this.#stopped = true;
      clearInterval(this.#timer);
      await new Promise<void>((r) => this.#socket.close(() => r()));
      this.#guard(() => {
        this.#handle(this.#jitter.flush());
        if (this.#vp8) for (const f of this.#vp8.flush()) this.#writeFrame(f);
      });
      try {
        if (this.#ogg) this.#s.bytesWritten = (await this.#ogg.close()).bytes;
        if (this.#webm) this.#s.bytesWritten = (await this.#webm.close()).bytes;
      } catch (err) {
        this.#s.error ??= err instanceof Error ? err.message : String(err);
      }
      return this.stats;
    })();
    return this.#closing;
  }

  #jitterStats(): Pick<TrackStats, 'duplicates' | 'late' | 'lost'> {
    const j = this.#jitter.stats;
    return { duplicates: j.duplicates, late: j.late, lost: j.lost };
  }

  #onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#stopped) return;
    if (isRtcp(msg)) {
      // Sender reports are not needed to write the file: RTP timestamps alone give the timeline.
      this.#s.rtcpReceived++;
      return;
    }
    const p = parseRtp(msg);
    if (!p) {
      this.#s.malformed++;
      return;
    }
    if (this.#s.ssrc === undefined) this.#s.ssrc = p.ssrc;
    else if (p.ssrc !== this.#s.ssrc) {
      this.#s.otherSsrc++;
      return;
    }
    if (p.payloadType !== this.#opts.payloadType) {
      this.#s.otherPayloadType++;
      return;
    }
    this.#sender = rinfo;
    this.#s.packetsReceived++;
    const mono = this.#now();
    if (this.#s.firstPacketAt === undefined) {
      this.#s.firstPacketAt = this.#wall();
      this.#firstPacketMono = mono;
    }
    this.#s.lastPacketAt = this.#wall();
    this.#lastPacketMono = mono;
    this.#handle(this.#jitter.push(p.sequenceNumber, p));
  }

  /** An I/O error from a writer ends the recording of this track, never the process. */
  #guard(f: () => void): void {
    if (this.#s.error !== undefined) return;
    try {
      f();
    } catch (err) {
      this.#s.error = err instanceof Error ? err.message : String(err);
      this.#stopped = true;
    }
  }

  #tick(): void {
    if (this.#stopped) return;
    this.#handle(this.#jitter.poll());
    const now = this.#now();
    if (this.#vp8 && this.#s.ssrc !== undefined) {
      // Until the first key frame, and while a loss keeps us waiting for one, keep asking (the PLI may be lost too).
      const waited = now - this.#firstPacketMono >= (this.#opts.firstKeyFrameTimeoutMs ?? 1000);
      if (this.#vp8.waitingForKeyFrame && (this.#vp8.seenKeyFrame || waited)) this.#maybePli();
    }
    if (this.#ogg && now - this.#lastPacketMono >= QUIET_FLUSH_MS) this.#ogg.flush();
  }

  #handle(events: JitterEvent<RtpPacket>[]): void {
    for (const e of events) {
      if (e.kind === 'gap') {
        this.#pendingGap = { startMs: this.#ms(this.#extTs), packets: (this.#pendingGap?.packets ?? 0) + e.count };
        this.#vp8?.lost();
        continue;
      }
      const p = e.packet;
      this.#advanceTimestamp(p.timestamp);
      if (this.#pendingGap) {
        this.#recordGap({ ...this.#pendingGap, durationMs: Math.max(0, this.#ms(this.#extTs) - this.#pendingGap.startMs) });
        this.#pendingGap = undefined;
      }
      if (this.#ogg) {
        if (p.payload.length === 0) continue; // padding-only
        if (this.#ogg.write(p.payload, p.timestamp)) this.#s.packetsWritten++;
        else this.#s.malformed++;
        this.#s.framesWritten = this.#s.packetsWritten;
        this.#s.bytesWritten = this.#ogg.stats.bytes;
      } else if (this.#vp8) {
        if (p.payload.length === 0) continue;
        for (const f of this.#vp8.push(p)) this.#writeFrame(f);
        this.#s.framesDropped = this.#vp8.stats.framesBroken + this.#vp8.stats.framesSkipped;
      }
    }
  }

  #writeFrame(f: Vp8Frame): void {
    if (!this.#webm) {
      if (!f.keyFrame || f.width === undefined || f.height === undefined) return;
      this.#webm = new WebmWriter(this.#s.file, { tracks: [{ number: VIDEO_TRACK, kind: 'video', codecId: 'V_VP8', width: f.width, height: f.height }] });
      this.#s.width = f.width;
      this.#s.height = f.height;
    }
    // Frame time from its RTP timestamp, relative to the track's first packet (signed distance from the last one seen).
    const ext = this.#extTs + ((f.timestamp - this.#lastTs) | 0);
    this.#webm.writeFrame(VIDEO_TRACK, this.#ms(ext), f.keyFrame, f.data);
    this.#s.framesWritten++;
    this.#s.packetsWritten += f.packets;
    if (f.keyFrame) this.#s.keyFrames++;
    this.#s.bytesWritten = this.#webm.stats.bytes;
  }

  #advanceTimestamp(ts: number): void {
    if (this.#firstTs === undefined) {
      this.#firstTs = ts >>> 0;
      this.#lastTs = this.#firstTs;
    }
    this.#extTs += (ts - this.#lastTs) | 0;
    this.#lastTs = ts >>> 0;
  }

  #ms(extTs: number): number {
    return (extTs * 1000) / this.#clock;
  }

  #recordGap(g: Gap): void {
    if (this.#s.gaps.length < (this.#opts.maxGapEntries ?? 1000)) this.#s.gaps.push(g);
    else this.#s.gapsNotListed++;
  }

  #maybePli(): void {
    const now = this.#now();
    if (this.#stopped || !this.#sender || this.#s.ssrc === undefined || now - this.#lastPliMono < (this.#opts.pliIntervalMs ?? 500)) return;
    this.#lastPliMono = now;
    this.#s.plisSent++;
    // RR + PLI in one compound packet (RFC 4585 §3.1), to where the RTP comes from: a PlainTransport with comedia, or ffmpeg, listens there.
    const pkt = Buffer.concat([buildEmptyReceiverReport(this.#ourSsrc), buildPli(this.#ourSsrc, this.#s.ssrc)]);
    this.#socket.send(pkt, this.#sender.port, this.#sender.address);
  }
}
