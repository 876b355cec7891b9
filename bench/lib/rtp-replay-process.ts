/**
 * The sender of the recorder benchmark, in its own process so that its CPU counts for neither
 * side: replays the captured RTP (rtp-capture.ts) of each track to its UDP port at real-time
 * pace, in a loop, each track with its own SSRC (bytes 8-11) and sequence numbers and timestamps
 * that go on across loops (offsets added per pass). One timer every TICK_MS sends every track's
 * due packets in one batch, so the pace holds at hundreds of tracks.
 *   node --import tsx bench/lib/rtp-replay-process.ts <captures.json>   (started by bench/recorder.ts through IpcChild)
 */
import { createSocket } from 'node:dgram';
import { serveIpc } from './ipc.js';
import { FRAME_TICKS, loadCaptures, marker, type Capture, type Kind } from './rtp-capture.js';

const TICK_MS = 10;
/** Lateness counts from 1 s after the start: the first ticks run cold code (and tracks' first packets all at once). */
const LAG_FROM_MS = 1000;

export interface ReplayTarget {
  port: number;
  kind: Kind;
  ssrc: number;
}

export interface ReplayCounts {
  /** Per target, in the order given: RTP packets and frames (audio packets; video marker bits) sent. */
  packets: number[];
  frames: number[];
  /** The worst lateness of a packet (how far behind its schedule it went out) from 1 s after the start, ms. */
  maxLagMs: number;
  ms: number;
}

interface Track {
  target: ReplayTarget;
  capture: Capture;
  startAt: number;
  next: number;
  loop: number;
  seqBase: number;
  tsBase: number;
  seqPerLoop: number;
  tsPerLoop: number;
  firstTs: number;
  packets: number;
  frames: number;
}

const file = process.argv[2];
if (!file) throw new Error('usage: rtp-replay-process.ts <captures.json>');
const captures = new Map(loadCaptures(file).map((c) => [c.kind, c]));
const socket = createSocket({ type: 'udp4', sendBufferSize: 1 << 22 });
await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
let tracks: Track[] = [];
let timer: NodeJS.Timeout | undefined;
let maxLagMs = 0;
let startedAt = 0;

function tick(): void {
  const now = performance.now();
  for (const tr of tracks) {
    const c = tr.capture;
    for (;;) {
      const p = c.packets[tr.next]!;
      const due = tr.startAt + tr.loop * c.loopMs + p.t;
      if (due > now) break;
      if (now - startedAt > LAG_FROM_MS) maxLagMs = Math.max(maxLagMs, now - due);
      const out = Buffer.from(p.data);
      out.writeUInt16BE((out.readUInt16BE(2) + tr.seqBase + tr.loop * tr.seqPerLoop) & 0xffff, 2);
      out.writeUInt32BE((out.readUInt32BE(4) - tr.firstTs + tr.tsBase + tr.loop * tr.tsPerLoop) >>> 0, 4);
      out.writeUInt32BE(tr.target.ssrc >>> 0, 8);
      socket.send(out, tr.target.port, '127.0.0.1');
      tr.packets++;
      if (c.kind === 'audio' || marker(out)) tr.frames++;
      if (++tr.next === c.packets.length) {
        tr.next = 0;
        tr.loop++;
      }
    }
  }
}

function counts(): ReplayCounts {
  return { packets: tracks.map((t) => t.packets), frames: tracks.map((t) => t.frames), maxLagMs, ms: performance.now() - startedAt };
}

serveIpc((command) => {
  if (command['cmd'] === 'start') {
    const targets = command['targets'] as ReplayTarget[];
    const now = performance.now() + 50;
    // Spread over one video frame's time, so the tracks' packets do not all fall due in the same tick.
    tracks = targets.map((target, i) => {
      const capture = captures.get(target.kind);
      if (!capture) throw new Error(`no ${target.kind} capture`);
      const firstTs = capture.packets[0]!.data.readUInt32BE(4);
      const lastTs = capture.packets[capture.packets.length - 1]!.data.readUInt32BE(4);
      return {
        target,
        capture,
        startAt: now + (i * 40) / targets.length,
        next: 0,
        loop: 0,
        seqBase: (Math.random() * 0x10000) | 0,
        tsBase: (Math.random() * 0x1_0000_0000) >>> 0,
        seqPerLoop: capture.packets.length,
        tsPerLoop: (((lastTs - firstTs) >>> 0) + FRAME_TICKS[target.kind]) >>> 0,
        firstTs,
        packets: 0,
        frames: 0,
      };
    });
    maxLagMs = 0;
    startedAt = now;
    timer = setInterval(tick, TICK_MS);
    return { ok: true };
  }
  if (command['cmd'] === 'counts') return counts();
  if (command['cmd'] === 'stop') {
    clearInterval(timer);
    timer = undefined;
    return counts();
  }
  throw new Error(`unknown command ${String(command['cmd'])}`);
});
