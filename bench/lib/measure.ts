/**
 * Measurement windows: the measured set-ups' producers are resumed and every other set-up's
 * paused, a warm-up passes, then CPU and packet counters are sampled at the start and the end
 * of a fixed window.
 */
import { procCpuMs, udpDrops } from './cpu.js';
import type { Receiver } from './media-params.js';
import type { SinkProcess } from './sink.js';
import type { ForwardingSetup } from './setup.js';
import type { RelayCounts, SinkCounts } from './sink-protocol.js';

export interface WindowResult {
  setup: 'bare' | 'ours';
  /** mediasoup consumers (2 per receiver). */
  consumers: number;
  round: number;
  ms: number;
  workerMs: number;
  controlMs: number;
  /** Context, not part of either figure. */
  ffmpegMs: number;
  sinkMs: number;
  /** Bare only: the worker's CPU read from /proc, to check getResourceUsage() against. */
  workerProcMs?: number;
  /** RTP packets ffmpeg sent during the window (what each consumer should forward). */
  inVideo: number;
  inAudio: number;
  /** RTP packets per consumer during the window, over the set-up's consumers of each kind. */
  video: { min: number; mean: number };
  audio: { min: number; mean: number };
  /** RTP bytes per consumer per second, both kinds. */
  bytesPerConsumerPerSec: number;
  /**
   * RTP packets lost during the window, over all the set-up's consumers: the growth of each
   * stream's sequence-number span minus the packets that arrived (RFC 3550's cumulative loss),
   * whether lost in the worker, the kernel or a sink that fell behind. `lossyConsumers`: how many
   * consumers lost any.
   */
  lost: number;
  lossyConsumers: number;
  /**
   * Datagrams the kernel dropped during the window (full receive buffers, /proc/net/udp): at the
   * set-up's sink sockets (the benchmark's receiving side fell behind), at its producers'
   * transports (the worker's intake) and at the relay (the sink process's intake from ffmpeg).
   */
  drops: { sinks: number; ingest: number; relay: number };
  /** With SRTP: sampled packets that authenticated under the consumer transport's key during the window, and those that did not. */
  srtp?: { verified: number; failed: number };
  /** Earlier attempts at this window that were thrown away, and why. */
  discarded: string[];
  /** Set when this window was kept although still anomalous after its last attempt: why. */
  anomalies?: string[];
}

/** A snapshot slower than this means a process stalled (host preemption, a long GC): the window is redone. */
const MAX_SNAPSHOT_MS = 250;
export const MAX_ATTEMPTS = 3;

