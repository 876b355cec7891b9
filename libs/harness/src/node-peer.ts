/**
 * A WebRTC participant in Node for end-to-end tests: the real @strata/client RoomClient
 * driving msc-node's Device (mediasoup-client on werift). It publishes Opus and VP8 by writing
 * RTP packets into werift tracks (werift encrypts and sends them over real ICE/DTLS/SRTP), and
 * counts what arrives on each consumer's track after decryption: receive-side stats, not logs.
 */
import { RoomClient, SignalingClient, type RemoteConsumer } from '@strata/client';
import { Device, MediaStreamTrack, RTCRtpCodecParameters, RtpHeader, RtpPacket, useAudioLevelIndication, useNACK, usePLI, useSdesMid } from 'msc-node';
import { createSocket } from 'node:dgram';
import WebSocket from 'ws';
import { startFfmpegRtp } from './ffmpeg-source.js';
import { keepIceConsent } from './ice-consent.js';

export interface NodePeerOptions {
  wsUrl: string;
  token: string;
  name?: string;
  /** What to publish; both by default. */
  publish?: { audio?: boolean; video?: boolean };
  /** Audio sent as speech (RFC 6464 levels of someone talking) rather than silence; see `speak()`. */
  speaking?: boolean;
  /** Video tiles the view holds (RoomClient's `videoSlots`). */
  videoSlots?: number;
  /** RoomClient's `viewLingerMs` (its default otherwise). */
  viewLingerMs?: number;
  requestTimeoutMs?: number;
  /**
   * What the tracks carry: `synthetic` (default) packets of the right shape but no real
   * media (cheap: many peers per test), or `encoded`, real Opus (a 440 Hz tone) and VP8 (a
   * test pattern) encoded by ffmpeg, for tests that decode what arrives (recording).
   */
  media?: 'synthetic' | 'encoded';
}

export interface ReceiveStats {
  consumerId: string;
  producerId: string;
  peerId: string;
  kind: 'audio' | 'video';
  packets: number;
  /** RTP bytes (header + payload) after SRTP decryption. */
  bytes: number;
  /** VP8 key frames seen (video only). */
  keyFrames: number;
  /** Sequence numbers that never arrived, counted from gaps. */
  lost: number;
  lastPacketAt: number | undefined;
  closed: boolean;
}

export interface Totals {
  packets: number;
  bytes: number;
}

const OPUS = { mimeType: 'audio/opus', clockRate: 48000, channels: 2 };
const VP8 = { mimeType: 'video/VP8', clockRate: 90000 };
const AUDIO_PTIME_MS = 20;
const VIDEO_FPS = 25;
const KEY_FRAME_EVERY = VIDEO_FPS; // one per second, so a late subscriber decodes quickly

/** A VP8 RTP payload: descriptor with a 15-bit picture id, then a frame header (RFC 7741, RFC 6386). */
export function vp8Payload(pictureId: number, keyFrame: boolean, size: number, width = 320, height = 240): Buffer {
  const b = Buffer.alloc(Math.max(size, 14), 0);
  b[0] = 0x90; // X=1, S=1 (start of partition 0)
  b[1] = 0x80; // I=1: picture id present
  b.writeUInt16BE(0x8000 | (pictureId & 0x7fff), 2); // M=1: 15-bit picture id
  // Frame tag: bit 0 = 0 for a key frame, version 0, show_frame=1, first partition size.
  const partSize = b.length - 14;
  const tag = (keyFrame ? 0 : 1) | (0 << 1) | (1 << 4) | (partSize << 5);
  b[4] = tag & 0xff;
  b[5] = (tag >> 8) & 0xff;
  b[6] = (tag >> 16) & 0xff;
  if (keyFrame) {
    b[7] = 0x9d; // start code
    b[8] = 0x01;
    b[9] = 0x2a;
    b.writeUInt16LE(width, 10); // no scaling
    b.writeUInt16LE(height, 12);
  }
  for (let i = keyFrame ? 14 : 7; i < b.length; i++) b[i] = (i * 31 + pictureId) & 0xff;
  return b;
}

function isVp8KeyFrame(payload: Buffer): boolean {
  if (payload.length < 2) return false;
  let i = 1;
  const first = payload[0]!;
  if (!(first & 0x10) || (first & 0x0f) !== 0) return false; // not the start of partition 0
  if (first & 0x80) {
    const ext = payload[i++]!;
    if (ext & 0x80) i += payload[i]! & 0x80 ? 2 : 1;
    if (ext & 0x40) i++;
    if (ext & 0x30) i++;
  }
  return i < payload.length && (payload[i]! & 0x01) === 0;
}

const AUDIO_LEVEL_URI = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';

/**
 * RFC 6464 levels (0 loudest, 127 silence): speech is bursts of loud frames between quieter
 * ones (a constant level reads as background noise to level observers), silence is 127.
 */
