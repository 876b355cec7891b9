/**
 * Link bytes vs mediasoup's pipe (issue 15): one simulcast producer on node X, far subscribers
 * on node Y that need only its lowest layer. How many bytes per second cross our link from X to
 * Y, against `router.pipeToRouter()` of the same producer in the same run?
 *
 *   node --conditions=strata-src --import tsx bench/link-bytes.ts
 *        [--subscribers 4] [--window 10] [--rounds 3] [--warmup 3] [--compiled] [--json bench/results/link-bytes.json]
 *
 * - Sender: the synthetic simulcast VP8 sender of @strata/harness, three layers at libwebrtc's
 *   default 720p targets (320x180 150 kbit/s, 640x360 500 kbit/s, 1280x720 2,500 kbit/s, 30 fps,
 *   frames packetized at 1,200 bytes, a key frame per layer every second, sender reports twice
 *   a second), from one socket to both set-ups' comedia plain transports: both get the same
 *   packets for the whole run.
 * - Ours: nats-server and two media services (X, Y) as processes; a room with a leg on each;
 *   the producer on X; each far subscriber on Y a plain transport to a UDP socket here,
 *   `consumer.create`, `consumer.setPreferredLayers` spatial 0, `consumer.action` resume.
 * - Bare: two mediasoup workers in this process, router A with the producer, router B with the
 *   same far subscribers (setPreferredLayers spatial 0), `routerA.pipeToRouter()` between them.
 * - Measured, both in the same windows: the 'outbound-rtp' byteCount (RTP headers included) of
 *   X's link consumer (`link.stats` on X: mediasoup's getStats() of the consumer) and of the
 *   pipe consumer on A (its getStats(), one entry per layer), over each window; beside them, the
 *   sending transports' bytesSent (RTCP included), the receiving producers' byteCount on Y and
 *   B, and what every far subscriber received (it must be the low layer only: only 320-wide key
 *   frames).
 * Figure: ours / pipe over all windows. Goal ≤ 0.3. Table on stdout, progress on stderr.
 * See docs/benchmarks.md, "Link bytes vs mediasoup's pipe".
 */
import { startSimulcastSender, startVp8Sink, type Vp8Sink } from '@strata/harness';
import {
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaRoomOpen,
  type RequestOf,
} from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { BarePipe } from './lib/bare-pipe.js';
import { CascadeNodes, NODE_X, NODE_Y, statSum } from './lib/cascade-nodes.js';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { LADDER, simulcastRtpParameters, toWire } from './lib/link-media.js';
import { RESULT_FORMAT, type BenchResult } from './lib/results.js';
import { numberFlag } from './lib/flags.js';

const GOAL = 0.3;
const ROOM = 'bench-link-bytes';
const IP = '127.0.0.1';

