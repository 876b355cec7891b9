/**
 * Recorder benchmark: concurrent recorded tracks per core without loss, and the recorder's CPU
 * and memory per track, against one bare ffmpeg per track receiving the same RTP, in one run.
 *
 *   node --conditions=strata-src --import tsx bench/recorder.ts
 *        [--tracks 40] [--steps 20,40,80,160,320,640] [--ffmpeg-max 160] [--window 10] [--warmup 3] [--rounds 2]
 *        [--capture 4] [--compiled] [--keep] [--json bench/results/recorder.json]
 *
 * - Media: ffmpeg encodes `--capture` s of Opus (20 ms, 64 kbit/s) and of VP8 (640x360, 25 fps,
 *   500 kbit/s asked, a key frame every second) once, as RTP into memory (bench/lib/rtp-capture.ts).
 * - Sender: its own process (bench/lib/rtp-replay-process.ts) replays that to every track's port
 *   at real-time pace, in a loop, each track with its own SSRC and sequence numbers and
 *   timestamps running on across loops; one 10 ms timer sends every track's due packets. Half
 *   the tracks are audio, half video.
 * - Ours: one process (bench/lib/recorder-sink.ts) with one TrackRecorder per track, as the
 *   recorder service writes a track: from src/ through tsx, or `--compiled` from
 *   services/recorder/dist (after `npm run build`).
 * - Baseline: one `ffmpeg -protocol_whitelist file,udp,rtp -i track.sdp -c copy -f ogg|webm`
 *   per track (bench/lib/ffmpeg-recorders.ts), reading the same RTP from an SDP file.
 * - A run: fresh receivers in a fresh directory, the sender started, `--warmup` s, then the
 *   receivers' CPU (/proc utime + stime, all threads; for ffmpeg the sum over its processes) over
 *   `--window` s and their RSS at its end; then the sender stops, the receivers close their files
 *   and ffprobe counts the packets (Opus packets, VP8 frames) in every file, against the frames
 *   the sender sent over the whole run. Loss = 1 - frames in the files / frames sent.
 * - `--rounds` runs of each at `--tracks`, alternating which goes first; pooled (total CPU / total
 *   time). Then one run of each at every `--steps` N (ffmpeg up to `--ffmpeg-max` tracks: one
 *   process each), stopping a side after its first failing step. A step passes with loss < 0.1 %
 *   and the receivers' CPU below one core (ours is one Node process: one core); tracks per core
 *   = N / cores used at the largest passing step.
 * Prints the table and RESULT lines on stdout, progress on stderr; `--json` writes the results of
 * record (bench/lib/results.ts) and every run's figures. See docs/benchmarks.md, "Recorder".
 */
import { readProc } from '@strata/harness';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { cleanupAll, onCleanup, runWithCleanup } from './lib/cleanup.js';
import { procCpuMs, procPssBytes, udpDrops } from './lib/cpu.js';
import { countPackets, ffmpegArgs, startFfmpegRecorders, stopFfmpegRecorders, type FfmpegRecorder } from './lib/ffmpeg-recorders.js';
import { intFlag, numberFlag } from './lib/flags.js';
import { IpcChild } from './lib/ipc.js';
import type { SinkTrackStats } from './lib/recorder-sink.js';
import { RESULT_FORMAT, type BenchResult } from './lib/results.js';
import { captureRtp, saveCaptures, type Capture, type Kind } from './lib/rtp-capture.js';
import type { ReplayCounts } from './lib/rtp-replay-process.js';

/** A step passes with less loss than this. */
const MAX_LOSS = 0.001;
/** Sender ticks later than this mean the sender, not the receivers, set the pace: the run is flagged. */
const MAX_SENDER_LAG_MS = 100;