interface Snapshot {
  /** When the CPU figures were read (midpoint of the read). */
  t: number;
  /** How long the whole snapshot took. */
  tookMs: number;
  workerMs: number;
  controlMs: number;
  workerProcMs: number | undefined;
  ffmpegMs: number;
  sinkMs: number;
  sinks: Map<number, Map<number, Counts>>;
  relay: RelayCounts;
  drops: Map<number, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Counts {
  packets: number;
  bytes: number;
  expected: number;
  verified: number;
  failed: number;
}
const NONE: Counts = { packets: 0, bytes: 0, expected: 0, verified: 0, failed: 0 };

function index(sinks: SinkCounts[]): Map<number, Map<number, Counts>> {
  const m = new Map<number, Map<number, Counts>>();
  for (const s of sinks)
    m.set(s.port, new Map(s.streams.map(([ssrc, packets, bytes, expected, verified, failed]) => [ssrc, { packets, bytes, expected, verified, failed }])));
  return m;
}

export interface MeasureContext {
  sink: SinkProcess;
  ffmpegPid: number;
  warmupMs: number;
  windowMs: number;
  /** For the bare set-up's /proc cross-check. */
  workerProcMs?: (setup: ForwardingSetup) => number | undefined;
  log: (msg: string) => void;
}

async function snapshot(ctx: MeasureContext, setup: ForwardingSetup): Promise<Snapshot> {
  const t0 = performance.now();
  const cpu = await setup.cpu();
  const workerProcMs = ctx.workerProcMs?.(setup);
  const ffmpegMs = procCpuMs(ctx.ffmpegPid) ?? Number.NaN;
  const sinkMs = procCpuMs(ctx.sink.pid) ?? Number.NaN;
  const t1 = performance.now();
  const counts = await ctx.sink.counts(setup.name);
  const tookMs = performance.now() - t0;
  // After the clock: the kernel walks every UDP socket of the host for this file, which on a
  // busy shared machine takes ~0.1 s of waiting; drops are rare counters, a moment off is fine.
  const drops = udpDrops();
  return { t: (t0 + t1) / 2, tookMs, ...cpu, workerProcMs, ffmpegMs, sinkMs, sinks: index(counts.sinks), relay: counts.relay, drops };
}

function counts(s: Snapshot, r: Receiver, ssrc: number): Counts {
  return s.sinks.get(r.sinkPort)?.get(ssrc) ?? NONE;
}

/**
 * Resumes the producers of `measured` (pausing every other set-up's), waits the warm-up, and
 * measures each of `measured` over the same window: one set-up at a time (alternating mode) or
 * all at once (simultaneous mode).
 *
 * A window is redone (up to MAX_ATTEMPTS) when a snapshot was slow, i.e. some process did not
 * run for a while (on a shared VM: the host preempting us, another tenant's burst), or when the
 * consumers did not get what the sender sent in the window (± a frame): both mean the window
 * measured the machine, not the set-up. Discarded attempts are logged and counted in the report.
 */
export async function measureWindow(
  ctx: MeasureContext,
  measured: readonly ForwardingSetup[],
  all: readonly ForwardingSetup[],
  round: number,
): Promise<WindowResult[]> {
  for (const o of all) if (!measured.includes(o)) await o.setForwarding(false);
  for (const m of measured) await m.setForwarding(true);
  await sleep(ctx.warmupMs);
  const discarded: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const a: Snapshot[] = [];
    for (const m of measured) a.push(await snapshot(ctx, m));
    await sleep(ctx.windowMs);
    const b: Snapshot[] = [];
    for (const m of measured) b.push(await snapshot(ctx, m));
    const results = measured.map((m, i) => result(ctx, m, a[i] as Snapshot, b[i] as Snapshot, round, discarded));
    const problems = measured.flatMap((m, i) => anomaly(m, a[i] as Snapshot, b[i] as Snapshot, results[i] as WindowResult));
    if (!problems.length) return results;
    const why = problems.join('; ');
    if (attempt >= MAX_ATTEMPTS) {
      // Kept so the run completes, but marked: the report flags its level and the result.
      ctx.log(`window kept after ${attempt} attempts despite: ${why} (flagged in the report)`);
      return results.map((w) => ({ ...w, anomalies: problems }));
    }
    ctx.log(`window discarded, measuring again: ${why}`);
    discarded.push(why);
    await sleep(1000);
  }
}

function anomaly(setup: ForwardingSetup, a: Snapshot, b: Snapshot, w: WindowResult): string[] {
  const out: string[] = [];
  for (const s of [a, b]) if (s.tookMs > MAX_SNAPSHOT_MS) out.push(`${setup.name}: a CPU/packet snapshot took ${s.tookMs.toFixed(0)} ms`);
  if (w.consumers > 0) {
    for (const [kind, got, sent] of [
      ['video', w.video.mean, w.inVideo],
      ['audio', w.audio.mean, w.inAudio],
    ] as const) {
      if (Math.abs(got - sent) > Math.max(3, sent * 0.01))
        out.push(`${setup.name}: ${kind} consumers got ${got.toFixed(1)} packets on average for ${sent} sent`);
    }
  }
  return out;
}

