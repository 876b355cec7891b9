/**
 * The receiving side of the benchmark, in its own process so that its cost is not counted as
 * the bare set-up's controlling process (the benchmark's own process):
 *  - sink sockets: one UDP socket per receiving peer on 127.0.0.1, counting RTP packets and
 *    bytes per SSRC (and RTCP packets) that the set-up's consumers send to it;
 *  - a relay: ffmpeg sends to two fixed ports here, and the relay copies each packet to the
 *    producer transports of every set-up. One ffmpeg thus feeds both set-ups the same stream,
 *    all the time (the benchmark pauses the producers of the set-up not being measured).
 * Started by sink.ts with fork(); exits when the parent disconnects.
 */
import { createSocket, type Socket } from 'node:dgram';
import { AUDIO, VIDEO, type Ingest } from './media-params.js';
import type { RelayCounts, SinkCommand, SinkCounts, SinkHello, SinkReply, SinkRequest, SinkResult } from './sink-protocol.js';

const HOST = '127.0.0.1';
const RECV_BUFFER = 1 << 20;

interface Sink {
  socket: Socket;
  port: number;
  rtcpPackets: number;
  /** ssrc → [packets, bytes] */
  streams: Map<number, [number, number]>;
}

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
    const ssrc = buf.readUInt32BE(8);
    const c = sink.streams.get(ssrc);
    if (c) {
      c[0]++;
      c[1] += buf.length;
    } else sink.streams.set(ssrc, [1, buf.length]);
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
    case 'targets':
      targets = c.ingests;
      return { cmd: 'targets' };
    case 'counts': {
      const out: SinkCounts[] = (sinks.get(c.tag) ?? []).map((s) => ({
        port: s.port,
        rtcpPackets: s.rtcpPackets,
        streams: [...s.streams].map(([ssrc, [p, b]]) => [ssrc, p, b]),
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
