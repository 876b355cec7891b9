/**
 * A few seconds of real encoded RTP, captured once into memory: startFfmpegRtp (libs/harness)
 * encoding Opus (20 ms, 64 kbit/s) or VP8 (640x360, 25 fps, 500 kbit/s asked, about 440 kbit/s
 * sent for the test pattern, a key frame every second) at real-time pace to a dgram socket here, which keeps each RTP packet and its time on the
 * media clock (its RTP timestamp), relative to the first. RTCP (ffmpeg's sender reports, on the same port) is left out.
 * The replay (rtp-replay-process.ts) sends these in a loop, so every track of a benchmark carries
 * what a real encoder sends, at the rate it sends it, without an encoder per track.
 */
import { startFfmpegRtp } from '@strata/harness';
import { createSocket } from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';

export type Kind = 'audio' | 'video';
export const PAYLOAD_TYPE: Record<Kind, number> = { audio: 100, video: 101 };
export const CLOCK: Record<Kind, number> = { audio: 48_000, video: 90_000 };
/** RTP clock ticks of one frame: 20 ms of Opus, 1/25 s of VP8. */
export const FRAME_TICKS: Record<Kind, number> = { audio: 960, video: 3600 };

export interface CapturedPacket {
  /** ms after the capture's first packet, from the RTP timestamps. */
  t: number;
  data: Buffer;
}

export interface Capture {
  kind: Kind;
  packets: CapturedPacket[];
  /** One pass of the loop: the last packet's time + one frame. */
  loopMs: number;
  /** Frames in one pass: audio, one per packet; video, one per marker bit. */
  frames: number;
  bytes: number;
}

const isRtcp = (b: Buffer): boolean => (b[1] ?? 0) >= 192 && (b[1] ?? 0) <= 223;
export const marker = (b: Buffer): boolean => ((b[1] ?? 0) & 0x80) !== 0;

/** Runs ffmpeg for `seconds` and keeps what it sent. */
export async function captureRtp(kind: Kind, seconds: number): Promise<Capture> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: 1 << 21 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  const raw: { data: Buffer }[] = [];
  socket.on('message', (data) => {
    if (data.length >= 12 && !isRtcp(data) && ((data[1] ?? 0) & 0x7f) === PAYLOAD_TYPE[kind]) raw.push({ data });
  });
  const ff = startFfmpegRtp({
    kind,
    host: '127.0.0.1',
    port: socket.address().port,
    payloadType: PAYLOAD_TYPE[kind],
    ssrc: 0x1234,
    durationS: seconds,
    size: '640x360',
    videoKbps: 500,
  });
  const code = await ff.exited;
  await new Promise((r) => setTimeout(r, 100));
  socket.close();
  if (code !== 0) throw new Error(`ffmpeg capture of ${kind} exited ${code}:\n${ff.proc.tail()}`);
  // Whole frames only: cut after the last marker bit (video), so the loop never splits a frame.
  let end = raw.length;
  if (kind === 'video') while (end > 0 && !marker(raw[end - 1]!.data)) end--;
  const kept = raw.slice(0, end);
  if (kept.length < 10) throw new Error(`ffmpeg sent only ${kept.length} ${kind} RTP packets`);
  // Send times from the RTP timestamps, not from when the packets arrived: ffmpeg's encoder lags
  // and catches up (most at its start, and more with two encoders on two cores), which arrival
  // times would replay as a slower or burstier stream than the media's own clock. The packets of a
  // frame share its time (sent in one burst, as an unpaced browser sends a frame).
  const ts0 = kept[0]!.data.readUInt32BE(4);
  const packets = kept.map((p) => ({ t: (((p.data.readUInt32BE(4) - ts0) >>> 0) * 1000) / CLOCK[kind], data: p.data }));
  const frameMs = (FRAME_TICKS[kind] * 1000) / CLOCK[kind];
  return {
    kind,
    packets,
    loopMs: packets[packets.length - 1]!.t + frameMs,
    frames: kind === 'audio' ? packets.length : packets.filter((p) => marker(p.data)).length,
    bytes: packets.reduce((n, p) => n + p.data.length, 0),
  };
}

export function saveCaptures(file: string, captures: Capture[]): void {
  writeFileSync(file, JSON.stringify(captures.map((c) => ({ ...c, packets: c.packets.map((p) => ({ t: p.t, data: p.data.toString('base64') })) }))));
}

export function loadCaptures(file: string): Capture[] {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as (Omit<Capture, 'packets'> & { packets: { t: number; data: string }[] })[];
  return raw.map((c) => ({ ...c, packets: c.packets.map((p) => ({ t: p.t, data: Buffer.from(p.data, 'base64') })) }));
}
