/**
 * The optional post-step that mixes a finished recording into one file: every audio track mixed
 * at its offset, every video producer in a tile of a grid, encoded by Debian's ffmpeg to WebM
 * (VP8 + Opus). Unlike recording, it decodes and re-encodes; it runs after the recording, off the
 * hot path (`npm run recording:mix -- <dir>`).
 *
 * The ffmpeg arguments are built by `mixPlan`, a pure function of the manifest: the filter graph
 * is made of numbers (offsets, durations, tile sizes and positions) and input indexes only. No
 * string a peer controls (identity, peer id) goes into it, and file names from the manifest must
 * be plain names inside the recording's folder, passed to ffmpeg as `file:` paths so that no name
 * can select another of ffmpeg's protocols.
 */
import { check, Recording, type RecordedTrack } from '@strata/protocol';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

export class MixError extends Error {
  override name = 'MixError';
}

export interface MixPlanOptions {
  /** Output file (absolute, or relative to the working directory). */
  out: string;
  /** Canvas size of the video grid; default 1280x720. */
  width?: number;
  height?: number;
  /** Output frame rate; default 25. */
  fps?: number;
}

export interface MixTile {
  producerId: string;
  x: number;
  y: number;
  /** Indexes of the tracks (in `MixPlan.inputs`) shown in this tile, one per segment. */
  inputs: number[];
}

export interface MixPlan {
  /** ffmpeg's arguments, without the binary. */
  args: string[];
  /** The files read, in input order (absolute paths). */
  inputs: string[];
  /** Length of the mix: the latest end of any track. */
  durationMs: number;
  audioTracks: number;
  /** One per video producer; empty for an audio-only mix. */
  tiles: MixTile[];
  grid: { cols: number; rows: number; tileWidth: number; tileHeight: number } | undefined;
}

/** VP8 bitrate per canvas pixel at 25 fps: 2 Mb/s for 1280x720. */
const VIDEO_BITS_PER_PIXEL = 2_000_000 / (1280 * 720);
const AUDIO_BITRATE = '96k';

/** A plain file name inside the recording's folder, or throws. What the recorder writes: `<trackId>.ogg|webm`. */
export function checkFileName(file: string): string {
  if (isAbsolute(file)) throw new MixError(`refusing file "${file}": an absolute path, not a file of the recording's folder`);
  if (file.includes('/') || file.includes('\\')) throw new MixError(`refusing file "${file}": a path, not a plain file name of the recording's folder`);
  if (file.includes('..')) throw new MixError(`refusing file "${file}": ".." is not allowed in a file name`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$/.test(file)) throw new MixError(`refusing file "${file}": only A-Z a-z 0-9 . _ - are allowed, not first . or -`);
  return file;
}

/** Columns and rows for n tiles: 1, 2 side by side, 2x2, 3x2, 3x3, 4x3... */
export function gridFor(n: number): { cols: number; rows: number } {
  if (n <= 0) return { cols: 0, rows: 0 };
  const cols = Math.ceil(Math.sqrt(n));
  return { cols, rows: Math.ceil(n / cols) };
}

function offset(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new MixError(`${name} must be a non-negative integer of milliseconds, got ${String(v)}`);
  return v;
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);
const even = (n: number) => Math.max(2, Math.floor(n / 2) * 2);

/** When a track ends: its last packet, else the end of its segment, else its first packet. */
function trackEndMs(m: Recording, t: RecordedTrack & { startOffsetMs: number }): number {
  if (t.endOffsetMs !== undefined) return Math.max(offset(`track ${t.trackId} endOffsetMs`, t.endOffsetMs), t.startOffsetMs);
  const seg = m.segments.find((s) => s.segment === t.segment);
  if (seg?.endedAt !== undefined && m.startedAt !== undefined && seg.endedAt >= m.startedAt) return Math.max(seg.endedAt - m.startedAt, t.startOffsetMs);
  return t.startOffsetMs;
}

