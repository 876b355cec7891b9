/**
 * Link setup latency (issue 15): from leg Y deciding it needs producer P, which lives on leg X,
 * to P's first RTP packet on Y, over many fresh pulls, beside bare `pipeToRouter()` in the same
 * run; then the same for video up to the first whole key frame at the far subscriber.
 *
 *   node --conditions=strata-src --import tsx bench/link-setup.ts
 *        [--switches 200] [--video-switches 200] [--thumb-switches 100] [--linger 200] [--probe-interval 1] [--compiled] [--json bench/results/link-setup.json]
 *
 * What one switch is
 * - Ours: Y decides it needs P when a consumer of P is asked of it (`consumer.create`, as a
 *   gateway asks when a subscriber's view gains P). The clock starts when the benchmark sends
 *   that request (so one bench → Y NATS hop is in the figure, against us) and stops when the
 *   first RTP datagram of the consumer reaches its UDP socket here. In between: Y asks X over
 *   NATS (`link.forward`; the link's transports are connected already, as they are once any
 *   stream crossed), X creates its link consumer, Y produces P on its end, creates the
 *   consumer (paused, as always) and answers; the benchmark sends `consumer.action` resume.
 * - Bare: `routerA.pipeToRouter()` (the pipe transport pair exists already, as mediasoup keeps
 *   it), a consumer on router B (paused, then resumed, as ours) on a plain transport to a UDP
 *   socket here; clock from calling pipeToRouter() to its first datagram.
 * - Both therefore include the same last hop (a consumer on the far router, its plain
 *   transport, loopback UDP to this process). Why a socket and not the forwarded producer's
 *   stats: polling stats over NATS would add its own period and round trip to our side only,
 *   while a datagram's arrival is timed the same way on both sides, by nothing of ours.
 * - Each switch is a fresh pull: the consumer is closed and the benchmark waits until the
 *   stream is gone from both ends of the link (X's `link.stats` sends nothing, Y's receives
 *   nothing) or, bare, closes the pipe consumer and producer. The media nodes run with
 *   MEDIA_LINK_LINGER = `--linger` ms (200 by default, the service's default is 3 s): long
 *   enough to cover the gap between a consumer's creation, paused, and its resume, as the
 *   default does; with 0 the link would pause the stream it just set up in that gap (the
 *   new consumer is not watching yet) and resume it a round trip later.
 * - Ours and bare alternate switch by switch (which goes first alternates too), so drift in the
 *   machine's load falls on both.
 *
 * What is sent
 * - The setup figure uses an Opus-like probe stream with a packet every `--probe-interval` ms
 *   (1 by default): audio needs no key frame on any hop, and the dense stream bounds what
 *   waiting for the next packet adds to the figure to that interval, on both sides alike.
 * - The video figure ("speaker change → first decoded frame") uses a simulcast VP8 producer
 *   (the synthetic sender: three layers, 30 fps) whose sender sends key frames only when asked
 *   (PLI/FIR), on its next frame, as libwebrtc does; the far subscriber asks for no layer (the
 *   top one);
 *   the clock stops when the first whole key frame of any layer (first packet to marker, no
 *   gap) reaches its socket, and the layer is recorded. Ours sends the top layer from the
 *   start (the link carries the one layer asked for); bare mediasoup's consumer behind the pipe
 *   starts on whichever layer reaches router B first, usually the lowest, and in this set-up
 *   often stays there for seconds, so a "first top-layer frame" is not timed. It includes what any
 *   SFU needs for a new video subscriber: the key-frame request to the sender and up to a
 *   frame interval (33 ms) for its answer. What it does not include: the speaker ranking's hold
 *   time (the decision is taken as given) and a real decoder. The same again for a thumbnail
 *   (`--thumb-switches`): the far subscriber asks for spatial layer 0 before it resumes, and
 *   the layer of its first key frame is counted.
 * Prints p50/p95/p99 (ms) for both, the ratio, and the goal (ours p95 ≤ 30 ms). See
 * docs/benchmarks.md, "Link setup latency".
 */
