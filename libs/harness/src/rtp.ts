/**
 * Plain RTP parts for tests and benchmarks: synthetic senders (Opus-like audio, simulcast VP8
 * with sender reports) and UDP sinks that count what a consumer sends them. No encoder: the
 * payloads are shaped like VP8 (descriptor, frame tag, key-frame header with the width) so that
 * mediasoup sees key frames and a receiver can tell which layer it got.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { vp8Payload } from './node-peer.js';

/** RFC 6464 audio level in a one-byte header extension (what browsers send with Opus). */
export const AUDIO_LEVEL_EXT_ID = 1;
export const OPUS_PT = 100;
export const VP8_PT = 101;

export interface Target {
  host: string;
  port: number;
}

/**
 * A minimal RTP packet: 12-byte header, optional one-byte-header extension carrying the audio
 * level (0 = loudest, 127 = silence), then the payload.
 */
export function rtpPacket(opts: { pt: number; seq: number; ts: number; ssrc: number; payload: Buffer; audioLevel?: number; marker?: boolean }): Buffer {
  const hasExt = opts.audioLevel !== undefined;
  const header = Buffer.alloc(12);
  header[0] = 0x80 | (hasExt ? 0x10 : 0);
  header[1] = (opts.marker ? 0x80 : 0) | (opts.pt & 0x7f);
  header.writeUInt16BE(opts.seq & 0xffff, 2);
  header.writeUInt32BE(opts.ts >>> 0, 4);
  header.writeUInt32BE(opts.ssrc >>> 0, 8);
  if (!hasExt) return Buffer.concat([header, opts.payload]);
  // 0xBEDE profile, one 32-bit word: [id<<4 | len-1][V|level][pad][pad]
  const ext = Buffer.from([0xbe, 0xde, 0x00, 0x01, (AUDIO_LEVEL_EXT_ID << 4) | 0, 0x80 | (opts.audioLevel! & 0x7f), 0, 0]);
  return Buffer.concat([header, ext, opts.payload]);
}

/** RTCP packet types (RFC 3550, RFC 4585): a datagram whose second byte is one of them is not media. */
export const isRtcp = (m: Buffer): boolean => m.length >= 2 && m[1]! >= 192 && m[1]! <= 223;

/** What every synthetic sender offers: its counts, and a way to hold it. */
export interface RtpSender {
  /** RTP sent so far per SSRC: packets, and bytes with headers (to each target). */
  sent(): Map<number, { packets: number; bytes: number }>;
  /** While held, nothing is sent (a muted or stalled sender); the stream goes on where it was when released. */
  hold(on: boolean): void;
  stop(): void;
}

export interface AudioSender extends RtpSender {
  socket: Socket;
  packets(): number;
}

export interface AudioSenderOptions {
  /** Where each packet goes (every target gets the same packets, from the same socket). */
  targets: Target[];
  ssrc: number;
  /** Audio level per packet (0 loudest … 127 silence); none: no level extension. */
  level?: () => number;
  /** Packet spacing; 20 ms as Opus sends by default. */
  intervalMs?: number;
}

/** Sends an Opus-like stream (payload type 100, 48 kHz clock) to every target until stopped. */
export function startAudioSender(opts: AudioSenderOptions): AudioSender;
/** The same to one target, 20 ms apart, with an audio level. */
export function startAudioSender(host: string, port: number, ssrc: number, level: () => number): AudioSender;
export function startAudioSender(a: AudioSenderOptions | string, port?: number, ssrc?: number, level?: () => number): AudioSender {
  const opts: AudioSenderOptions = typeof a === 'string' ? { targets: [{ host: a, port: port! }], ssrc: ssrc!, ...(level ? { level } : {}) } : a;
  const interval = opts.intervalMs ?? 20;
  const socket = createSocket('udp4');
  let seq = 0;
  let bytes = 0;
  let held = false;
  const t0 = performance.now();
  const timer = setInterval(() => {
    if (held) return;
    // The timestamp follows the clock, not the packet count: timers drift, the media clock must not.
    const ts = Math.round(((performance.now() - t0) * 48000) / 1000);
    const pkt = rtpPacket({
      pt: OPUS_PT,
      seq: seq++,
      ts,
      ssrc: opts.ssrc,
      payload: Buffer.alloc(40, 0x11),
      ...(opts.level ? { audioLevel: opts.level() } : {}),
    });
    for (const t of opts.targets) socket.send(pkt, t.port, t.host);
    bytes += pkt.length;
  }, interval);
  return {
    socket,
    packets: () => seq,
    sent: () => new Map([[opts.ssrc, { packets: seq, bytes }]]),
    hold: (on) => void (held = on),
    stop() {
      clearInterval(timer);
      socket.close();
    },
  };
}

