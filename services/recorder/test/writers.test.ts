// The Ogg Opus and WebM writers checked by the tools that will play their files: ffprobe reads
// back the structure, ffmpeg decodes every packet without an error, and a copy taken mid-write
// (what kill -9 leaves) is still readable with its duration.
import { decodeErrors, probe } from '@strata/harness';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { OPUS_SILENCE_20MS, OggOpusWriter, oggCrc32, opusHead, opusPacketSamples } from '../src/ogg-opus-writer.js';
import { parseVp8KeyFrame } from '../src/vp8-depacketizer.js';
import { WebmWriter } from '../src/webm-writer.js';

const run = promisify(execFile);

interface EbmlTag {
  name: string;
  start: number;
  value?: number | string;
  data?: Buffer;
}
// An EBML reader we did not write (npm `ebml`, CommonJS without types): every element with its offset.
const { Decoder } = createRequire(import.meta.url)('ebml') as { Decoder: new () => NodeJS.ReadWriteStream };
async function ebmlElements(file: string): Promise<EbmlTag[]> {
  const out: EbmlTag[] = [];
  const d = new Decoder();
  d.on('data', ([type, tag]: [string, EbmlTag]) => {
    if (type !== 'end') out.push(tag);
  });
  const done = new Promise((resolve, reject) => d.on('finish', resolve).on('error', reject));
  d.end(readFileSync(file));
  await done;
  return out;
}

/**
 * What a player that seeks by the index finds: the SeekHead's Info, Tracks and Cues, each at the
 * position it names, and one cue per cluster it expects, each at a Cluster of its CueTime.
 */