import { startAudioSender, startSimulcastSender, startUdpSink, startVp8Sink, type UdpSink, type Vp8Sink } from '@strata/harness';
import {
  MediaConsume,
  MediaConsumerAction,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaRoomOpen,
  type RequestOf,
  type ResponseOf,
} from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { trendValues } from '../loadtest/src/metrics.js';
import { BarePipe } from './lib/bare-pipe.js';
import { CascadeNodes, NODE_X, NODE_Y } from './lib/cascade-nodes.js';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { LADDER, opusRtpParameters, PROBE_SSRC, simulcastRtpParameters, toWire } from './lib/link-media.js';
import { RESULT_FORMAT, type BenchResult } from './lib/results.js';
import { numberFlag } from './lib/flags.js';

/** Ours, p95, in ms: the goal ("across processes over NATS"). */
const GOAL_P95_MS = 30;
const ROOM = 'bench-link-setup';
const IP = '127.0.0.1';
const SUBSCRIBER = 'far';
/** A switch whose first packet has not come by then failed. */
const SWITCH_TIMEOUT_MS = 5000;

interface Options {
  switches: number;
  videoSwitches: number;
  thumbSwitches: number;
  lingerMs: number;
  probeIntervalMs: number;
  compiled: boolean;
  json: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      switches: { type: 'string', default: '200' },
      'video-switches': { type: 'string', default: '200' },
      'thumb-switches': { type: 'string', default: '100' },
      linger: { type: 'string', default: '200' },
      'probe-interval': { type: 'string', default: '1' },
      compiled: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const num = numberFlag;
  return {
    switches: Math.round(num('switches', values.switches, 1)),
    videoSwitches: Math.round(num('video-switches', values['video-switches'], 0)),
    thumbSwitches: Math.round(num('thumb-switches', values['thumb-switches'], 0)),
    lingerMs: Math.round(num('linger', values.linger, 0)),
    probeIntervalMs: num('probe-interval', values['probe-interval'], 1),
    compiled: values.compiled ?? false,
    json: values.json,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

type Side = 'ours' | 'bare';
/** probe: the audio probe; video: a far subscriber of the top layer (the speaker shown large); thumb: of the lowest (a thumbnail). */
type Kind = 'probe' | 'video' | 'thumb';
/** Which stream a kind of switch pulls, and over which transports and sockets. */
const streamOf = (k: Kind): 'probe' | 'video' => (k === 'probe' ? 'probe' : 'video');

/** One switch: total time to the first packet (probe) or whole key frame (video), and where the time went. */
interface Sample {
  side: Side;
  kind: Kind;
  i: number;
  ms: number;
  /** Ours: consumer.create answered; bare: pipeToRouter() returned. */
  setupMs: number;
  /** The consumer resumed (its answer came back). */
  resumedMs: number;
  /** Video: the first whole key frame's width (the layer the far subscriber got first). */
  width?: number;
}

const percentiles = (xs: number[]) => {
  const t = trendValues([...xs].sort((a, b) => a - b));
  return { n: t.count, p50: t.med, p95: t.percentile(95), p99: t.percentile(99), max: t.max, mean: t.avg };
};

async function main(): Promise<number> {
  const opt = options();
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  log(
    `link setup: ${opt.switches} probe switch(es) and ${opt.videoSwitches} video switch(es) per set-up, MEDIA_LINK_LINGER ${opt.lingerMs} ms, probe every ${opt.probeIntervalMs} ms, load ${loadAtStart.toFixed(1)}`,
  );
  const problems: string[] = [];

  const nodes = await CascadeNodes.start({ compiled: opt.compiled, env: { MEDIA_LINK_LINGER: `${opt.lingerMs}ms`, LOG_LEVEL: 'warn' } });
  onCleanup('media services + nats-server', () => nodes.close());
  const bare = await BarePipe.create({ rtcMinPort: 20000, rtcMaxPort: 29999 });
  onCleanup('bare mediasoup workers', () => bare.close());
  log(`ours: ${nodes.describe()}; bare: workers ${bare.workers.map((w) => w.pid).join(', ')}`);

  // Producers on X and on A: the probe, and the simulcast video; each sender feeds both set-ups.
  type WireParams = RequestOf<typeof MediaProduce>['rtpParameters'];
  await nodes.call(NODE_X, MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'speaker', identity: 'speaker' } });
  const produceOnX = async (kind: types.MediaKind, params: types.RtpParameters) => {
    const t = await nodes.call(NODE_X, MediaPlainTransportCreate, { roomId: ROOM, peerId: 'speaker', comedia: true, rtcpMux: true });
    const p = await nodes.call(NODE_X, MediaProduce, {
      roomId: ROOM,
      peerId: 'speaker',
      transportId: t.transportId,
      kind,
      rtpParameters: toWire<WireParams>(params),
      source: kind === 'audio' ? 'microphone' : 'camera',
    });
    return { ...t, producerId: p.producerId };
  };
  const probeX = await produceOnX('audio', opusRtpParameters());
  const videoX = await produceOnX('video', simulcastRtpParameters());
  const probeA = await bare.ingest('audio', opusRtpParameters());
  const videoA = await bare.ingest('video', simulcastRtpParameters());
  const probe = startAudioSender({
    targets: [
      { host: probeX.ip, port: probeX.port },
      { host: IP, port: probeA.port },
    ],
    ssrc: PROBE_SSRC,
    intervalMs: opt.probeIntervalMs,
  });
  onCleanup('probe sender', () => probe.stop());
  const video = startSimulcastSender({
    targets: [
      { host: videoX.ip, port: videoX.port },
      { host: IP, port: videoA.port },
    ],
    layers: LADDER,
    answerKeyFrameRequests: true,
    // Key frames only when asked, as libwebrtc sends them: none comes by luck right after a switch.
    keyFrameIntervalMs: 3_600_000,
  });
  onCleanup('video sender', () => video.stop());

