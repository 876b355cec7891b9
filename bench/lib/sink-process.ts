/**
 * The receiving side of the benchmark, in its own process so that its cost is not counted as
 * the bare set-up's controlling process (the benchmark's own process):
 *  - sink sockets: one UDP socket per receiving peer on 127.0.0.1, counting RTP packets, bytes
 *    and sequence-number gaps per SSRC (and RTCP packets) that the set-up's consumers send to
 *    it; with SRTP, authenticating a sample of them under the consumer transport's key;
 *  - a relay: ffmpeg sends to two fixed ports here, and the relay copies each packet to the
 *    producer transports of every set-up. One ffmpeg thus feeds both set-ups the same stream,
 *    all the time (the benchmark pauses the producers of the set-up not being measured).
 * Started by sink.ts with fork(); exits when the parent disconnects.
 */
import { createSocket, type Socket } from 'node:dgram';
import { SrtpSession } from '../../libs/harness/src/srtp.js';
import { AUDIO, VIDEO, type Ingest } from './media-params.js';
import type { RelayCounts, SinkCommand, SinkCounts, SinkHello, SinkReply, SinkRequest, SinkResult } from './sink-protocol.js';

const HOST = '127.0.0.1';
const RECV_BUFFER = 1 << 20;

interface Stream {
  packets: number;
  bytes: number;
  /** Extended sequence numbers (RFC 3550 Appendix A.1): the first seen and the highest. */
  first: number;
  highest: number;
  verified: number;
  failed: number;
}

interface Sink {
  socket: Socket;
  port: number;
  rtcpPackets: number;
  streams: Map<number, Stream>;
  /** With SRTP: the consumer transport's key. */
  srtp?: SrtpSession;
}

/**
 * With SRTP, which packets a sink authenticates: the first of each stream, then one in
 * SRTP_SAMPLE by sequence number. Every packet would cost the sink process (on the same two
 * cores as the set-ups) more than the worker's own encryption; a sample of ~2-4 packets per
 * second and stream proves the key and the encryption of every consumer, every window.
 */
const SRTP_SAMPLE = 32;

const sinks = new Map<string, Sink[]>();
const relay: RelayCounts = { videoRtp: 0, audioRtp: 0, rtcpBack: 0 };
let targets: Ingest[] = [];

/** RFC 5761 demultiplexing: the second byte of RTCP (its packet type) is 192..223. */
function isRtcp(buf: Buffer): boolean {
  const b = buf[1] ?? 0;
  return b >= 192 && b <= 223;
}

function bind(socket: Socket, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, HOST, () => {
      socket.off('error', reject);
      resolve(socket.address().port);
    });
  });
}

async function openSink(): Promise<Sink> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
  const port = await bind(socket);
  const sink: Sink = { socket, port, rtcpPackets: 0, streams: new Map() };
  socket.on('message', (buf) => {
    if (buf.length < 12) return;
    if (isRtcp(buf)) {
      sink.rtcpPackets++;
      return;
    }
    // The RTP header stays in the clear under SRTP: SSRC and sequence number are readable either way.
    const ssrc = buf.readUInt32BE(8);
    const seq = buf.readUInt16BE(2);
    let c = sink.streams.get(ssrc);
    if (!c) {
      c = { packets: 0, bytes: 0, first: seq, highest: seq, verified: 0, failed: 0 };
      sink.streams.set(ssrc, c);
    } else {
      const delta = (seq - (c.highest & 0xffff) + 0x10000) & 0xffff;
      if (delta < 0x8000) c.highest += delta; // later than the highest (a late packet leaves it)
    }
    c.packets++;
    c.bytes += buf.length;
    if (sink.srtp && (c.verified + c.failed === 0 || seq % SRTP_SAMPLE === 0)) {
      if (sink.srtp.unprotect(buf)) c.verified++;
      else c.failed++;
    }
  });
  return sink;
}

async function openRelay(kind: 'video' | 'audio'): Promise<number> {
  const socket = createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER });
  const port = await bind(socket);
  const expectedSsrc = kind === 'video' ? VIDEO.ssrc : AUDIO.ssrc;
  /** ffmpeg's source port, learnt from its first RTP packet; anything else is RTCP sent back by mediasoup. */
  let senderPort: number | undefined;
  socket.on('message', (buf, rinfo) => {
    if (buf.length < 12) return;
    const rtcp = isRtcp(buf);
    if (senderPort === undefined && !rtcp && buf.readUInt32BE(8) === expectedSsrc) senderPort = rinfo.port;
    if (rinfo.port !== senderPort) {
      relay.rtcpBack++; // receiver reports / PLI from a producer transport: ffmpeg ignores RTCP feedback
      return;
    }
    if (!rtcp) {
      if (kind === 'video') relay.videoRtp++;
      else relay.audioRtp++;
    }
    for (const t of targets) socket.send(buf, t[kind].port, t[kind].ip);
  });
  sockets.push(socket);
  return port;
}

const sockets: Socket[] = [];

async function handle(c: SinkCommand): Promise<SinkResult> {
  switch (c.cmd) {
    case 'open': {
      const list = sinks.get(c.tag) ?? [];
      sinks.set(c.tag, list);
      const opened: Sink[] = [];
      for (let i = 0; i < c.count; i++) opened.push(await openSink());
      list.push(...opened);
      return { cmd: 'open', ports: opened.map((s) => s.port) };
    }
    case 'keys': {
      const byPort = new Map([...sinks.values()].flat().map((s) => [s.port, s]));
      for (const [port, srtp] of c.keys) {
        const sink = byPort.get(port);
        if (!sink) throw new Error(`keys: no sink on port ${port}`);
        sink.srtp = new SrtpSession(srtp);
      }
      return { cmd: 'keys' };
    }
    case 'targets':
      targets = c.ingests;
      return { cmd: 'targets' };
    case 'counts': {
      const out: SinkCounts[] = (sinks.get(c.tag) ?? []).map((s) => ({
        port: s.port,
        rtcpPackets: s.rtcpPackets,
        streams: [...s.streams].map(([ssrc, x]) => [ssrc, x.packets, x.bytes, x.highest - x.first + 1, x.verified, x.failed]),
      }));
      return { cmd: 'counts', sinks: out, relay: { ...relay } };
    }
    case 'close':
      closeAll();
      return { cmd: 'close' };
  }
}

function closeAll(): void {
  targets = [];
  for (const list of sinks.values()) for (const s of list) s.socket.close();
  sinks.clear();
  for (const s of sockets.splice(0)) s.close();
}

function send(msg: SinkReply | SinkHello): void {
  process.send?.(msg);
}

if (!process.send) {
  process.stderr.write('sink-process.ts is started by the benchmark (fork with IPC), not by hand\n');
  process.exit(2);
}

process.on('message', (m: SinkRequest) => {
  handle(m.command).then(
    (result) => {
      send({ id: m.id, ok: true, result });
      if (m.command.cmd === 'close') process.disconnect();
    },
    (err: unknown) => send({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => {
  closeAll();
  process.exit(0);
});

const relayVideoPort = await openRelay('video');
const relayAudioPort = await openRelay('audio');
send({ hello: { relayVideoPort, relayAudioPort } });