interface Options {
  tracks: number;
  steps: number[];
  ffmpegMax: number;
  windowS: number;
  warmupS: number;
  rounds: number;
  captureS: number;
  compiled: boolean;
  keep: boolean;
  json: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      tracks: { type: 'string', default: '40' },
      steps: { type: 'string', default: '20,40,80,160,320,640' },
      'ffmpeg-max': { type: 'string', default: '160' },
      window: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      rounds: { type: 'string', default: '2' },
      capture: { type: 'string', default: '4' },
      compiled: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const steps = values.steps === '' ? [] : (values.steps ?? '').split(',').map((s) => intFlag('steps', s.trim(), 2));
  return {
    tracks: intFlag('tracks', values.tracks, 2),
    steps,
    ffmpegMax: intFlag('ffmpeg-max', values['ffmpeg-max'], 0),
    windowS: numberFlag('window', values.window, 0.5),
    warmupS: numberFlag('warmup', values.warmup, 0),
    rounds: intFlag('rounds', values.rounds, 1),
    captureS: numberFlag('capture', values.capture, 2),
    compiled: values.compiled ?? false,
    keep: values.keep ?? false,
    json: values.json,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const sum = <T>(xs: readonly T[], f: (x: T) => number): number => xs.reduce((a, x) => a + f(x), 0);
const LIB = fileURLToPath(new URL('./lib/', import.meta.url));

export type Side = 'ours' | 'ffmpeg';

export interface Run {
  side: Side;
  tracks: number;
  /** 'round' at --tracks, 'step' in the sweep. */
  part: 'round' | 'step';
  round: number;
  ms: number;
  cpuMs: number;
  /** Receivers' CPU / wall time over the window: cores. */
  cores: number;
  /** % of a core per track, and µs of CPU per second of media per track. */
  pctCorePerTrack: number;
  usPerTrackSecond: number;
  rssBytes: number;
  rssPerTrackBytes: number;
  /** Proportional set size (shared pages split between the processes mapping them), summed, per track. */
  pssPerTrackBytes: number;
  /** Ours: the recorder process's RSS before its first track (Node, tsx, the modules). */
  idleRssBytes?: number;
  processes: number;
  /** Frames (Opus packets, VP8 frames) the sender sent over the whole run, and what ffprobe counted in the files. */
  framesSent: number;
  framesInFiles: number;
  packetsSent: number;
  loss: number;
  /** Files ffprobe found no packet in. */
  emptyFiles: number;
  /** Datagrams the kernel dropped at the receivers' sockets over the run (/proc/net/udp). */
  kernelDrops: number;
  /** Ours only: the TrackRecorders' own counters, summed over the tracks. */
  ours?: { packetsReceived: number; packetsWritten: number; framesWritten: number; lost: number; late: number; errors: number };
  senderMaxLagMs: number;
  senderCpuMs: number;
  pass: boolean;
  problems: string[];
}

async function pool<T, R>(xs: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(xs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, xs.length) }, async () => {
      while (next < xs.length) {
        const i = next++;
        out[i] = await f(xs[i]!);
      }
    }),
  );
  return out;
}

const kindsOf = (n: number): Kind[] => Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'audio' : 'video'));

