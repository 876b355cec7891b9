/**
 * Mixes a finished recording into one WebM file (VP8 grid + Opus mix, re-encoded by ffmpeg):
 *   npm run recording:mix -- <recordingDir> [--out <file>] [--width 1280] [--height 720]
 * Uses FFMPEG_BIN (default ffmpeg). Exit codes: 0 done, 1 the mix failed (no manifest, no
 * track, a missing file, ffmpeg's error), 2 wrong usage.
 */
import { stat } from 'node:fs/promises';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MixError, runMix } from '../mix.js';

const USAGE = 'usage: npm run recording:mix -- <recordingDir> [--out <file>] [--width <px>] [--height <px>]';

function usage(message: string): never {
  process.stderr.write(`recording:mix: ${message}\n${USAGE}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { out: { type: 'string', short: 'o' }, width: { type: 'string' }, height: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (err) {
  usage(err instanceof Error ? err.message : String(err));
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (positionals.length !== 1) usage(positionals.length === 0 ? 'the recording folder is required' : 'one recording folder at a time');

function size(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 16 || n > 7680) usage(`--${name} must be a number of pixels from 16 to 7680`);
  return n;
}
const width = size('width', values.width);
const height = size('height', values.height);

// npm runs scripts from the package's folder: paths are the caller's, where npm was started (INIT_CWD).
const cwd = process.env['INIT_CWD'] || process.cwd();
const dir = resolve(cwd, positionals[0]!);
const started = Date.now();
try {
  const { out, plan, skipped } = await runMix(dir, {
    ...(values.out ? { out: resolve(cwd, values.out) } : {}),
    ...(width ? { width } : {}),
    ...(height ? { height } : {}),
  });
  for (const file of skipped) process.stderr.write(`recording:mix: warning: left out ${file} (missing or empty)\n`);
  const { size: bytes } = await stat(out);
  const streams = [
    plan.grid ? `video VP8 ${plan.tiles.length} tile${plan.tiles.length === 1 ? '' : 's'} (${plan.grid.cols}x${plan.grid.rows})` : undefined,
    plan.audioTracks ? `audio Opus ${plan.audioTracks} track${plan.audioTracks === 1 ? '' : 's'} mixed` : undefined,
  ].filter(Boolean);
  const shown = relative(cwd, out) || out;
  process.stdout.write(
    `${shown}: ${(plan.durationMs / 1000).toFixed(1)} s, ${streams.join(', ')}, ${(bytes / 1e6).toFixed(2)} MB (in ${((Date.now() - started) / 1000).toFixed(1)} s)\n`,
  );
} catch (err) {
  process.stderr.write(`recording:mix: ${err instanceof MixError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}