  // The far subscriber: one plain transport per kind on Y and on B, each to its own socket.
  const sinks = { probe: { ours: await startUdpSink(), bare: await startUdpSink() }, video: { ours: await startVp8Sink(), bare: await startVp8Sink() } };
  for (const k of [sinks.probe, sinks.video]) for (const s of [k.ours, k.bare]) onCleanup('sink', () => s.close());
  const y = await nodes.call(NODE_Y, MediaRoomOpen, { roomId: ROOM, peer: { peerId: SUBSCRIBER, identity: SUBSCRIBER }, legs: [NODE_X] });
  const yTransport = async (sink: UdpSink) => {
    const t = await nodes.call(NODE_Y, MediaPlainTransportCreate, { roomId: ROOM, peerId: SUBSCRIBER, comedia: false, rtcpMux: true });
    await nodes.call(NODE_Y, MediaPlainTransportConnect, { roomId: ROOM, peerId: SUBSCRIBER, transportId: t.transportId, ip: IP, port: sink.port });
    return t.transportId;
  };
  const yTransports = { probe: await yTransport(sinks.probe.ours), video: await yTransport(sinks.video.ours) };
  const bTransports = { probe: await bare.subscriberTransport(sinks.probe.bare.port), video: await bare.subscriberTransport(sinks.video.bare.port) };
  const producers = { probe: { ours: probeX.producerId, bare: probeA.producer.id }, video: { ours: videoX.producerId, bare: videoA.producer.id } };

