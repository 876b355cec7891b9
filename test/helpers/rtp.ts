import { vp8Payload } from '@strata/harness';
import { createSocket, type Socket } from 'node:dgram';

/** RFC 6464 audio level in a one-byte header extension (what browsers send with Opus). */
export const AUDIO_LEVEL_EXT_ID = 1;

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

/** Sends a 20 ms-paced Opus-like stream to host:port until stopped. */
export function startAudioSender(host: string, port: number, ssrc: number, level: () => number): { stop(): void; socket: Socket } {
  const socket = createSocket('udp4');
  let seq = 0;
  const timer = setInterval(() => {
    const pkt = rtpPacket({ pt: 100, seq: seq++, ts: seq * 960, ssrc, payload: Buffer.alloc(40, 0x11), audioLevel: level() });
    socket.send(pkt, port, host);
  }, 20);
  return {
    socket,
    stop() {
      clearInterval(timer);
      socket.close();
    },
  };
}

/** A UDP socket counting what arrives: a consumer's far end. */
export async function startUdpSink(): Promise<{ port: number; packets: () => number; bytes: () => number; close(): void }> {
  const socket = createSocket('udp4');
  let packets = 0;
  let bytes = 0;
  socket.on('message', (m) => {
    // RTCP (PT 200-204) is not media
    const pt = m[1]! & 0x7f;
    if (m[1]! >= 200 && m[1]! <= 204) return;
    void pt;
    packets++;
    bytes += m.length;
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { port: socket.address().port, packets: () => packets, bytes: () => bytes, close: () => socket.close() };
}

/** One simulcast layer of a synthetic VP8 sender: its SSRC, the key frame's width (what a decoder reads first) and each frame's size. */
export interface SyntheticLayer {
  ssrc: number;
  width: number;
  height: number;
  frameBytes: number;
}

export const VP8_PT = 101;

/** The width in a VP8 key frame's header, or undefined for anything else (RTCP, delta frames, audio). */
export function vp8KeyFrameWidth(rtp: Buffer): number | undefined {
  if (rtp.length < 12 || (rtp[1]! >= 200 && rtp[1]! <= 204)) return undefined;
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
 * Sends simulcast VP8 as a browser would, one SSRC per layer, 30 frames a second, a key frame
 * on every layer each second, and a sender report per layer twice a second (mediasoup switches
 * spatial layers only between streams whose clocks it can line up), from one socket (a
 * comedia plain transport learns one source).
 */
export function startSimulcastSender(host: string, port: number, layers: SyntheticLayer[]): { stop(): void } {
  const socket = createSocket('udp4');
  const t0 = Date.now();
  let frame = 0;
  const sent = layers.map(() => ({ seq: 0, octets: 0 }));
  const rtpTs = (ms: number) => Math.round(((ms - t0) * 90000) / 1000);
  const timer = setInterval(() => {
    const ts = rtpTs(Date.now());
    for (const [i, l] of layers.entries()) {
      const payload = vp8Payload(frame, frame % 30 === 0, l.frameBytes, l.width, l.height);
      const s = sent[i]!;
      socket.send(rtpPacket({ pt: VP8_PT, seq: s.seq++, ts, ssrc: l.ssrc, payload, marker: true }), port, host);
      s.octets += payload.length;
    }
    frame++;
  }, 1000 / 30);
  const reports = setInterval(() => {
    const now = Date.now();
    for (const [i, l] of layers.entries()) socket.send(senderReport(l.ssrc, rtpTs(now), sent[i]!.seq, sent[i]!.octets, now), port, host);
  }, 500);
  return {
    stop() {
      clearInterval(timer);
      clearInterval(reports);
      socket.close();
    },
  };
}

/** A UDP socket that remembers the widths of the VP8 key frames it receives. */
export async function startVp8Sink(): Promise<{ port: number; widths: () => number[]; packets: () => number; close(): void }> {
  const socket = createSocket('udp4');
  const widths: number[] = [];
  let packets = 0;
  socket.on('message', (m) => {
    if (m[1]! >= 200 && m[1]! <= 204) return;
    packets++;
    const w = vp8KeyFrameWidth(m);
    if (w !== undefined) widths.push(w);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { port: socket.address().port, widths: () => [...widths], packets: () => packets, close: () => socket.close() };
}