function audioLevel(speaking: boolean, now: number): number {
  if (!speaking) return 127;
  return Math.floor(now / 200) % 3 === 2 ? 60 : 20 + Math.floor(Math.random() * 15);
}

/**
 * Writes a paced RTP stream into a werift track; the sender rewrites SSRC and payload type but
 * keeps header extensions it does not write itself, such as the audio level (`levelExtId`).
 */
function startRtpSource(track: MediaStreamTrack, kind: 'audio' | 'video', levelExtId?: number, speaking?: () => boolean): { stop(): void; packets(): number } {
  let seq = Math.floor(Math.random() * 0xffff);
  let ts = Math.floor(Math.random() * 0xffffffff);
  let frame = 0;
  let sent = 0;
  const intervalMs = kind === 'audio' ? AUDIO_PTIME_MS : 1000 / VIDEO_FPS;
  const timer = setInterval(() => {
    const header = new RtpHeader({ payloadType: kind === 'audio' ? 111 : 96, sequenceNumber: seq, timestamp: ts >>> 0, ssrc: 1, marker: kind === 'video' });
    if (levelExtId !== undefined) {
      const level = audioLevel(speaking?.() ?? false, Date.now());
      header.extension = true;
      header.extensions = [{ id: levelExtId, payload: Buffer.from([(level < 127 ? 0x80 : 0) | level]) }];
    }
    const payload = kind === 'audio' ? Buffer.alloc(80, 0x33) : vp8Payload(frame, frame % KEY_FRAME_EVERY === 0, 700);
    track.writeRtp(new RtpPacket(header, payload));
    seq = (seq + 1) & 0xffff;
    ts = (ts + (kind === 'audio' ? 960 : 90000 / VIDEO_FPS)) >>> 0;
    frame++;
    sent++;
  }, intervalMs);
  return {
    stop: () => clearInterval(timer),
    packets: () => sent,
  };
}

/**
 * Real encoded media into a werift track: ffmpeg encodes a tone or a test pattern and sends
 * RTP to a local socket; each packet's payload goes out on the track with the sequence numbers,
 * timestamps and marker ffmpeg gave it (werift sets the negotiated payload type and SSRC).
 */
function startEncodedSource(
  track: MediaStreamTrack,
  kind: 'audio' | 'video',
  levelExtId?: number,
  speaking?: () => boolean,
): { stop(): void; packets(): number } {
  const socket = createSocket('udp4');
  let sent = 0;
  let ffmpeg: ReturnType<typeof startFfmpegRtp> | undefined;
  let stopped = false;
  socket.on('message', (m) => {
    if (m.length < 12 || (m[1]! >= 192 && m[1]! <= 223)) return; // ffmpeg's RTCP sender reports
    const packet = RtpPacket.deSerialize(m);
    packet.header.payloadType = kind === 'audio' ? 111 : 96;
    packet.header.ssrc = 1;
    if (levelExtId !== undefined) {
      const level = audioLevel(speaking?.() ?? false, Date.now());
      packet.header.extension = true;
      packet.header.extensions = [{ id: levelExtId, payload: Buffer.from([(level < 127 ? 0x80 : 0) | level]) }];
    }
    track.writeRtp(packet);
    sent++;
  });
  socket.bind(0, '127.0.0.1', () => {
    if (stopped) return;
    const port = socket.address().port;
    // Long enough for any test; stop() ends it.
    ffmpeg = startFfmpegRtp({
      kind,
      host: '127.0.0.1',
      port,
      payloadType: kind === 'audio' ? 111 : 96,
      ssrc: 0x1234 + (kind === 'audio' ? 0 : 1),
      durationS: 3600,
    });
  });
  return {
    stop: () => {
      stopped = true;
      void ffmpeg?.stop();
      socket.close();
    },
    packets: () => sent,
  };
}

/**
 * werift keeps a closed consumer's transceiver as "inactive" and, when the next consume reuses
 * its slot, drops it from the peer connection without stopping its receiver: that receiver's
 * RTCP timer then runs forever and keeps the process alive. Closing a consumer stops it here.
 */
function rtpReceiverOf(consumer: object): { stop(): void } | undefined {
  const r: unknown = Reflect.get(consumer, 'rtpReceiver');
  return typeof r === 'object' && r !== null && typeof Reflect.get(r, 'stop') === 'function' ? (r as { stop(): void }) : undefined;
}

export class NodePeer {
  readonly stats = new Map<string, ReceiveStats>();
  readonly events: string[] = [];
  readonly #sources: { stop(): void; packets(): number; kind: 'audio' | 'video' }[] = [];
  #speaking = false;
  readonly #consent: (() => void)[] = [];