function result(ctx: MeasureContext, setup: ForwardingSetup, a: Snapshot, b: Snapshot, round: number, discarded: string[]): WindowResult {
  const video: number[] = [];
  const audio: number[] = [];
  let bytes = 0;
  let lost = 0;
  let lossyConsumers = 0;
  const srtp = { verified: 0, failed: 0 };
  /** With SRTP: consumers none of whose packets has authenticated yet, although packets arrived. */
  const unverified: Receiver[] = [];
  for (const r of setup.receivers) {
    for (const [ssrc, out] of [
      [r.videoSsrc, video],
      [r.audioSsrc, audio],
    ] as const) {
      const x1 = counts(b, r, ssrc);
      const x0 = counts(a, r, ssrc);
      out.push(x1.packets - x0.packets);
      bytes += x1.bytes - x0.bytes;
      // Out of order across the snapshot can make one window's figure -1 and the next +1: clamp.
      const l = Math.max(0, x1.expected - x0.expected - (x1.packets - x0.packets));
      lost += l;
      if (l > 0) lossyConsumers++;
      srtp.verified += x1.verified - x0.verified;
      srtp.failed += x1.failed - x0.failed;
      if (r.srtp && x1.packets > 0 && x1.verified === 0) unverified.push(r);
    }
  }
  if (srtp.failed > 0) throw new Error(`${setup.name}: ${srtp.failed} sampled SRTP packets did not authenticate under their consumer transport's key`);
  if (unverified.length)
    throw new Error(`${setup.name}: ${unverified.length} consumers sent packets none of which authenticated (first: sink port ${unverified[0]?.sinkPort})`);
  const consumers = setup.receivers.length * 2;
  const ms = b.t - a.t;
  const dropped = (ports: number[]): number => ports.reduce((n, p) => n + Math.max(0, (b.drops.get(p) ?? 0) - (a.drops.get(p) ?? 0)), 0);
  const drops = {
    sinks: dropped(setup.receivers.map((r) => r.sinkPort)),
    ingest: dropped([setup.ingest.video.port, setup.ingest.audio.port]),
    relay: dropped([ctx.sink.relayPorts.video, ctx.sink.relayPorts.audio]),
  };
  const stat = (xs: number[]): { min: number; mean: number } => ({
    min: xs.length ? Math.min(...xs) : 0,
    mean: xs.length ? xs.reduce((x, y) => x + y, 0) / xs.length : 0,
  });
  const w: WindowResult = {
    setup: setup.name,
    consumers,
    round,
    ms,
    workerMs: b.workerMs - a.workerMs,
    controlMs: b.controlMs - a.controlMs,
    ffmpegMs: b.ffmpegMs - a.ffmpegMs,
    sinkMs: b.sinkMs - a.sinkMs,
    ...(a.workerProcMs !== undefined && b.workerProcMs !== undefined ? { workerProcMs: b.workerProcMs - a.workerProcMs } : {}),
    inVideo: b.relay.videoRtp - a.relay.videoRtp,
    inAudio: b.relay.audioRtp - a.relay.audioRtp,
    video: stat(video),
    audio: stat(audio),
    bytesPerConsumerPerSec: consumers ? bytes / consumers / (ms / 1000) : 0,
    lost,
    lossyConsumers,
    drops,
    ...(setup.receivers.some((r) => r.srtp) ? { srtp } : {}),
    discarded: [...discarded],
  };
  if (w.inVideo === 0 || w.inAudio === 0)
    throw new Error(`no RTP from ffmpeg during the ${setup.name} window (video ${w.inVideo}, audio ${w.inAudio} packets)`);
  if (consumers > 0 && (w.video.min === 0 || w.audio.min === 0)) {
    const silent = setup.receivers.filter(
      (r) => counts(b, r, r.videoSsrc).packets === counts(a, r, r.videoSsrc).packets || counts(b, r, r.audioSsrc).packets === counts(a, r, r.audioSsrc).packets,
    );
    throw new Error(
      `${setup.name}: ${silent.length} of ${setup.receivers.length} receivers got no RTP on a consumer during the window ` +
        `(first: sink port ${silent[0]?.sinkPort}, transport port ${silent[0]?.transportPort}, ssrcs ${silent[0]?.videoSsrc}/${silent[0]?.audioSsrc})`,
    );
  }
  return w;
}