interface Options {
  subscribers: number;
  windowMs: number;
  rounds: number;
  warmupMs: number;
  compiled: boolean;
  json: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      subscribers: { type: 'string', default: '4' },
      window: { type: 'string', default: '10' },
      rounds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '3' },
      compiled: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const num = numberFlag;
  return {
    subscribers: Math.round(num('subscribers', values.subscribers, 1)),
    windowMs: num('window', values.window, 0.5) * 1000,
    rounds: Math.round(num('rounds', values.rounds, 1)),
    warmupMs: num('warmup', values.warmup, 0) * 1000,
    compiled: values.compiled ?? false,
    json: values.json,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kbps = (bytesPerSecond: number) => (bytesPerSecond * 8) / 1000;

/** Byte counters of one set-up at one moment, from mediasoup's stats. */
interface Counters {
  at: number;
  /** The sending end's stream consumer ('outbound-rtp' byteCount): the figure. */
  stream: number;
  /** The sending end's transport, everything it sent (RTP + RTCP). */
  transport: number;
  /** The receiving end's producer ('inbound-rtp' byteCount). */
  received: number;
}

interface WindowFigures {
  round: number;
  seconds: { ours: number; bare: number };
  /** Bytes per second over the window. */
  ours: { stream: number; transport: number; received: number };
  bare: { stream: number; transport: number; received: number };
  ratio: number;
}

async function main(): Promise<number> {
  const opt = options();
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  log(
    `link bytes: ${opt.subscribers} far subscriber(s) of the lowest layer, ${opt.rounds} window(s) of ${opt.windowMs / 1000} s after ${opt.warmupMs / 1000} s, load ${loadAtStart.toFixed(1)}`,
  );
  const problems: string[] = [];

  const nodes = await CascadeNodes.start({ compiled: opt.compiled, env: { LOG_LEVEL: 'warn' } });
  onCleanup('media services + nats-server', () => nodes.close());
  const bare = await BarePipe.create({ rtcMinPort: 20000, rtcMaxPort: 29999 });
  onCleanup('bare mediasoup workers', () => bare.close());
  log(`ours: ${nodes.describe()}; bare: workers ${bare.workers.map((w) => w.pid).join(', ')}`);

  // The producer: on X and on A, fed by one sender.
  await nodes.call(NODE_X, MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'speaker', identity: 'speaker' } });
  const inX = await nodes.call(NODE_X, MediaPlainTransportCreate, { roomId: ROOM, peerId: 'speaker', comedia: true, rtcpMux: true });
  const { producerId } = await nodes.call(NODE_X, MediaProduce, {
    roomId: ROOM,
    peerId: 'speaker',
    transportId: inX.transportId,
    kind: 'video',
    rtpParameters: toWire<RequestOf<typeof MediaProduce>['rtpParameters']>(simulcastRtpParameters()),
    source: 'camera',
  });
  const inA = await bare.ingest('video', simulcastRtpParameters());
  const sender = startSimulcastSender({
    targets: [
      { host: inX.ip, port: inX.port },
      { host: IP, port: inA.port },
    ],
    layers: LADDER,
    answerKeyFrameRequests: true,
  });
  onCleanup('sender', () => sender.stop());

  // Far subscribers: on Y, and on B behind the pipe.
  const sinks: { ours: Vp8Sink[]; bare: Vp8Sink[] } = { ours: [], bare: [] };
  for (let i = 0; i < opt.subscribers; i++) {
    for (const side of ['ours', 'bare'] as const) {
      const s = await startVp8Sink();
      onCleanup('sink', () => s.close());
      sinks[side].push(s);
    }
  }
  const y = await nodes.call(NODE_Y, MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'far-0', identity: 'far-0' }, legs: [NODE_X] });
  for (const [i, sink] of sinks.ours.entries()) {
    const peerId = `far-${i}`;
    if (i > 0) await nodes.call(NODE_Y, MediaRoomOpen, { roomId: ROOM, peer: { peerId, identity: peerId }, legs: [NODE_X] });
    const t = await nodes.call(NODE_Y, MediaPlainTransportCreate, { roomId: ROOM, peerId, comedia: false, rtcpMux: true });
    await nodes.call(NODE_Y, MediaPlainTransportConnect, { roomId: ROOM, peerId, transportId: t.transportId, ip: IP, port: sink.port });
    const c = await nodes.call(NODE_Y, MediaConsume, { roomId: ROOM, peerId, transportId: t.transportId, producerId, rtpCapabilities: y.rtpCapabilities });
    await nodes.call(NODE_Y, MediaConsumerLayers, { roomId: ROOM, peerId, consumerId: c.consumerId, spatialLayer: 0 });
    await nodes.call(NODE_Y, MediaConsumerAction, { roomId: ROOM, peerId, consumerId: c.consumerId, action: 'resume' });
  }
  const { pipeConsumer, pipeProducer } = await bare.pipe(inA.producer.id);
  const bareConsumers: types.Consumer[] = [];
  for (const sink of sinks.bare) bareConsumers.push(await bare.consume(await bare.subscriberTransport(sink.port), pipeProducer.id, 0));
  const pipeTransport = bare.pipeTransportA;
  if (!pipeTransport) throw new Error('pipeToRouter() made no pipe transport on router A');

  // Every far subscriber decodes the low layer before anything is measured.
  const deadline = Date.now() + 15_000;
  for (const s of [...sinks.ours, ...sinks.bare]) {
    while (!s.widths().includes(LADDER[0]!.width)) {
      if (Date.now() > deadline)
        throw new Error(`a far subscriber got no ${LADDER[0]!.width}-wide key frame in 15 s (widths ${s.widths().join(',') || 'none'})`);
      await sleep(50);
    }
  }
  log(`every far subscriber decodes the low layer; warm-up ${opt.warmupMs / 1000} s`);
  await sleep(opt.warmupMs);
  for (const s of [...sinks.ours, ...sinks.bare]) s.reset();

  const oursCounters = async (): Promise<Counters> => {
    const [onX, onY] = await Promise.all([nodes.linkStats(NODE_X, ROOM), nodes.linkStats(NODE_Y, ROOM)]);
    const at = performance.now();
    const link = onX.find((l) => l.nodeId === NODE_Y);
    const stream = link?.sending.find((s) => s.producerId === producerId);
    const inbound = onY.find((l) => l.nodeId === NODE_X)?.receiving.find((s) => s.producerId === producerId);
    if (!link || !stream || !inbound) throw new Error(`the link X → Y does not carry the producer: ${JSON.stringify({ onX, onY }).slice(0, 2000)}`);
    return {
      at,
      stream: statSum(stream.stats, 'outbound-rtp', 'byteCount'),
      transport: Number(link.transport['bytesSent'] ?? Number.NaN),
      received: statSum(inbound.stats, 'inbound-rtp', 'byteCount'),
    };
  };
  const bareCounters = async (): Promise<Counters> => {
    const [c, t, p] = await Promise.all([pipeConsumer.getStats(), pipeTransport.getStats(), pipeProducer.getStats()]);
    const at = performance.now();
    const plain = (xs: object[]) => xs.map((s) => ({ ...s }) as Record<string, unknown>);
    return {
      at,
      stream: statSum(plain(c), 'outbound-rtp', 'byteCount'),
      transport: Number(t[0]?.bytesSent ?? Number.NaN),
      received: statSum(plain(p), 'inbound-rtp', 'byteCount'),
    };
  };
  const rate = (a: Counters, b: Counters) => {
    const s = (b.at - a.at) / 1000;
    return { s, stream: (b.stream - a.stream) / s, transport: (b.transport - a.transport) / s, received: (b.received - a.received) / s };
  };

  const windows: WindowFigures[] = [];
  const sentBefore = sender.bytesSent();
  const t0 = performance.now();
  for (let round = 0; round < opt.rounds; round++) {
    const [o0, b0] = await Promise.all([oursCounters(), bareCounters()]);
    await sleep(opt.windowMs);
    const [o1, b1] = await Promise.all([oursCounters(), bareCounters()]);
    const o = rate(o0, o1);
    const b = rate(b0, b1);
    const w: WindowFigures = {
      round,
      seconds: { ours: o.s, bare: b.s },
      ours: { stream: o.stream, transport: o.transport, received: o.received },
      bare: { stream: b.stream, transport: b.transport, received: b.received },
      ratio: o.stream / b.stream,
    };
    windows.push(w);
    log(
      `window ${round + 1}: link ${kbps(o.stream).toFixed(1)} kbit/s, pipe ${kbps(b.stream).toFixed(1)} kbit/s, ours / pipe ${w.ratio.toFixed(3)} ` +
        `(transports ${kbps(o.transport).toFixed(1)} / ${kbps(b.transport).toFixed(1)} kbit/s; received on Y ${kbps(o.received).toFixed(1)}, on B ${kbps(b.received).toFixed(1)})`,
    );
  }
  const elapsed = (performance.now() - t0) / 1000;
  const sentPerLayer = sender.bytesSent().map((v, i) => (v - sentBefore[i]!) / elapsed);

  // Correctness: every far subscriber got media, and only the low layer.
  for (const side of ['ours', 'bare'] as const) {
    for (const [i, s] of sinks[side].entries()) {
      const widths = s.widths();
      if (s.packets() === 0) problems.push(`${side} far subscriber ${i} received nothing during the windows`);
      else if (widths.length === 0) problems.push(`${side} far subscriber ${i} saw no key frame during the windows`);
      else if (widths.some((w) => w !== LADDER[0]!.width))
        problems.push(`${side} far subscriber ${i} got key frames of widths ${[...new Set(widths)].join(',')}`);
    }
  }
  const sum = (f: (w: WindowFigures) => number) => windows.reduce((n, w) => n + f(w), 0) / windows.length;
  const ours = sum((w) => w.ours.stream);
  const pipe = sum((w) => w.bare.stream);
  const ratio = ours / pipe;
  // What Y received is what X sent (no loss on loopback): a check that the figure is the link's.
  const received = sum((w) => w.ours.received);
  if (!(Math.abs(received - ours) <= 0.05 * ours))
    problems.push(`Y's forwarded producer received ${kbps(received).toFixed(1)} kbit/s, X's link consumer sent ${kbps(ours).toFixed(1)}`);
  const met = Number.isFinite(ratio) && ratio > 0 && ratio <= GOAL;

  const ratios = windows.map((w) => w.ratio);
  const lines = [
    '',
    `Link bytes vs mediasoup's pipe — ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, node ${process.version}, mediasoup ${mediasoup.version}`,
    `one simulcast VP8 producer (synthetic, ${LADDER.map((l) => `${l.width}x${l.height}`).join(' / ')} at ${sentPerLayer.map((b) => kbps(b).toFixed(0)).join(' / ')} kbit/s sent); ${opt.subscribers} far subscriber(s) per set-up asking for spatial layer 0; ${opt.rounds} window(s) of ${opt.windowMs / 1000} s, both set-ups in the same windows`,
    '',
    '| | ours: X → Y link | bare: pipeToRouter A → B | ours / pipe |',
    '|---|---:|---:|---:|',
    `| stream consumer, outbound-rtp bytes | **${kbps(ours).toFixed(1)} kbit/s** | **${kbps(pipe).toFixed(1)} kbit/s** | **${ratio.toFixed(3)}** |`,
    `| sending transport, bytesSent (RTP + RTCP) | ${kbps(sum((w) => w.ours.transport)).toFixed(1)} kbit/s | ${kbps(sum((w) => w.bare.transport)).toFixed(1)} kbit/s | ${(sum((w) => w.ours.transport) / sum((w) => w.bare.transport)).toFixed(3)} |`,
    `| receiving producer, inbound-rtp bytes | ${kbps(received).toFixed(1)} kbit/s | ${kbps(sum((w) => w.bare.received)).toFixed(1)} kbit/s | |`,
    '',
    `per-window ratios ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}; all three layers as sent: ${kbps(sentPerLayer.reduce((a, b) => a + b, 0)).toFixed(1)} kbit/s, the lowest alone ${kbps(sentPerLayer[0] ?? 0).toFixed(1)} kbit/s`,
    `far subscribers' key frames: ours ${[...new Set(sinks.ours.flatMap((s) => s.widths()))].join(',') || 'none'}, bare ${[...new Set(sinks.bare.flatMap((s) => s.widths()))].join(',') || 'none'} px wide`,
    ...problems.map((p) => `PROBLEM: ${p}`),
    `RESULT: link bytes ours / pipe = ${ratio.toFixed(3)}, goal <= ${GOAL}: ${met ? 'met' : `NOT MET${Number.isFinite(ratio) && ratio > 0 ? '' : ' (invalid ratio)'}`}${problems.length ? ' (with problems, see above)' : ''}`,
    `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (opt.json) {
    const date = new Date().toISOString();
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end, Node ${process.version}, mediasoup ${mediasoup.version}`;
    const result: BenchResult = {
      benchmark: 'link-bytes',
      figure: `link bytes/s, far subscribers of the lowest of 3 simulcast layers, ours / pipeToRouter (${opt.rounds} × ${opt.windowMs / 1000} s)`,
      value: kbps(ours),
      baseline: kbps(pipe),
      unit: 'kbit/s',
      goal: { maxRatio: GOAL },
      machine,
      date,
      ...(problems.length ? { problems } : {}),
      notes: [
        `synthetic simulcast sender, layers ${sentPerLayer.map((b) => kbps(b).toFixed(0)).join(' / ')} kbit/s; link = outbound-rtp byteCount of the sending consumer, from mediasoup's getStats()`,
      ],
    };
    // JSON has no NaN: null stands for it (bench/lib/results.ts judges it invalid).
    const json = JSON.stringify({ format: RESULT_FORMAT, results: [result], options: opt, sentPerLayer, windows }, (_, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    );
    writeFileSync(opt.json, `${JSON.stringify(JSON.parse(json), null, 2)}\n`);
  }
  await cleanupAll();
  // NOT MET is a figure, not a failure; a run whose figure cannot be trusted is.
  return problems.length ? 1 : 0;
}

runWithCleanup(main);