  /** Waits until nothing of `producerId` is left on either end of the link (mediasoup's stats, read through link.stats). */
  const linkEmpty = async (producerId: string) => {
    const deadline = Date.now() + SWITCH_TIMEOUT_MS + opt.lingerMs;
    for (;;) {
      const [onX, onY] = await Promise.all([nodes.linkStats(NODE_X, ROOM), nodes.linkStats(NODE_Y, ROOM)]);
      const left = onX.some((l) => l.sending.some((s) => s.producerId === producerId)) || onY.some((l) => l.receiving.some((s) => s.producerId === producerId));
      if (!left) return;
      if (Date.now() > deadline) throw new Error(`the link still carries ${producerId} ${opt.lingerMs + SWITCH_TIMEOUT_MS} ms after its last consumer closed`);
      await sleep(Math.min(20, Math.max(2, opt.lingerMs / 4)));
    }
  };

  /** The first datagram (probe) or whole key frame of any layer (video). */
  const arrival = (kind: Kind, sink: UdpSink | Vp8Sink): Promise<{ at: number; width?: number }> =>
    kind === 'probe' ? sink.nextPacket().then((at) => ({ at })) : (sink as Vp8Sink).nextKeyFrame().then((k) => ({ at: k.at, width: k.width }));
  const sampleOf = (side: Side, kind: Kind, i: number, t0: number, setupMs: number, resumedMs: number, got: { at: number; width?: number }): Sample => ({
    side,
    kind,
    i,
    ms: got.at - t0,
    setupMs,
    resumedMs,
    ...(got.width !== undefined ? { width: got.width } : {}),
  });

  const oursSwitch = async (kind: Kind, i: number): Promise<Sample> => {
    const sink = sinks[streamOf(kind)].ours;
    sink.reset();
    const first = arrival(kind, sink);
    const t0 = performance.now();
    const c: ResponseOf<typeof MediaConsume> = await nodes.call(NODE_Y, MediaConsume, {
      roomId: ROOM,
      peerId: SUBSCRIBER,
      transportId: yTransports[streamOf(kind)],
      producerId: producers[streamOf(kind)].ours,
      rtpCapabilities: y.rtpCapabilities,
      // A thumbnail names its layer in the consume itself, so the pull asks the far leg for it from the start.
      ...(kind === 'thumb' ? { preferredLayers: { spatialLayer: 0 } } : {}),
    });
    const setupMs = performance.now() - t0;
    await nodes.call(NODE_Y, MediaConsumerAction, { roomId: ROOM, peerId: SUBSCRIBER, consumerId: c.consumerId, action: 'resume' });
    const resumedMs = performance.now() - t0;
    const got = await within(first, SWITCH_TIMEOUT_MS, `ours ${kind} switch ${i}`);
    const sample = sampleOf('ours', kind, i, t0, setupMs, resumedMs, got);
    await nodes.call(NODE_Y, MediaConsumerAction, { roomId: ROOM, peerId: SUBSCRIBER, consumerId: c.consumerId, action: 'close' });
    await linkEmpty(producers[streamOf(kind)].ours);
    return sample;
  };

  const bareSwitch = async (kind: Kind, i: number): Promise<Sample> => {
    const sink = sinks[streamOf(kind)].bare;
    sink.reset();
    const first = arrival(kind, sink);
    const t0 = performance.now();
    const { pipeConsumer, pipeProducer } = await bare.pipe(producers[streamOf(kind)].bare);
    const setupMs = performance.now() - t0;
    const c = await bare.consume(bTransports[streamOf(kind)], pipeProducer.id, kind === 'thumb' ? 0 : undefined);
    const resumedMs = performance.now() - t0;
    const got = await within(first, SWITCH_TIMEOUT_MS, `bare ${kind} switch ${i}`);
    const sample = sampleOf('bare', kind, i, t0, setupMs, resumedMs, got);
    c.close();
    pipeProducer.close();
    pipeConsumer.close();
    return sample;
  };