/** The ffmpeg argument list that mixes the recording in `dir` described by `manifest`. Pure: reads no file. */
export function mixPlan(manifest: Recording, dir: string, opts: MixPlanOptions): MixPlan {
  const width = even(opts.width ?? 1280);
  const height = even(opts.height ?? 720);
  const fps = opts.fps ?? 25;
  if (!Number.isInteger(fps) || fps < 1 || fps > 120) throw new MixError(`fps must be an integer from 1 to 120, got ${fps}`);
  if (width > 7680 || height > 4320) throw new MixError(`canvas ${width}x${height} is over 7680x4320`);

  // Tracks that got a packet, earliest first (segment, then track id, on a tie: a stable order).
  const tracks = manifest.tracks
    .filter((t): t is RecordedTrack & { startOffsetMs: number } => t.startOffsetMs !== undefined)
    .map((t) => ({ ...t, startOffsetMs: offset(`track ${t.trackId} startOffsetMs`, t.startOffsetMs) }))
    .sort((a, b) => a.startOffsetMs - b.startOffsetMs || a.segment - b.segment || (a.trackId < b.trackId ? -1 : a.trackId > b.trackId ? 1 : 0));
  if (tracks.length === 0) throw new MixError('the recording has no track with media (no track has a startOffsetMs)');

  const folder = resolve(dir);
  const out = resolve(opts.out);
  const inputs = tracks.map((t) => join(folder, checkFileName(t.file)));
  if (out === join(folder, 'manifest.json') || inputs.includes(out)) throw new MixError(`refusing to write the mix over one of the recording's files (${out})`);
  const durationMs = Math.max(1, ...tracks.map((t) => trackEndMs(manifest, t)));

  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error', '-y'];
  // -reinit_filter 0: a WebRTC sender changes its VP8 resolution as bandwidth and CPU allow, and
  // ffmpeg would otherwise rebuild the whole graph on such a change, losing every filter's state
  // (offsets, delays, the mix so far). Each video chain starts with scale, which follows a size change.
  // -copyts: a recorder's WebM counts time from the track's first packet (its startOffsetMs), and
  // its first frame, the first key frame, can come later (a PLI away): ffmpeg would otherwise
  // shift every input to start at 0 and show that frame too early.
  args.push('-copyts');
  for (const file of inputs) args.push('-reinit_filter', '0', '-i', `file:${file}`);

  const filters: string[] = [];
  const maps: string[] = [];

  // Video: one tile per producer, in order of first appearance; its tracks (one per segment) overlaid in the same place.
  const tiles: MixTile[] = [];
  const byProducer = new Map<string, MixTile>();
  tracks.forEach((t, i) => {
    if (t.kind !== 'video') return;
    let tile = byProducer.get(t.producerId);
    if (!tile) {
      tile = { producerId: t.producerId, x: 0, y: 0, inputs: [] };
      byProducer.set(t.producerId, tile);
      tiles.push(tile);
    }
    tile.inputs.push(i);
  });
  let grid: MixPlan['grid'];
  if (tiles.length > 0) {
    const { cols, rows } = gridFor(tiles.length);
    const tileWidth = even(width / cols);
    const tileHeight = even(height / rows);
    grid = { cols, rows, tileWidth, tileHeight };
    // The grid centred on the canvas (a 3x2 grid of 1280x720 leaves no room; 2 side by side neither).
    const x0 = Math.floor((width - cols * tileWidth) / 4) * 2;
    const y0 = Math.floor((height - rows * tileHeight) / 4) * 2;
    tiles.forEach((tile, k) => {
      tile.x = x0 + (k % cols) * tileWidth;
      tile.y = y0 + Math.floor(k / cols) * tileHeight;
    });
    filters.push(`color=c=black:s=${width}x${height}:r=${fps}:d=${seconds(durationMs)},format=yuv420p[bg]`);
    let base = 'bg';
    let n = 0;
    for (const tile of tiles) {
      for (const i of tile.inputs) {
        const t = tracks[i]!;
        filters.push(
          `[${i}:v:0]scale=${tileWidth}:${tileHeight}:force_original_aspect_ratio=decrease,pad=${tileWidth}:${tileHeight}:-1:-1:color=black,setsar=1,format=yuv420p,` +
            `setpts=PTS+${seconds(t.startOffsetMs)}/TB[v${i}]`,
        );
        const next = `o${n++}`;
        filters.push(`[${base}][v${i}]overlay=x=${tile.x}:y=${tile.y}:eof_action=pass[${next}]`);
        base = next;
      }
    }
    filters.push(`[${base}]null[vout]`);
    maps.push('-map', '[vout]');
  }

  // Audio: each track delayed to its offset, all mixed at their own level (no normalization), padded with silence to the end.
  const audio = tracks.flatMap((t, i) => (t.kind === 'audio' ? [{ t, i }] : []));
  if (audio.length > 0) {
    for (const { t, i } of audio) {
      // An Ogg Opus track has every packet from its first (holes filled with silence): its time 0 is its first packet.
      filters.push(`[${i}:a:0]asetpts=PTS-STARTPTS,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,adelay=${t.startOffsetMs}:all=1[a${i}]`);
    }
    filters.push(`${audio.map(({ i }) => `[a${i}]`).join('')}amix=inputs=${audio.length}:normalize=0:duration=longest,apad[aout]`);
    maps.push('-map', '[aout]');
  }

  args.push('-filter_complex', filters.join(';'), ...maps);
  if (tiles.length > 0) {
    const bitrate = Math.round((VIDEO_BITS_PER_PIXEL * width * height * fps) / 25 / 1000);
    // realtime + cpu-used 8: libvpx's fastest mode, several times faster than "good" (which
    // would be better per bit); a mix is a one-off job on a machine that may still be recording.
    args.push('-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', `${bitrate}k`, '-g', String(fps * 5), '-pix_fmt', 'yuv420p');
  }
  if (audio.length > 0) args.push('-c:a', 'libopus', '-b:a', AUDIO_BITRATE);
  args.push('-t', seconds(durationMs), '-f', 'webm', `file:${out}`);

  return { args, inputs, durationMs, audioTracks: audio.length, tiles, grid };
}