async function oneRun(side: Side, n: number, part: Run['part'], round: number, o: Options, capturesFile: string): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), `strata-rec-bench-${side}-`));
  const kinds = kindsOf(n);
  const began = performance.now();
  const phase: Record<string, number> = {};
  const mark = (what: string): void => void (phase[what] = Math.round(performance.now() - began));
  const sender = await IpcChild.start('rtp-replay', join(LIB, 'rtp-replay-process.ts'), [capturesFile]);
  let sink: IpcChild | undefined;
  let ffmpegs: FfmpegRecorder[] = [];
  try {
    let ports: number[];
    let idleRssBytes: number | undefined;
    if (side === 'ours') {
      sink = await IpcChild.start('recorder-sink', join(LIB, 'recorder-sink.ts'), o.compiled ? ['--compiled'] : []);
      idleRssBytes = readProc(sink.pid)?.rssBytes;
      ports = await sink.request<number[]>({ cmd: 'start', tracks: kinds, dir });
    } else {
      ffmpegs = await startFfmpegRecorders(kinds, dir);
      ports = ffmpegs.map((f) => f.port);
    }
    mark('ready');
    const pids = sink ? [sink.pid] : ffmpegs.map((f) => f.proc.pid);
    const cpuNow = (): number => sum(pids, (p) => procCpuMs(p) ?? Number.NaN);
    const dropsNow = (): number => {
      const d = udpDrops(true);
      return sum(ports, (p) => d.get(p) ?? 0);
    };
    const drops0 = dropsNow();
    await sender.request({ cmd: 'start', targets: kinds.map((kind, i) => ({ kind, port: ports[i]!, ssrc: (0x5000_0000 + i) >>> 0 })) });
    await sleep(o.warmupS * 1000);
    const s0 = procCpuMs(sender.pid) ?? Number.NaN;
    const c0 = cpuNow();
    const t0 = performance.now();
    await sleep(o.windowS * 1000);
    const c1 = cpuNow();
    const t1 = performance.now();
    const s1 = procCpuMs(sender.pid) ?? Number.NaN;
    const rssBytes = sum(pids, (p) => readProc(p)?.rssBytes ?? Number.NaN);
    const pssBytes = sum(pids, (p) => procPssBytes(p) ?? Number.NaN);
    const sent = await sender.request<ReplayCounts>({ cmd: 'stop' });
    // The last packets through the kernel, and the jitter buffer's 100 ms.
    await sleep(500);
    const kernelDrops = dropsNow() - drops0;
    mark('sent');
    let ours: Run['ours'];
    let files: string[];
    if (sink) {
      const stats = await sink.request<SinkTrackStats[]>({ cmd: 'close' });
      files = stats.map((s) => s.file);
      ours = {
        packetsReceived: sum(stats, (s) => s.packetsReceived),
        packetsWritten: sum(stats, (s) => s.packetsWritten),
        framesWritten: sum(stats, (s) => s.framesWritten),
        lost: sum(stats, (s) => s.lost),
        late: sum(stats, (s) => s.late),
        errors: stats.filter((s) => s.error !== undefined).length,
      };
    } else {
      await stopFfmpegRecorders(ffmpegs);
      files = ffmpegs.map((f) => f.file);
    }
    mark('closed');
    const counted = await pool(files, 4, countPackets);
    mark('probed');
    const framesSent = sum(sent.frames, (x) => x);
    const framesInFiles = sum(counted, (x) => x);
    const ms = t1 - t0;
    const cpuMs = c1 - c0;
    if (!Number.isFinite(cpuMs)) throw new Error(`${side}: a receiving process was gone before the window ended`);
    const cores = cpuMs / ms;
    const loss = Math.max(0, 1 - framesInFiles / framesSent);
    const problems: string[] = [];
    if (sent.maxLagMs > MAX_SENDER_LAG_MS) problems.push(`the sender fell ${sent.maxLagMs.toFixed(0)} ms behind its schedule`);
    if (ours?.errors) problems.push(`${ours.errors} TrackRecorders stopped on a write error`);
    const run: Run = {
      side,
      tracks: n,
      part,
      round,
      ms,
      cpuMs,
      cores,
      pctCorePerTrack: (cores * 100) / n,
      usPerTrackSecond: (cores * 1e6) / n,
      rssBytes,
      rssPerTrackBytes: rssBytes / n,
      pssPerTrackBytes: pssBytes / n,
      ...(idleRssBytes !== undefined ? { idleRssBytes } : {}),
      processes: pids.length,
      framesSent,
      framesInFiles,
      packetsSent: sum(sent.packets, (x) => x),
      loss,
      emptyFiles: counted.filter((c) => c === 0).length,
      kernelDrops,
      ...(ours ? { ours } : {}),
      senderMaxLagMs: sent.maxLagMs,
      senderCpuMs: s1 - s0,
      pass: loss < MAX_LOSS && cores < 1,
      problems,
    };
    log(
      `${side.padEnd(6)} ${n} tracks (${part} ${round + 1}): ${(cores * 100).toFixed(1)} % core, ${run.pctCorePerTrack.toFixed(3)} % core/track, ` +
        `RSS ${(rssBytes / 2 ** 20).toFixed(0)} MB; frames ${framesInFiles}/${framesSent} (loss ${(loss * 100).toFixed(3)} %), kernel drops ${kernelDrops}` +
        (ours
          ? `; recorder: written ${ours.packetsWritten}/${ours.packetsReceived} packets received of ${run.packetsSent} sent, lost ${ours.lost}, late ${ours.late}`
          : '') +
        `; sender ${((run.senderCpuMs / ms) * 100).toFixed(0)} % core, max lag ${sent.maxLagMs.toFixed(0)} ms${run.pass ? '' : ' — FAILS'} (ms: ${JSON.stringify(phase)})`,
    );
    return run;
  } finally {
    await sender.stop();
    if (sink) await sink.stop();
    await Promise.all(ffmpegs.map((f) => f.proc.kill9()));
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
    else log(`files kept in ${dir}`);
  }
}