async function assertSeekable(file: string, clusters: number, cueTrack: number): Promise<void> {
  const els = await ebmlElements(file);
  const segment = els.findIndex((e) => e.name === 'Segment');
  const dataStart = els[segment + 1]!.start;
  const at = (pos: number) => els.find((e) => e.start === dataStart + pos && e.name !== 'Segment');
  const seekIds = els.filter((e) => e.name === 'SeekID').map((e) => e.data!.toString('hex'));
  const seekPositions = els.filter((e) => e.name === 'SeekPosition').map((e) => Number(e.value));
  assert.deepEqual(seekIds, ['1549a966', '1654ae6b', '1c53bb6b'], 'Info, Tracks, Cues');
  assert.deepEqual(
    seekPositions.map((p) => at(p)?.name),
    ['Info', 'Tracks', 'Cues'],
  );
  const times = els.filter((e) => e.name === 'CueTime').map((e) => Number(e.value));
  const positions = els.filter((e) => e.name === 'CueClusterPosition').map((e) => Number(e.value));
  assert.equal(times.length, clusters, `${times.length} cue points`);
  assert.deepEqual(
    els.filter((e) => e.name === 'CueTrack').map((e) => Number(e.value)),
    times.map(() => cueTrack),
  );
  for (const [i, pos] of positions.entries()) {
    const cluster = at(pos);
    assert.equal(cluster?.name, 'Cluster', `cue ${i} at ${pos}`);
    const timecode = els[els.indexOf(cluster!) + 1];
    assert.equal(timecode?.name, 'Timecode');
    assert.equal(Number(timecode.value), times[i], `cue ${i}'s time is its cluster's`);
  }
}
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-rec-writers-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('recorder ogg opus writer', () => {
  it('computes the Ogg CRC that ffmpeg wrote on its own pages', async () => {
    const f = join(dir, 'ffmpeg.ogg');
    await run('ffmpeg', ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '0.3', '-c:a', 'libopus', f]);
    const file = readFileSync(f);
    let pages = 0;
    for (let off = 0; off < file.length; pages++) {
      assert.equal(file.toString('latin1', off, off + 4), 'OggS');
      const nseg = file[off + 26]!;
      let len = 27 + nseg;
      for (let i = 0; i < nseg; i++) len += file[off + 27 + i]!;
      const page = Buffer.from(file.subarray(off, off + len));
      const stored = page.readUInt32LE(22);
      page.writeUInt32LE(0, 22);
      assert.equal(oggCrc32(page), stored, `page ${pages}`);
      off += len;
    }
    assert.ok(pages >= 3, `${pages} pages`);
  });

  it('reads the samples of Opus packets from their TOC byte', () => {
    assert.equal(opusPacketSamples(OPUS_SILENCE_20MS), 960);
    assert.equal(opusPacketSamples(Buffer.from([0x78])), 960); // SILK WB 20 ms
    assert.equal(opusPacketSamples(Buffer.from([0xe1])), 240); // CELT 2.5 ms, two frames
    assert.equal(opusPacketSamples(Buffer.from([0xfb, 0x03])), 2880); // CELT 20 ms, code 3, 3 frames
    assert.equal(opusPacketSamples(Buffer.from([0xfb, 0x07])), undefined); // 140 ms: over 120
    assert.equal(opusPacketSamples(Buffer.alloc(0)), undefined);
  });

  it('writes a file ffprobe reads as Opus and ffmpeg decodes without errors, holes filled with silence to keep the timeline', async () => {
    const f = join(dir, 'gaps.ogg');
    const w = new OggOpusWriter(f, { serial: 1 });
    let ts = 0xffff_f000; // wraps past 2^32 within the first second
    for (let i = 0; i < 50; i++, ts += 960) w.write(OPUS_SILENCE_20MS, ts >>> 0);
    ts += 48_000; // a one-second hole
    for (let i = 0; i < 50; i++, ts += 960) w.write(OPUS_SILENCE_20MS, ts >>> 0);
    assert.equal(w.write(Buffer.alloc(0), ts), false);
    const stats = await w.close();
    assert.equal(stats.packets, 100);
    assert.equal(stats.silencePackets, 50);
    assert.equal(await w.close(), await w.close(), 'close is idempotent');
    const p = await probe(f);
    assert.equal(p.streams[0]?.codec_name, 'opus');
    assert.equal(p.streams[0]?.channels, 2);
    assert.ok(Math.abs(Number(p.format.duration) - 3) < 0.05, `duration ${p.format.duration}`);
    assert.deepEqual(await decodeErrors(f), { code: 0, stderr: '' });
  });

  it('bounds the silence for a huge hole', async () => {
    const f = join(dir, 'bounded.ogg');
    const w = new OggOpusWriter(f, { maxFillMs: 2000 });
    w.write(OPUS_SILENCE_20MS, 0);
    w.write(OPUS_SILENCE_20MS, 48_000 * 3600); // an hour later
    w.write(OPUS_SILENCE_20MS, 48_000 * 3600 + 960);
    const stats = await w.close();
    assert.equal(stats.silencePackets, 100);
    const duration = Number((await probe(f)).format.duration);
    assert.ok(Math.abs(duration - 2.06) < 0.03, `duration ${duration}`);
  });
});

/** VP8 frames from ffmpeg's IVF output (32-byte file header, then 12-byte frame headers). */
async function vp8Frames(seconds: number): Promise<{ data: Buffer; pts: number }[]> {
  const f = join(dir, 'src.ivf');
  await run('ffmpeg', [
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=25',
    '-t',
    String(seconds),
    '-c:v',
    'libvpx',
    '-g',
    '25',
    '-b:v',
    '300k',
    f,
  ]);
  const b = readFileSync(f);
  const out = [];
  for (let off = b.readUInt16LE(6); off + 12 <= b.length;) {
    const size = b.readUInt32LE(off);
    out.push({ pts: Number(b.readBigUInt64LE(off + 4)), data: b.subarray(off + 12, off + 12 + size) });
    off += 12 + size;
  }
  return out;
}