export interface MixRecordingOptions {
  /** Output file; default `<dir>/mix.webm`. */
  out?: string;
  /** Default `FFMPEG_BIN`, else `ffmpeg`. */
  ffmpegBin?: string;
  width?: number;
  height?: number;
}

export interface MixResult {
  out: string;
  plan: MixPlan;
  /** Files of tracks with media that are not in the folder, or empty, left out of the mix. */
  skipped: string[];
}

/** Reads `<dir>/manifest.json`: the `Recording` record, with the few fields the recorder adds to it (version, writtenBy, writtenAt). */
export async function readManifest(dir: string): Promise<Recording> {
  const file = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MixError(code === 'ENOENT' ? `no manifest: ${file} does not exist (is ${dir} a recording's folder?)` : `cannot read ${file}: ${String(err)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MixError(`${file} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new MixError(`${file} is not a recording manifest`);
  const { version: _v, writtenBy: _b, writtenAt: _a, ...record } = json as Record<string, unknown>;
  const r = check(Recording, record);
  if (!r.ok) throw new MixError(`${file} is not a valid recording manifest:\n  ${r.errors.join('\n  ')}`);
  return r.value;
}

/** The last lines of what a process wrote, bounded in memory whatever it writes. */
class Tail {
  private text = '';
  constructor(private readonly max = 8192) {}
  push(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.max);
  }
  lines(n: number): string {
    return this.text.trimEnd().split('\n').slice(-n).join('\n');
  }
}

/** Mixes the recording in `dir` and resolves with the plan and the output's path. */
export async function runMix(dir: string, opts: MixRecordingOptions = {}): Promise<MixResult> {
  const manifest = await readManifest(dir);
  const out = resolve(opts.out ?? join(dir, 'mix.webm'));
  const planOpts = { out, ...(opts.width ? { width: opts.width } : {}), ...(opts.height ? { height: opts.height } : {}) };
  let plan = mixPlan(manifest, dir, planOpts); // checks every file name before anything is read
  // A video track whose packets never brought a key frame has no file (the writer opens it at the
  // first one); a file deleted after its upload is gone too: those are left out, and said so.
  const skipped: string[] = [];
  for (const file of plan.inputs) {
    const s = await stat(file).catch(() => undefined);
    if (!s?.isFile() || s.size === 0) skipped.push(file);
  }
  if (skipped.length === plan.inputs.length) {
    throw new MixError(`no track's file is in ${resolve(dir)} (${skipped.length} missing or empty, e.g. ${skipped[0]}): uploaded and deleted locally?`);
  }
  if (skipped.length > 0) {
    const folder = resolve(dir);
    plan = mixPlan({ ...manifest, tracks: manifest.tracks.filter((t) => !skipped.includes(join(folder, t.file))) }, dir, planOpts);
  }
  const bin = opts.ffmpegBin ?? (process.env['FFMPEG_BIN'] || 'ffmpeg');
  const stderr = new Tail();
  const code = await new Promise<number | string>((done, fail) => {
    const child = spawn(bin, plan.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => fail(new MixError(`cannot run ffmpeg "${bin}": ${err.message}`)));
    child.on('close', (c, signal) => done(c ?? signal ?? 'unknown'));
  });
  if (code !== 0) throw new MixError(`ffmpeg failed (${typeof code === 'number' ? `exit code ${code}` : code}):\n${stderr.lines(10) || '(no output)'}`);
  return { out, plan, skipped };
}

/** Mixes the recording in `dir` into one WebM file; resolves with its path (default `<dir>/mix.webm`). */
export async function mixRecording(dir: string, opts: MixRecordingOptions = {}): Promise<string> {
  return (await runMix(dir, opts)).out;
}