export interface UdpSink {
  port: number;
  /** RTP packets (RTCP is not counted). */
  packets(): number;
  bytes(): number;
  /** When the first RTP packet since the last `reset()` arrived (performance.now()), if one did. */
  firstPacketAt(): number | undefined;
  /** Resolves at the next RTP packet's arrival time (performance.now()). */
  nextPacket(): Promise<number>;
  /** Forgets the counts and the first packet's time. */
  reset(): void;
  close(): void;
}

/** A UDP socket counting the RTP that arrives: a consumer's far end. `onRtp` sees every RTP datagram with its arrival time. */
export async function startUdpSink(onRtp?: (m: Buffer, at: number) => void): Promise<UdpSink> {
  const socket = createSocket('udp4');
  let packets = 0;
  let bytes = 0;
  let first: number | undefined;
  let waiters: ((at: number) => void)[] = [];
  socket.on('message', (m) => {
    if (isRtcp(m)) return;
    const at = performance.now();
    packets++;
    bytes += m.length;
    first ??= at;
    if (waiters.length) for (const w of waiters.splice(0)) w(at);
    onRtp?.(m, at);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    port: socket.address().port,
    packets: () => packets,
    bytes: () => bytes,
    firstPacketAt: () => first,
    nextPacket: () => new Promise<number>((r) => waiters.push(r)),
    reset() {
      packets = 0;
      bytes = 0;
      first = undefined;
      waiters = [];
    },
    close: () => socket.close(),
  };
}

/** One simulcast layer of a synthetic VP8 sender: its SSRC, the key frame's width (what a decoder reads first) and each frame's size. */
export interface SyntheticLayer {
  ssrc: number;
  width: number;
  height: number;
  frameBytes: number;
}

/** The width in a VP8 key frame's header, or undefined for anything else (RTCP, delta frames, audio, a frame's later packets). */
export function vp8KeyFrameWidth(rtp: Buffer): number | undefined {
  if (rtp.length < 12 || isRtcp(rtp)) return undefined;
  const cc = rtp[0]! & 0x0f;
  let off = 12 + cc * 4;
  if (rtp[0]! & 0x10) off += 4 + rtp.readUInt16BE(off + 2) * 4;
  // Descriptor: X byte, then I/L/T/K fields as flagged.
  const x = rtp[off]!;
  let i = off + 1;
  if (x & 0x80) {
    const ext = rtp[i++]!;
    if (ext & 0x80) i += rtp[i]! & 0x80 ? 2 : 1;
    if (ext & 0x40) i++;
    if (ext & 0x30) i++;
  }
  if (!(x & 0x10) || rtp.length < i + 10) return undefined;
  if ((rtp[i]! & 0x01) !== 0 || rtp[i + 3] !== 0x9d || rtp[i + 4] !== 0x01 || rtp[i + 5] !== 0x2a) return undefined;
  return rtp.readUInt16LE(i + 6) & 0x3fff;
}

/** An RTCP sender report (RFC 3550 6.4.1) without report blocks: it ties `rtpTs` to the wall clock. */
export function senderReport(ssrc: number, rtpTs: number, packets: number, octets: number, nowMs = Date.now()): Buffer {
  const b = Buffer.alloc(28);
  b[0] = 0x80;
  b[1] = 200;
  b.writeUInt16BE(6, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  const ntpSeconds = Math.floor(nowMs / 1000) + 2_208_988_800;
  b.writeUInt32BE(ntpSeconds >>> 0, 8);
  b.writeUInt32BE(Math.floor(((nowMs % 1000) / 1000) * 2 ** 32) >>> 0, 12);
  b.writeUInt32BE(rtpTs >>> 0, 16);
  b.writeUInt32BE(packets >>> 0, 20);
  b.writeUInt32BE(octets >>> 0, 24);
  return b;
}

/**
 * The media SSRCs a compound RTCP datagram asks key frames for: PLI (PT 206, FMT 1; the media
 * SSRC in the common header) and FIR (PT 206, FMT 4; the SSRC in each FCI entry).
 */
export function keyFrameRequests(rtcp: Buffer): number[] {
  const out: number[] = [];
  let off = 0;
  while (off + 4 <= rtcp.length) {
    const fmt = rtcp[off]! & 0x1f;
    const pt = rtcp[off + 1]!;
    const len = (rtcp.readUInt16BE(off + 2) + 1) * 4;
    if (len < 4 || off + len > rtcp.length) break;
    if (pt === 206 && fmt === 1 && len >= 12) out.push(rtcp.readUInt32BE(off + 8));
    if (pt === 206 && fmt === 4) for (let i = off + 12; i + 8 <= off + len; i += 8) out.push(rtcp.readUInt32BE(i));
    off += len;
  }
  return out;
}

export interface SimulcastSenderOptions {
  targets: Target[];
  layers: SyntheticLayer[];
  fps?: number;
  /** A key frame on every layer this often, whatever is asked; 1 s by default. */
  keyFrameIntervalMs?: number;
  /** Frames larger than this are split over several packets, as a browser's packetizer does (1,200 B of payload by default). */
  maxPayloadBytes?: number;
  /**
   * Answer PLI and FIR: the next frame of the asked layer is a key frame, as an encoder's is.
   * Off by default: a sender that never answers shows what a consumer does without it.
   */
  answerKeyFrameRequests?: boolean;
}

export interface SimulcastSender extends RtpSender {
  stop(): void;
  /** Bytes of RTP (headers included) sent per layer to each target, in the order of `layers`. */
  bytesSent(): number[];
  /** Key frame requests answered, per layer. */
  keyFramesAsked(): number[];
}

/**
 * Sends simulcast VP8 as a browser would, one SSRC per layer, 30 frames a second by default, a
 * key frame on every layer each second, and a sender report per layer twice a second (mediasoup
 * switches spatial layers only between streams whose clocks it can line up), from one socket (a
 * comedia plain transport learns one source) to every target alike.
 */
export function startSimulcastSender(opts: SimulcastSenderOptions): SimulcastSender;
/** The same to one target, one packet per frame, key frames only every second. */
export function startSimulcastSender(host: string, port: number, layers: SyntheticLayer[]): SimulcastSender;
export function startSimulcastSender(a: SimulcastSenderOptions | string, port?: number, layersArg?: SyntheticLayer[]): SimulcastSender {
  const opts: SimulcastSenderOptions = typeof a === 'string' ? { targets: [{ host: a, port: port! }], layers: layersArg!, maxPayloadBytes: Infinity } : a;
  const { targets, layers } = opts;
  const fps = opts.fps ?? 30;
  const keyEvery = Math.max(1, Math.round(((opts.keyFrameIntervalMs ?? 1000) * fps) / 1000));
  const maxPayload = opts.maxPayloadBytes ?? 1200;
  const socket = createSocket('udp4');
  const t0 = Date.now();
  let frame = 0;
  const state = layers.map(() => ({ seq: 0, packets: 0, octets: 0, bytes: 0, keyAsked: false, asked: 0 }));
  const bySsrc = new Map(layers.map((l, i) => [l.ssrc >>> 0, i]));
  if (opts.answerKeyFrameRequests) {
    socket.on('message', (m) => {
      if (!isRtcp(m)) return;
      for (const ssrc of keyFrameRequests(m)) {
        const i = bySsrc.get(ssrc);
        if (i === undefined) continue;
        state[i]!.keyAsked = true;
        state[i]!.asked++;
      }
    });
  }
  const rtpTs = (ms: number) => Math.round(((ms - t0) * 90000) / 1000);
  const send = (b: Buffer) => {
    for (const t of targets) socket.send(b, t.port, t.host);
  };
  let held = false;
  const timer = setInterval(() => {
    if (held) return;
    const ts = rtpTs(Date.now());
    for (const [i, l] of layers.entries()) {
      const s = state[i]!;
      const key = frame % keyEvery === 0 || s.keyAsked;
      s.keyAsked = false;
      const whole = vp8Payload(frame, key, l.frameBytes, l.width, l.height);
      // The first packet carries the frame's start (S=1) and header; the others continue partition 0 (S=0) after the same descriptor.
      const descriptor = whole.subarray(0, 4);
      const chunks: Buffer[] = [];
      if (whole.length <= maxPayload) chunks.push(whole);
      else {
        chunks.push(whole.subarray(0, maxPayload));
        for (let off = maxPayload; off < whole.length; off += maxPayload - 4) {
          const cont = Buffer.concat([descriptor, whole.subarray(off, Math.min(whole.length, off + maxPayload - 4))]);
          cont[0] = cont[0]! & ~0x10;
          chunks.push(cont);
        }
      }
      for (const [c, payload] of chunks.entries()) {
        const pkt = rtpPacket({ pt: VP8_PT, seq: s.seq++, ts, ssrc: l.ssrc, payload, marker: c === chunks.length - 1 });
        send(pkt);
        s.packets++;
        s.octets += payload.length;
        s.bytes += pkt.length;
      }
    }
    frame++;
  }, 1000 / fps);
  const reports = setInterval(() => {
    if (held) return;
    const now = Date.now();
    for (const [i, l] of layers.entries()) send(senderReport(l.ssrc, rtpTs(now), state[i]!.packets, state[i]!.octets, now));
  }, 500);
  return {
    bytesSent: () => state.map((s) => s.bytes),
    keyFramesAsked: () => state.map((s) => s.asked),
    sent: () => new Map(layers.map((l, i) => [l.ssrc, { packets: state[i]!.packets, bytes: state[i]!.bytes }])),
    hold: (on) => void (held = on),
    stop() {
      clearInterval(timer);
      clearInterval(reports);
      socket.close();
    },
  };
}

export interface KeyFrame {
  /** When the key frame's last packet (marker bit) arrived, performance.now(): the frame is then whole and decodable. */
  at: number;
  /** When its first packet arrived. */
  firstAt: number;
  width: number;
  ssrc: number;
}

export interface Vp8Sink extends UdpSink {
  /** The widths of the VP8 key frames received since the last `reset()`, in order (counted at their first packet). */
  widths(): number[];
  /** Resolves when the next whole key frame (every packet from its first to its marker, no sequence gap) has arrived, of `width` if given. */
  nextKeyFrame(width?: number): Promise<KeyFrame>;
}

/** A UDP socket that counts RTP and remembers the widths of the VP8 key frames it receives. */
export async function startVp8Sink(): Promise<Vp8Sink> {
  let widths: number[] = [];
  let keyWaiters: { width: number | undefined; resolve: (k: KeyFrame) => void }[] = [];
  // The key frame being received: its first packet, and the last sequence number seen of it.
  let pending: { ssrc: number; ts: number; seq: number; width: number; firstAt: number } | undefined;
  const sink = await startUdpSink((m, at) => {
    const ssrc = m.readUInt32BE(8);
    const ts = m.readUInt32BE(4);
    const seq = m.readUInt16BE(2);
    const marker = (m[1]! & 0x80) !== 0;
    const width = vp8KeyFrameWidth(m);
    if (width !== undefined) {
      widths.push(width);
      pending = { ssrc, ts, seq, width, firstAt: at };
    } else if (pending && pending.ssrc === ssrc) {
      if (pending.ts !== ts || seq !== ((pending.seq + 1) & 0xffff)) {
        pending = undefined; // a gap or another frame: this key frame is not whole
        return;
      }
      pending.seq = seq;
    }
    if (pending && marker && pending.ssrc === ssrc && pending.ts === ts) {
      const k = { at, firstAt: pending.firstAt, width: pending.width, ssrc };
      pending = undefined;
      if (keyWaiters.length) {
        const [now, later] = [
          keyWaiters.filter((w) => w.width === undefined || w.width === k.width),
          keyWaiters.filter((w) => w.width !== undefined && w.width !== k.width),
        ];
        keyWaiters = later;
        for (const w of now) w.resolve(k);
      }
    }
  });
  return {
    ...sink,
    widths: () => [...widths],
    nextKeyFrame: (width?: number) => new Promise((resolve) => keyWaiters.push({ width, resolve })),
    reset() {
      sink.reset();
      widths = [];
      keyWaiters = [];
      pending = undefined;
    },
  };
}

/** A UDP socket counting the RTP that arrives per SSRC (RTCP apart): several consumers' far end at once. */
export interface SsrcSink {
  port: number;
  /** ssrc → RTP packets and bytes received so far. */
  counts(): Map<number, { packets: number; bytes: number }>;
  rtcpPackets(): number;
  close(): void;
}

export async function startSsrcSink(host = '127.0.0.1'): Promise<SsrcSink> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  const streams = new Map<number, { packets: number; bytes: number }>();
  let rtcp = 0;
  socket.on('message', (m) => {
    if (m.length < 12) return;
    if (isRtcp(m)) {
      rtcp++;
      return;
    }
    const ssrc = m.readUInt32BE(8);
    const c = streams.get(ssrc);
    if (c) {
      c.packets++;
      c.bytes += m.length;
    } else streams.set(ssrc, { packets: 1, bytes: m.length });
  });
  await new Promise<void>((r) => socket.bind(0, host, () => r()));
  return {
    port: socket.address().port,
    counts: () => new Map([...streams].map(([k, v]) => [k, { ...v }])),
    rtcpPackets: () => rtcp,
    close: () => socket.close(),
  };
}