  private constructor(
    readonly room: RoomClient<MediaStreamTrack>,
    readonly name: string,
  ) {
    room.on('consumer', (c) => this.#count(c));
    room.on('consumerClosed', (c) => {
      const s = this.stats.get(c.consumerId);
      if (s) s.closed = true;
      rtpReceiverOf(c.consumer)?.stop();
    });
    room.on('peerJoined', (p) => this.events.push(`peerJoined:${p.peerId}`));
    room.on('peerLeft', (p, reason) => this.events.push(`peerLeft:${p.peerId}:${reason}`));
    room.on('resumed', () => this.events.push('resumed'));
    room.on('error', (err) => this.events.push(`error:${err.message}`));
  }

  static async join(opts: NodePeerOptions): Promise<NodePeer> {
    const signaling = new SignalingClient({
      url: opts.wsUrl,
      WebSocket,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
    });
    const device = new Device({
      headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [useSdesMid()] },
      codecs: {
        audio: [new RTCRtpCodecParameters(OPUS)],
        video: [new RTCRtpCodecParameters({ ...VP8, rtcpFeedback: [useNACK(), usePLI()] })],
      },
    });
    // TURN is not part of these tests: werift would otherwise try to allocate on every transport.
    const room = new RoomClient<MediaStreamTrack>({
      signaling,
      device,
      token: opts.token,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.videoSlots !== undefined ? { videoSlots: opts.videoSlots } : {}),
      ...(opts.viewLingerMs !== undefined ? { viewLingerMs: opts.viewLingerMs } : {}),
      useIceServers: false,
    });
    const peer = new NodePeer(room, opts.name ?? 'node-peer');
    peer.#speaking = opts.speaking ?? false;
    await room.join();
    for (const t of [room.sendTransport, room.recvTransport]) if (t) peer.#consent.push(keepIceConsent(t));
    const publish = { audio: true, video: true, ...opts.publish };
    for (const kind of ['audio', 'video'] as const) {
      if (!publish[kind]) continue;
      const track = new MediaStreamTrack({ kind });
      const local = await room.publish(track, { source: kind === 'audio' ? 'microphone' : 'camera' });
      const levelExtId = kind === 'audio' ? local.producer.rtpParameters.headerExtensions?.find((h) => h.uri === AUDIO_LEVEL_URI)?.id : undefined;
      const start = opts.media === 'encoded' ? startEncodedSource : startRtpSource;
      peer.#sources.push({ ...start(track, kind, levelExtId, () => peer.#speaking), kind });
    }
    return peer;
  }

  get peerId(): string {
    return this.room.peerId ?? '';
  }

  /** Starts or stops talking: the audio's levels become speech or silence. */
  speak(on: boolean): void {
    this.#speaking = on;
  }

  get signaling(): SignalingClient {
    return this.room.signaling;
  }

  /** RTP packets written into the local tracks so far, per kind. */
  sent(kind: 'audio' | 'video'): number {
    return this.#sources.filter((s) => s.kind === kind).reduce((n, s) => n + s.packets(), 0);
  }

  /** What arrived from one remote peer (all its consumers of one kind, closed ones included). */
  receivedFrom(peerId: string, kind: 'audio' | 'video'): Totals {
    let packets = 0;
    let bytes = 0;
    for (const s of this.stats.values()) {
      if (s.peerId !== peerId || s.kind !== kind) continue;
      packets += s.packets;
      bytes += s.bytes;
    }
    return { packets, bytes };
  }

  snapshot(): ReceiveStats[] {
    return [...this.stats.values()].map((s) => ({ ...s }));
  }

  stopSending(): void {
    for (const s of this.#sources.splice(0)) s.stop();
  }

  /** Stops the consent checks too: a leaving peer's transports close. */
  #stopConsent(): void {
    for (const stop of this.#consent.splice(0)) stop();
  }

  async leave(): Promise<void> {
    this.stopSending();
    this.#stopConsent();
    await this.room.leave();
  }

  #count(c: RemoteConsumer<MediaStreamTrack>): void {
    const s: ReceiveStats = {
      consumerId: c.consumerId,
      producerId: c.producerId,
      peerId: c.peerId,
      kind: c.kind,
      packets: 0,
      bytes: 0,
      keyFrames: 0,
      lost: 0,
      lastPacketAt: undefined,
      closed: false,
    };
    this.stats.set(c.consumerId, s);
    let lastSeq: number | undefined;
    c.track.onReceiveRtp.subscribe((rtp) => {
      s.packets++;
      s.bytes += rtp.serializeSize;
      s.lastPacketAt = Date.now();
      const seq = rtp.header.sequenceNumber;
      if (lastSeq !== undefined) {
        const gap = (seq - lastSeq - 1) & 0xffff;
        if (gap > 0 && gap < 0x8000) s.lost += gap;
      }
      lastSeq = seq;
      if (c.kind === 'video' && isVp8KeyFrame(rtp.payload)) s.keyFrames++;
    });
  }
}