  const samples: Sample[] = [];
  const run = async (kind: Kind, n: number) => {
    // One switch per side first, not counted: the first pull also sets up the link (ours: link.connect; bare: the pipe transport pair), and JIT warms up.
    const cold = { ours: await oursSwitch(kind, -1), bare: await bareSwitch(kind, -1) };
    log(`${kind}: first pull, link / pipe transports set up too: ours ${cold.ours.ms.toFixed(2)} ms, bare ${cold.bare.ms.toFixed(2)} ms (not counted)`);
    for (let i = 0; i < n; i++) {
      const order = i % 2 === 0 ? ([oursSwitch, bareSwitch] as const) : ([bareSwitch, oursSwitch] as const);
      for (const sw of order) {
        samples.push(await sw(kind, i));
        // Let the last datagrams of the closed consumer drain before the next switch's socket counts again.
        await sleep(5);
      }
      if ((i + 1) % 50 === 0) log(`${kind}: ${i + 1} / ${n} switches`);
    }
    return cold;
  };
  const cold = {
    probe: await run('probe', opt.switches),
    ...(opt.videoSwitches > 0 ? { video: await run('video', opt.videoSwitches) } : {}),
    ...(opt.thumbSwitches > 0 ? { thumb: await run('thumb', opt.thumbSwitches) } : {}),
  };

  const stats = (side: Side, kind: Kind, f: (s: Sample) => number = (s) => s.ms) =>
    percentiles(samples.filter((s) => s.side === side && s.kind === kind).map(f));
  const widthsOf = (side: Side, kind: Kind) => {
    const n = new Map<number, number>();
    for (const s of samples) if (s.side === side && s.kind === kind && s.width !== undefined) n.set(s.width, (n.get(s.width) ?? 0) + 1);
    return [...n].map(([w, k]) => `${w} px ×${k}`).join(', ') || 'none';
  };
  for (const p of nodes.problems().slice(0, 5)) problems.push(`media service logged: ${p.slice(0, 300)}`);