interface Pooled {
  cores: number;
  pctCorePerTrack: number;
  usPerTrackSecond: number;
  rssPerTrackBytes: number;
  pssPerTrackBytes: number;
  loss: number;
  framesSent: number;
  framesInFiles: number;
}

function pooled(runs: Run[]): Pooled {
  const ms = sum(runs, (r) => r.ms);
  const cores = sum(runs, (r) => r.cpuMs) / ms;
  const n = runs[0]?.tracks ?? Number.NaN;
  const framesSent = sum(runs, (r) => r.framesSent);
  const framesInFiles = sum(runs, (r) => r.framesInFiles);
  return {
    cores,
    pctCorePerTrack: (cores * 100) / n,
    usPerTrackSecond: (cores * 1e6) / n,
    rssPerTrackBytes: sum(runs, (r) => r.rssPerTrackBytes) / runs.length,
    pssPerTrackBytes: sum(runs, (r) => r.pssPerTrackBytes) / runs.length,
    loss: Math.max(0, 1 - framesInFiles / framesSent),
    framesSent,
    framesInFiles,
  };
}

function ffmpegVersion(): string {
  try {
    return (
      execFileSync('ffmpeg', ['-version'], { encoding: 'utf8' })
        .split('\n')[0]
        ?.replace(/ Copyright.*/, '') ?? 'ffmpeg'
    );
  } catch {
    return 'ffmpeg';
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(3)} %`;
const mb = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MB`;

async function main(): Promise<number> {
  const o = options();
  const started = Date.now();
  const loadAtStart = loadavg()[0] ?? 0;
  const work = mkdtempSync(join(tmpdir(), 'strata-rec-bench-'));
  onCleanup('capture directory', () => rmSync(work, { recursive: true, force: true }));
  log(`capturing ${o.captureS} s of Opus and VP8 RTP from ffmpeg`);
  const captures: Capture[] = await Promise.all([captureRtp('audio', o.captureS), captureRtp('video', o.captureS)]);
  for (const c of captures)
    log(`${c.kind}: ${c.packets.length} packets, ${c.frames} frames, ${((c.bytes * 8) / c.loopMs).toFixed(0)} kbit/s over a ${c.loopMs.toFixed(0)} ms loop`);
  const capturesFile = join(work, 'captures.json');
  saveCaptures(capturesFile, captures);

  const runs: Run[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const order: Side[] = round % 2 === 0 ? ['ffmpeg', 'ours'] : ['ours', 'ffmpeg'];
    for (const side of order) runs.push(await oneRun(side, o.tracks, 'round', round, o, capturesFile));
  }
  const failed = new Set<Side>();
  const ffmpegSkipped: number[] = [];
  for (const [i, n] of o.steps.entries()) {
    const order: Side[] = i % 2 === 0 ? ['ours', 'ffmpeg'] : ['ffmpeg', 'ours'];
    for (const side of order) {
      if (failed.has(side)) continue;
      if (side === 'ffmpeg' && n > o.ffmpegMax) {
        ffmpegSkipped.push(n);
        continue;
      }
      // The rounds at --tracks are this step's figures already.
      const existing = runs.filter((r) => r.side === side && r.tracks === n);
      const r = existing.length ? existing : [await oneRun(side, n, 'step', 0, o, capturesFile)];
      if (!existing.length) runs.push(r[0]!);
      if (!r.every((x) => x.pass)) failed.add(side);
    }
  }

  const at = (side: Side, n: number): Run[] => runs.filter((r) => r.side === side && r.tracks === n);
  const po = pooled(at('ours', o.tracks));
  const pf = pooled(at('ffmpeg', o.tracks));
  const sweep = [...new Set([o.tracks, ...o.steps])].sort((a, b) => a - b);
  const best = (side: Side): { n: number; perCore: number } | undefined => {
    let b: { n: number; perCore: number } | undefined;
    for (const n of sweep) {
      const rs = at(side, n);
      if (!rs.length || !rs.every((r) => r.pass)) continue;
      const p = pooled(rs);
      b = { n, perCore: n / p.cores };
    }
    return b;
  };
  const bo = best('ours');
  const bf = best('ffmpeg');
  const ratio = (a: number, b: number): string => (Number.isFinite(a / b) ? (a / b).toFixed(2) : '—');
  const perRound = Array.from({ length: o.rounds }, (_, i) => {
    const a = runs.find((r) => r.part === 'round' && r.side === 'ours' && r.round === i);
    const b = runs.find((r) => r.part === 'round' && r.side === 'ffmpeg' && r.round === i);
    return a && b ? (a.cores / b.cores).toFixed(2) : '?';
  }).join(', ');

  const row = (...cells: string[]): string => `| ${cells.join(' | ')} |`;
  const table = [
    `At ${o.tracks} tracks (${o.tracks / 2} Opus + ${o.tracks / 2} VP8), ${o.rounds} round(s) of ${o.windowS} s:`,
    '',
    row('figure', 'ours', 'ffmpeg', 'ours / ffmpeg'),
    '|---|---:|---:|---:|',
    row(
      'CPU per track',
      `${po.pctCorePerTrack.toFixed(3)} % core`,
      `${pf.pctCorePerTrack.toFixed(3)} % core`,
      `**${ratio(po.cores, pf.cores)}** (rounds ${perRound})`,
    ),
    row('CPU per second of media per track', `${po.usPerTrackSecond.toFixed(0)} µs`, `${pf.usPerTrackSecond.toFixed(0)} µs`, ratio(po.cores, pf.cores)),
    row('CPU, all tracks', `${(po.cores * 100).toFixed(1)} % core`, `${(pf.cores * 100).toFixed(1)} % core`, ''),
    row('RSS per track', mb(po.rssPerTrackBytes), mb(pf.rssPerTrackBytes), ratio(po.rssPerTrackBytes, pf.rssPerTrackBytes)),
    row('PSS per track (shared pages split)', mb(po.pssPerTrackBytes), mb(pf.pssPerTrackBytes), ratio(po.pssPerTrackBytes, pf.pssPerTrackBytes)),
    row('frames in files / sent', `${po.framesInFiles} / ${po.framesSent}`, `${pf.framesInFiles} / ${pf.framesSent}`, ''),
    row('loss', pct(po.loss), pct(pf.loss), ''),
    '',
    `Steps (one run each; pass: loss < ${pct(MAX_LOSS)} and below one core):`,
    '',
    row('tracks', 'ours CPU', 'ours loss', 'ffmpeg CPU', 'ffmpeg loss', 'ours / ffmpeg CPU', 'ours RSS/track', 'ffmpeg RSS/track'),
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...sweep.map((n) => {
      const a = at('ours', n);
      const b = at('ffmpeg', n);
      const pa = a.length ? pooled(a) : undefined;
      const pb = b.length ? pooled(b) : undefined;
      const mark = (rs: Run[]): string => (rs.every((r) => r.pass) ? '' : ' ✗');
      return row(
        String(n),
        pa ? `${(pa.cores * 100).toFixed(1)} %${mark(a)}` : '—',
        pa ? pct(pa.loss) : '—',
        pb ? `${(pb.cores * 100).toFixed(1)} %${mark(b)}` : ffmpegSkipped.includes(n) ? 'not run' : '—',
        pb ? pct(pb.loss) : '—',
        pa && pb ? ratio(pa.cores, pb.cores) : '—',
        pa ? mb(pa.rssPerTrackBytes) : '—',
        pb ? mb(pb.rssPerTrackBytes) : '—',
      );
    }),
  ];
  const bestText = (b: { n: number; perCore: number } | undefined): string => (b ? `${b.n} tracks, ${b.perCore.toFixed(0)} tracks per core` : 'no step passed');
  const machine = `${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), load ${loadAtStart.toFixed(1)} at start, Node ${process.version}, ${ffmpegVersion()}`;
  const header = [
    '',
    `Recorder — ${new Date().toISOString()}, ${machine}`,
    `ours: one process of TrackRecorders (${o.compiled ? 'services/recorder/dist' : 'src through tsx'}); ffmpeg: one \`${['ffmpeg', ...ffmpegArgs('track.sdp', 'video', 'out', o.tracks)].join(' ')}\` per track`,
    `media: ${captures.map((c) => `${c.kind} ${((c.bytes * 8) / c.loopMs).toFixed(0)} kbit/s, ${((c.packets.length * 1000) / c.loopMs).toFixed(0)} packets/s`).join('; ')}, looped from a ${o.captureS} s capture`,
  ];
  const largest = [
    `largest passing step: ours ${bestText(bo)}; ffmpeg ${bestText(bf)}${ffmpegSkipped.length ? ` (not run at ${ffmpegSkipped.join(', ')} tracks: --ffmpeg-max ${o.ffmpegMax})` : ''}`,
  ];
  const results = [
    `RESULT recorder CPU per track, ours/ffmpeg: ${ratio(po.cores, pf.cores)} (${po.pctCorePerTrack.toFixed(3)} / ${pf.pctCorePerTrack.toFixed(3)} % core at ${o.tracks} tracks; per round ${perRound})`,
    `RESULT recorder RSS per track, ours/ffmpeg: ${ratio(po.rssPerTrackBytes, pf.rssPerTrackBytes)} (${mb(po.rssPerTrackBytes)} / ${mb(pf.rssPerTrackBytes)}; PSS ${mb(po.pssPerTrackBytes)} / ${mb(pf.pssPerTrackBytes)})`,
    `RESULT recorder loss at ${o.tracks} tracks: ours ${pct(po.loss)}, ffmpeg ${pct(pf.loss)}`,
    `RESULT recorder tracks per core without loss, ours/ffmpeg: ${bo && bf ? ratio(bo.perCore, bf.perCore) : '—'} (${bestText(bo)} / ${bestText(bf)})`,
  ];
  process.stdout.write(
    `${[...header, '', ...table, '', ...largest, '', ...results, `total run time ${((Date.now() - started) / 1000).toFixed(0)} s`].join('\n')}\n`,
  );

  if (o.json) {
    const date = new Date().toISOString();
    const flagged = [...new Set(runs.flatMap((r) => r.problems.map((p) => `${r.side} at ${r.tracks}: ${p}`)))];
    const base = { benchmark: 'recorder', machine, date, ...(flagged.length ? { problems: flagged } : {}) };
    const load = `${o.tracks} tracks (half Opus 64 kbit/s, half VP8 640x360 ~440 kbit/s), ${o.rounds} × ${o.windowS} s`;
    const note = `baseline: one bare ffmpeg per track (${ffmpegVersion()}, -c copy from an SDP file), the same RTP from the same sender; CPU of all its processes`;
    const results: BenchResult[] = [
      { ...base, figure: `CPU per recorded track, ${load}`, value: po.pctCorePerTrack, baseline: pf.pctCorePerTrack, unit: '% core', notes: [note] },
      { ...base, figure: `RSS per recorded track, ${load}`, value: po.rssPerTrackBytes / 2 ** 20, baseline: pf.rssPerTrackBytes / 2 ** 20, unit: 'MB' },
      {
        ...base,
        figure: `PSS per recorded track (shared pages split between processes), ${load}`,
        value: po.pssPerTrackBytes / 2 ** 20,
        baseline: pf.pssPerTrackBytes / 2 ** 20,
        unit: 'MB',
      },
      {
        ...base,
        figure: `frames written / frames sent, ${load}`,
        value: po.framesInFiles / po.framesSent,
        baseline: pf.framesInFiles / pf.framesSent,
        unit: 'fraction',
        notes: ['frames: Opus packets and VP8 frames, counted in the files by ffprobe -count_packets, against what the sender sent over the whole run'],
      },
      {
        ...base,
        figure: `tracks per core without loss (largest passing step of ${sweep.join(', ')}; ffmpeg up to ${o.ffmpegMax})`,
        value: bo?.perCore ?? Number.NaN,
        baseline: bf?.perCore ?? Number.NaN,
        unit: 'tracks/core',
        notes: [`ours: ${bestText(bo)}; ffmpeg: ${bestText(bf)}; pass: loss < ${pct(MAX_LOSS)} and the receivers below one core`],
      },
    ];
    writeFileSync(
      o.json,
      `${JSON.stringify({ format: RESULT_FORMAT, results, date, cores: cpus().length, options: o, captures: captures.map(({ packets: _p, ...c }) => ({ ...c, packets: _p.length })), runs }, null, 2)}\n`,
    );
  }
  await cleanupAll();
  return 0;
}

runWithCleanup(main);