describe('recorder webm writer', () => {
  it('writes VP8 that ffprobe reads back (codec, size, duration, every frame) and a mid-write copy that is still readable', async () => {
    const frames = await vp8Frames(4);
    assert.equal(frames.length, 100);
    const key = parseVp8KeyFrame(frames[0]!.data);
    assert.ok(key, 'first frame is a key frame');
    const f = join(dir, 'video.webm');
    const w = new WebmWriter(f, { tracks: [{ number: 1, kind: 'video', codecId: 'V_VP8', width: key.width, height: key.height }] });
    const copy = join(dir, 'video-truncated.webm');
    for (const [i, fr] of frames.entries()) {
      w.writeFrame(1, 500 + fr.pts * 40, parseVp8KeyFrame(fr.data) !== undefined, fr.data);
      if (i === 60) copyFileSync(f, copy); // 61 frames in, the last cluster still open
    }
    const stats = await w.close();
    assert.equal(stats.clusters, 4, 'a cluster per key frame');
    const p = await probe(f);
    const s = p.streams[0]!;
    assert.equal(s.codec_name, 'vp8');
    assert.equal(s.width, 320);
    assert.equal(s.height, 240);
    assert.equal(Number(s.nb_read_frames), 100);
    assert.ok(Math.abs(Number(p.format.duration) - 4.5) < 0.1, `duration ${p.format.duration}`);
    assert.deepEqual(await decodeErrors(f), { code: 0, stderr: '' });
    await assertSeekable(f, 4, 1);
    // ffmpeg seeks into the last cluster and decodes from its key frame.
    const seek = await run('ffmpeg', ['-nostdin', '-v', 'error', '-ss', '3.6', '-i', f, '-frames:v', '1', '-f', 'framemd5', '-']);
    assert.match(seek.stdout, /^0,\s+\d+,/m);

    // The copy has Duration as patched when its last cluster began (frame 50: 2.5 s) and frames up to 61.
    const t = await probe(copy);
    assert.equal(t.streams[0]?.codec_name, 'vp8');
    assert.ok(Math.abs(Number(t.format.duration) - 2.5) < 0.1, `truncated duration ${t.format.duration}`);
    assert.equal(Number(t.streams[0]?.nb_read_frames), 61);
    assert.equal((await decodeErrors(copy)).code, 0);
    // What a killed recorder leaves: the reserved space still a Void, no Cues.
    const partial = await ebmlElements(copy);
    assert.ok(!partial.some((e) => e.name === 'Cues' || e.name === 'SeekHead'));
    assert.ok(partial.some((e) => e.name === 'Void'));
  });

  it('takes an Opus track beside the VP8 one (the design for a muxed recording)', async () => {
    const frames = await vp8Frames(2);
    const f = join(dir, 'av.webm');
    const w = new WebmWriter(f, {
      tracks: [
        { number: 1, kind: 'video', codecId: 'V_VP8', width: 320, height: 240 },
        { number: 2, kind: 'audio', codecId: 'A_OPUS', channels: 2, sampleRate: 48_000, codecPrivate: opusHead(2, 312) },
      ],
    });
    // Interleaved in time order: a video frame every 40 ms, two 20 ms Opus packets beside it.
    for (const fr of frames) {
      w.writeFrame(1, fr.pts * 40, parseVp8KeyFrame(fr.data) !== undefined, fr.data);
      w.writeFrame(2, fr.pts * 40, true, OPUS_SILENCE_20MS);
      w.writeFrame(2, fr.pts * 40 + 20, true, OPUS_SILENCE_20MS);
    }
    const stats = await w.close();
    assert.equal(stats.clusters, 2, 'Opus frames do not start clusters');
    const p = await probe(f);
    assert.deepEqual(p.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
    assert.equal(Number(p.streams.find((s) => s.codec_name === 'opus')?.nb_read_frames), 100);
    assert.deepEqual(await decodeErrors(f), { code: 0, stderr: '' });
    await assertSeekable(f, 2, 1);
  });
});