  const f = (x: number) => x.toFixed(2);
  const table = (kind: Kind) => {
    const o = stats('ours', kind);
    const b = stats('bare', kind);
    return [
      `| set-up | n | p50 ms | p95 ms | p99 ms | max ms | mean ms |`,
      `|---|---:|---:|---:|---:|---:|---:|`,
      `| bare: pipeToRouter() + consumer | ${b.n} | ${f(b.p50)} | ${f(b.p95)} | ${f(b.p99)} | ${f(b.max)} | ${f(b.mean)} |`,
      `| ours: consumer.create on Y over NATS, link.forward X → Y | ${o.n} | ${f(o.p50)} | ${f(o.p95)} | ${f(o.p99)} | ${f(o.max)} | ${f(o.mean)} |`,
      `| **ours / bare** | | **${(o.p50 / b.p50).toFixed(2)}** | **${(o.p95 / b.p95).toFixed(2)}** | **${(o.p99 / b.p99).toFixed(2)}** | | |`,
    ];
  };
  const probeOurs = stats('ours', 'probe');
  const p95 = probeOurs.p95;
  const met = Number.isFinite(p95) && p95 > 0 && p95 <= GOAL_P95_MS;
  const setupOurs = stats('ours', 'probe', (s) => s.setupMs);
  const resumedOurs = stats('ours', 'probe', (s) => s.resumedMs);
  const setupBare = stats('bare', 'probe', (s) => s.setupMs);
  const resumedBare = stats('bare', 'probe', (s) => s.resumedMs);
  const lines = [
    '',
    `Link setup latency — ${new Date().toISOString()}, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, node ${process.version}, mediasoup ${mediasoup.version}`,
    `fresh pulls, ours and bare alternating; MEDIA_LINK_LINGER ${opt.lingerMs} ms; ${opt.compiled ? 'services from dist/' : 'services through tsx'}`,
    '',
    `Decision → first RTP packet at the far subscriber's socket (probe: Opus-like, a packet every ${opt.probeIntervalMs} ms):`,
    '',
    ...table('probe'),
    '',
    `where ours' time goes (p50): consumer.create answered ${f(setupOurs.p50)} ms, resumed ${f(resumedOurs.p50)} ms, first packet ${f(probeOurs.p50)} ms; bare: pipeToRouter() ${f(setupBare.p50)} ms, consumer resumed ${f(resumedBare.p50)} ms`,
    `first pull (link / pipe transports set up too, not counted): ours ${f(cold.probe.ours.ms)} ms, bare ${f(cold.probe.bare.ms)} ms`,
    ...(cold.video
      ? [
          '',
          `Speaker change → first whole key frame at the far subscriber, any layer (simulcast VP8, the subscriber asks for no layer: the top one; the sender sends key frames only when asked, on its next frame, 30 fps):`,
          '',
          ...table('video'),
          '',
          `first key frame's layer: ours ${widthsOf('ours', 'video')}; bare ${widthsOf('bare', 'video')}`,
          '',
          `first pull (not counted): ours ${f(cold.video.ours.ms)} ms, bare ${f(cold.video.bare.ms)} ms`,
        ]
      : ['', 'speaker change → first decoded frame: not measured (--video-switches 0)']),
    ...(cold.thumb
      ? [
          '',
          `The same for a thumbnail: the far subscriber names spatial layer 0 in its consume (preferredLayers), so the pull asks the far leg for that layer:`,
          '',
          ...table('thumb'),
          '',
          `first key frame's layer: ours ${widthsOf('ours', 'thumb')}; bare ${widthsOf('bare', 'thumb')} (asked: ${LADDER[0]!.width} px)`,
          ...(['ours', 'bare'] as const).flatMap((side) => {
            const wrong = samples.filter((x) => x.side === side && x.kind === 'thumb' && x.width !== LADDER[0]!.width).length;
            return wrong ? [`WRONG LAYER: ${side}: ${wrong} of ${opt.thumbSwitches} thumbnails got a key frame of another layer first`] : [];
          }),
        ]
      : []),
    ...problems.map((p) => `PROBLEM: ${p}`),
    `RESULT: setup latency ours p95 = ${f(p95)} ms (bare ${f(stats('bare', 'probe').p95)} ms), goal <= ${GOAL_P95_MS} ms: ${met ? 'met' : 'NOT MET'}${problems.length ? ' (with problems, see above)' : ''}`,
    `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  if (opt.json) {
    const date = new Date().toISOString();
    const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end, Node ${process.version}, mediasoup ${mediasoup.version}`;
    const base = { benchmark: 'link-setup', unit: 'ms', machine, date, ...(problems.length ? { problems } : {}) };
    const results: BenchResult[] = [];
    const stat = ['p50', 'p95', 'p99'] as const;
    for (const s of stat) {
      results.push({
        ...base,
        figure: `decision → first packet on the far leg ${s}, ours / pipeToRouter (${opt.switches} switches)`,
        value: stats('ours', 'probe')[s],
        baseline: stats('bare', 'probe')[s],
        ...(s === 'p95' ? { goal: { max: GOAL_P95_MS } } : {}),
      });
    }
    if (cold.video) {
      const notes = [
        'synthetic simulcast sender, key frames only on PLI/FIR, on its next frame (30 fps); the speaker ranking and its hold time are not included',
      ];
      for (const s of ['p50', 'p95'] as const) {
        results.push({
          ...base,
          figure: `speaker change → first whole key frame at a far subscriber, any layer, ${s} (${opt.videoSwitches} switches)`,
          value: stats('ours', 'video')[s],
          baseline: stats('bare', 'video')[s],
          notes,
        });
      }
    }
    const json = JSON.stringify({ format: RESULT_FORMAT, results, options: opt, cold, samples }, (_, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    );
    writeFileSync(opt.json, `${JSON.stringify(JSON.parse(json), null, 2)}\n`);
  }
  await cleanupAll();
  return problems.length ? 1 : 0;
}

runWithCleanup(main);
