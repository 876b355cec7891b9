/**
 * Measurement windows: the measured set-ups' producers are resumed and every other set-up's
 * paused, a warm-up passes, then CPU and packet counters are sampled at the start and the end
 * of a fixed window.
 */
import { procCpuMs } from './cpu.js';
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
  sinks: Map<number, Map<number, [number, number]>>;
  relay: RelayCounts;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function index(sinks: SinkCounts[]): Map<number, Map<number, [number, number]>> {
  const m = new Map<number, Map<number, [number, number]>>();
  for (const s of sinks) m.set(s.port, new Map(s.streams.map(([ssrc, p, b]) => [ssrc, [p, b]])));
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
  return { t: (t0 + t1) / 2, tookMs: performance.now() - t0, ...cpu, workerProcMs, ffmpegMs, sinkMs, sinks: index(counts.sinks), relay: counts.relay };
}

function packets(s: Snapshot, r: Receiver, ssrc: number): [number, number] {
  return s.sinks.get(r.sinkPort)?.get(ssrc) ?? [0, 0];
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
    const results = measured.map((m, i) => result(m, a[i] as Snapshot, b[i] as Snapshot, round, discarded));
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

function result(setup: ForwardingSetup, a: Snapshot, b: Snapshot, round: number, discarded: string[]): WindowResult {
  const video: number[] = [];
  const audio: number[] = [];
  let bytes = 0;
  for (const r of setup.receivers) {
    const [v1, vb1] = packets(b, r, r.videoSsrc);
    const [v0, vb0] = packets(a, r, r.videoSsrc);
    const [a1, ab1] = packets(b, r, r.audioSsrc);
    const [a0, ab0] = packets(a, r, r.audioSsrc);
    video.push(v1 - v0);
    audio.push(a1 - a0);
    bytes += vb1 - vb0 + (ab1 - ab0);
  }
  const consumers = setup.receivers.length * 2;
  const ms = b.t - a.t;
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
    discarded: [...discarded],
  };
  if (w.inVideo === 0 || w.inAudio === 0)
    throw new Error(`no RTP from ffmpeg during the ${setup.name} window (video ${w.inVideo}, audio ${w.inAudio} packets)`);
  if (consumers > 0 && (w.video.min === 0 || w.audio.min === 0)) {
    const silent = setup.receivers.filter(
      (r) => packets(b, r, r.videoSsrc)[0] === packets(a, r, r.videoSsrc)[0] || packets(b, r, r.audioSsrc)[0] === packets(a, r, r.audioSsrc)[0],
    );
    throw new Error(
      `${setup.name}: ${silent.length} of ${setup.receivers.length} receivers got no RTP on a consumer during the window ` +
        `(first: sink port ${silent[0]?.sinkPort}, transport port ${silent[0]?.transportPort}, ssrcs ${silent[0]?.videoSsrc}/${silent[0]?.audioSsrc})`,
    );
  }
  return w;
}
