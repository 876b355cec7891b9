/**
 * The forwarding benchmark's single-node figure (bench/forwarding.ts, our side only), for
 * another benchmark to measure in its own run: one media node, one worker, one ffmpeg sender
 * (the 5 s VP8 + Opus clip), N consumers on N/2 receivers; CPU per consumer =
 * (CPU(N) − CPU(0)) / N, and per delivered packet. Built from the same parts as forwarding.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SingleNodeFigure } from './big-room-report.js';
import { measureWindow, type MeasureContext, type WindowResult } from './measure.js';
import { OursForwarding } from './ours-forwarding.js';
import { figures } from './report.js';
import { checkFfmpeg, clipArgs, prepareClip, startRtpSource } from './rtp-source.js';
import { SinkProcess } from './sink.js';

const CLIP_SECONDS = 5;

export interface SingleNodeOptions {
  /** Consumers (even: each receiver is a VP8 and an Opus consumer). */
  consumers: number;
  /** A multiple of the 5 s clip, so windows carry the same packets. */
  windowMs: number;
  warmupMs: number;
  rounds: number;
  log: (msg: string) => void;
}

export async function measureSingleNode(opt: SingleNodeOptions): Promise<SingleNodeFigure & { windows: WindowResult[] }> {
  if (opt.consumers <= 0 || opt.consumers % 2) throw new Error(`single node: ${opt.consumers} consumers is not a positive even number`);
  checkFfmpeg();
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const sink = await SinkProcess.start();
    stops.push(() => sink.stop());
    const dir = mkdtempSync(join(tmpdir(), 'strata-bench-clip-'));
    stops.push(() => rmSync(dir, { recursive: true, force: true }));
    const clip = join(dir, 'clip.mkv');
    prepareClip(clip, CLIP_SECONDS);
    const source = startRtpSource(clipArgs(clip, sink.relayPorts.video, sink.relayPorts.audio));
    stops.push(async () => void (await source.stop()));
    const ours = await OursForwarding.create({ env: opt.consumers > 500 ? { MEDIA_MAX_CONSUMERS: String(opt.consumers) } : {} });
    stops.push(() => ours.close());
    const ctx: MeasureContext = { sink, ffmpegPid: source.pid, warmupMs: opt.warmupMs, windowMs: opt.windowMs, log: opt.log };
    await sink.targets([ours.ingest]);
    await measureWindow(ctx, [ours], [ours], -1); // practice window, thrown away (JIT, start-up garbage)
    const windows: WindowResult[] = [];
    for (let round = 0; round < opt.rounds; round++) windows.push(...(await measureWindow(ctx, [ours], [ours], round)));
    await ours.addReceivers(await sink.open(ours.name, opt.consumers / 2));
    for (let round = 0; round < opt.rounds; round++) windows.push(...(await measureWindow(ctx, [ours], [ours], round)));
    await sink.targets([]);
    const byLevel = figures(windows);
    const zero = byLevel.get(0);
    const n = byLevel.get(opt.consumers);
    if (!zero || !n) throw new Error('single node: a level was not measured');
    const pps = ((n.videoPackets + n.audioPackets) * (opt.consumers / 2)) / (opt.windowMs / 1000);
    const problems = windows.flatMap((w) => (w.anomalies ?? []).map((a) => `window still anomalous after retries (${w.consumers} consumers): ${a}`));
    opt.log(
      `single node: ${zero.total.toFixed(1)} % core at 0 consumers, ${n.total.toFixed(1)} % at ${opt.consumers}: ${n.perConsumer.toFixed(4)} %core/consumer, ${pps.toFixed(0)} packets/s delivered`,
    );
    return {
      consumers: opt.consumers,
      perConsumer: n.perConsumer,
      perPacketUs: pps > 0 ? ((n.total - zero.total) / 100 / pps) * 1e6 : Number.NaN,
      problems,
      windows,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
