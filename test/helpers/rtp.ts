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
