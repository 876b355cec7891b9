// The mix post-step: the ffmpeg plan built from a manifest (grid sizes, a producer over two
// segments in one tile, audio only, refused file names), then a real mix of files ffmpeg made
// itself, checked with ffprobe and ffmpeg: streams, duration, clean decode, black before the
// video track starts, audio where only the later tone plays.
import { decodeErrors, haveCommands, probe, startFfmpegRtp } from '@strata/harness';
import { Recording, type RecordedTrack } from '@strata/protocol';
import { Value } from '@sinclair/typebox/value';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { TrackRecorder } from '../src/track-recorder.js';
import { gridFor, MixError, mixPlan, mixRecording, readManifest, runMix } from '../src/mix.js';

const run = promisify(execFile);
const STARTED_AT = 1_700_000_000_000;

function track(n: number, over: Partial<RecordedTrack> = {}): RecordedTrack {
  const kind = over.kind ?? 'video';
  return {
    trackId: `t${n}`,
    segment: 1,
    producerId: `p${n}`,
    peerId: `peer${n}`,
    identity: `user ${n}`,
    kind,
    codec: kind === 'audio' ? 'audio/opus' : 'video/VP8',
    file: `t${n}.${kind === 'audio' ? 'ogg' : 'webm'}`,
    startOffsetMs: 0,
    endOffsetMs: 1000,
    pauses: [],
    gaps: [],
    final: true,
    ...over,
  };
}

function recording(tracks: RecordedTrack[], over: Partial<Recording> = {}): Recording {
  return {
    recordingId: 'rec1',
    roomId: 'room1',
    region: 'local',
    status: 'done',
    requestedBy: 'admin',
    createdAt: STARTED_AT - 10,
    startedAt: STARTED_AT,
    stoppedAt: STARTED_AT + 4000,
    reason: 'stopped',
    segments: [{ segment: 1, recorderId: 'rec-a', startedAt: STARTED_AT, endedAt: STARTED_AT + 4000, end: 'stopped' }],
    gaps: [],
    tracks,
    ...over,
  };
}

const filterOf = (args: string[]) => args[args.indexOf('-filter_complex') + 1]!;
const overlays = (f: string) => [...f.matchAll(/overlay=x=(\d+):y=(\d+):eof_action=pass/g)].map((m) => [Number(m[1]), Number(m[2])]);

describe('recorder mix plan', () => {
  it('lays out 1, 2 side by side, 2x2, 3x2 and 3x3 grids', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 9, 10].map(gridFor), [
      { cols: 1, rows: 1 },
      { cols: 2, rows: 1 },
      { cols: 2, rows: 2 },
      { cols: 2, rows: 2 },
      { cols: 3, rows: 2 },
      { cols: 3, rows: 2 },
      { cols: 3, rows: 3 },
      { cols: 3, rows: 3 },
      { cols: 4, rows: 3 },
    ]);
  });

  it('plans 0 video producers: audio only, no video stream, each track delayed to its offset and mixed unnormalized', () => {
    const m = recording([track(1, { kind: 'audio', startOffsetMs: 0 }), track(2, { kind: 'audio', startOffsetMs: 1500, endOffsetMs: 3500 })]);
    const plan = mixPlan(m, '/rec', { out: '/rec/mix.webm' });
    const f = filterOf(plan.args);
    assert.equal(plan.tiles.length, 0);
    assert.equal(plan.grid, undefined);
    assert.equal(plan.audioTracks, 2);
    assert.equal(plan.durationMs, 3500);
    assert.ok(!f.includes('color=') && !f.includes('overlay') && !plan.args.includes('libvpx'), f);
    assert.match(f, /\[0:a:0\][^;]*adelay=0:all=1\[a0\]/);
    assert.match(f, /\[1:a:0\][^;]*adelay=1500:all=1\[a1\]/);
    assert.match(f, /\[a0\]\[a1\]amix=inputs=2:normalize=0:duration=longest/);
    assert.deepEqual(plan.args.slice(plan.args.indexOf('-map')), [
      '-map',
      '[aout]',
      '-c:a',
      'libopus',
      '-b:a',
      '96k',
      '-t',
      '3.500',
      '-f',
      'webm',
      'file:/rec/mix.webm',
    ]);
    assert.deepEqual(
      plan.args.filter((_, i) => plan.args[i - 1] === '-i'),
      ['file:/rec/t1.ogg', 'file:/rec/t2.ogg'],
    );
  });

  it('plans 1 video producer: one full-canvas tile over black lasting the whole recording, shifted to its offset', () => {
    const plan = mixPlan(recording([track(1, { startOffsetMs: 500, endOffsetMs: 2500 })]), '/rec', { out: '/out/m.webm' });
    const f = filterOf(plan.args);
    assert.deepEqual(plan.grid, { cols: 1, rows: 1, tileWidth: 1280, tileHeight: 720 });
    assert.match(f, /^color=c=black:s=1280x720:r=25:d=2\.500/);
    assert.match(f, /\[0:v:0\]scale=1280:720:[^;]*,setpts=PTS\+0\.500\/TB\[v0\];/);
    assert.ok(plan.args.indexOf('-copyts') < plan.args.indexOf('-i'));
    assert.deepEqual(plan.args.slice(plan.args.indexOf('-reinit_filter'), plan.args.indexOf('-reinit_filter') + 4), [
      '-reinit_filter',
      '0',
      '-i',
      'file:/rec/t1.webm',
    ]);
    assert.deepEqual(overlays(f), [[0, 0]]);
    assert.equal(plan.audioTracks, 0);
    assert.ok(!f.includes('amix') && !plan.args.includes('libopus'));
    assert.ok(plan.args.includes('libvpx') && plan.args.includes('realtime'));
  });

  it('plans 2 video producers side by side and 5 in a 3x2 grid, tiles in order of first appearance', () => {
    const two = mixPlan(recording([track(1, { startOffsetMs: 300 }), track(2, { startOffsetMs: 100 })]), '/rec', { out: '/rec/mix.webm' });
    assert.deepEqual(two.grid, { cols: 2, rows: 1, tileWidth: 640, tileHeight: 720 });
    assert.deepEqual(
      two.tiles.map((t) => [t.producerId, t.x, t.y]),
      [
        ['p2', 0, 0],
        ['p1', 640, 0],
      ],
    );
    const five = mixPlan(recording([1, 2, 3, 4, 5].map((n) => track(n, { startOffsetMs: n * 10 }))), '/rec', {
      out: '/rec/mix.webm',
      width: 1280,
      height: 720,
    });
    assert.deepEqual(five.grid, { cols: 3, rows: 2, tileWidth: 426, tileHeight: 360 });
    // 3 x 426 = 1278 px: the grid is centred, its 1 px margin rounded down to an even 0.
    assert.deepEqual(overlays(filterOf(five.args)), [
      [0, 0],
      [426, 0],
      [852, 0],
      [0, 360],
      [426, 360],
    ]);
    assert.equal(five.inputs.length, 5);
  });

  it('puts the tracks of one producer over two segments in the same tile, each at its own offset', () => {
    const m = recording(
      [
        track(1, { producerId: 'pa', startOffsetMs: 0, endOffsetMs: 2000 }),
        track(2, { producerId: 'pb', startOffsetMs: 100, endOffsetMs: 2000 }),
        track(3, { producerId: 'pa', segment: 2, startOffsetMs: 3000, endOffsetMs: 5000 }),
        track(4, { kind: 'audio', startOffsetMs: 3000, endOffsetMs: 5000, segment: 2 }),
        track(5, { producerId: 'pc', startOffsetMs: undefined, endOffsetMs: undefined }), // never got a packet: skipped
      ],
      {
        segments: [
          { segment: 1, recorderId: 'rec-a', startedAt: STARTED_AT, endedAt: STARTED_AT + 2500, end: 'lost' },
          { segment: 2, recorderId: 'rec-b', startedAt: STARTED_AT + 2900 },
        ],
        gaps: [{ fromMs: 2000, toMs: 2900 }],
      },
    );
    const plan = mixPlan(m, '/rec', { out: '/rec/mix.webm' });
    assert.equal(plan.tiles.length, 2);
    assert.deepEqual(plan.tiles[0], { producerId: 'pa', x: 0, y: 0, inputs: [0, 2] });
    assert.deepEqual(plan.tiles[1], { producerId: 'pb', x: 640, y: 0, inputs: [1] });
    const f = filterOf(plan.args);
    assert.match(f, /\[2:v:0\][^;]*setpts=PTS\+3\.000\/TB\[v2\]/);
    assert.deepEqual(overlays(f), [
      [0, 0],
      [0, 0],
      [640, 0],
    ]);
    assert.match(f, /\[3:a:0\][^;]*adelay=3000:all=1\[a3\];\[a3\]amix=inputs=1:/);
    assert.equal(plan.durationMs, 5000);
    assert.ok(!plan.inputs.some((i) => i.endsWith('t5.webm')));
  });

  it('never puts an identity in the filter graph, and refuses file names that leave the folder or pick an ffmpeg protocol', () => {
    const plan = mixPlan(recording([track(1, { identity: "x'[a];movie=/etc/passwd" })]), '/rec', { out: '/rec/mix.webm' });
    assert.ok(!plan.args.some((a) => a.includes('passwd')));
    for (const [file, why] of [
      ['../other/t1.webm', /"\.\."|a path/],
      ['sub/t1.webm', /a path/],
      ['/etc/passwd', /absolute/],
      ['..', /"\.\."/],
      ['concat:a.webm|b.webm', /only A-Z/],
      ['-', /only A-Z/],
      ['.hidden', /only A-Z/],
      ['a\\b.webm', /a path/],
    ] as const) {
      assert.throws(
        () => mixPlan(recording([track(1, { file })]), '/rec', { out: '/rec/mix.webm' }),
        (e: Error) => e instanceof MixError && why.test(e.message),
        file,
      );
    }
    assert.throws(() => mixPlan(recording([track(1, { startOffsetMs: undefined })]), '/rec', { out: '/rec/mix.webm' }), /no track with media/);
    assert.throws(() => mixPlan(recording([track(1)]), '/rec', { out: '/rec/t1.webm' }), /over one of the recording's files/);
  });
});

const skip = !(await haveCommands('ffmpeg', 'ffprobe')) && 'ffmpeg/ffprobe not installed';

describe('recorder mix with ffmpeg', { skip }, () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-rec-mix-'));
    const ff = (...args: string[]) => run('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { timeout: 30_000 });
    await Promise.all([
      ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:d=3', '-c:a', 'libopus', '-b:a', '48k', join(dir, 'a440.ogg')),
      ff('-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000:d=2', '-c:a', 'libopus', '-b:a', '48k', join(dir, 'a880.ogg')),
      ff(
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=25:d=3',
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-cpu-used',
        '8',
        '-b:v',
        '300k',
        join(dir, 'v1.webm'),
      ),
    ]);
    const record = recording(
      [
        track(1, {
          trackId: 'a440',
          producerId: 'pa1',
          peerId: 'alice',
          kind: 'audio',
          codec: 'audio/opus',
          file: 'a440.ogg',
          startOffsetMs: 0,
          endOffsetMs: 3000,
        }),
        track(2, {
          trackId: 'a880',
          producerId: 'pa2',
          peerId: 'bob',
          kind: 'audio',
          codec: 'audio/opus',
          file: 'a880.ogg',
          startOffsetMs: 1500,
          endOffsetMs: 3500,
        }),
        track(3, {
          trackId: 'v1',
          producerId: 'pv1',
          peerId: 'alice',
          kind: 'video',
          codec: 'video/VP8',
          file: 'v1.webm',
          startOffsetMs: 500,
          endOffsetMs: 3500,
        }),
      ],
      { stoppedAt: STARTED_AT + 3600, segments: [{ segment: 1, recorderId: 'rec-a', startedAt: STARTED_AT, endedAt: STARTED_AT + 3600, end: 'stopped' }] },
    );
    assert.ok(Value.Check(Recording, record), JSON.stringify([...Value.Errors(Recording, record)].slice(0, 3)));
    // As the recorder writes it: the record with its version and writer.
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: 1, writtenBy: 'rec-a', writtenAt: STARTED_AT + 3600, ...record }, null, 2));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('mixes two Opus tracks and a VP8 track into one WebM file that decodes cleanly, with black before the video and audio to the end', async () => {
    assert.equal((await readManifest(dir)).tracks.length, 3);
    const out = await mixRecording(dir, { width: 320, height: 240 });
    assert.equal(out, join(dir, 'mix.webm'));

    const p = await probe(out);
    assert.equal(p.format.format_name.split(',')[0], 'matroska');
    assert.deepEqual(p.streams.map((s) => [s.codec_type, s.codec_name]).sort(), [
      ['audio', 'opus'],
      ['video', 'vp8'],
    ]);
    const duration = Number(p.format.duration);
    assert.ok(Math.abs(duration - 3.5) <= 0.35, `duration ${duration}`);
    const video = p.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(video.width, 320);
    assert.ok(Number(video.nb_read_frames) >= 80, `${video.nb_read_frames} frames`);

    const dec = await decodeErrors(out);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '');

    // Black until the video track starts at 0.5 s, then the test pattern to the end.
    const { stderr: bd } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-i', out, '-vf', 'blackdetect=d=0.1:pix_th=0.1', '-an', '-f', 'null', '-'], {
      timeout: 30_000,
    });
    const black = [...bd.matchAll(/black_start:([\d.]+) black_end:([\d.]+)/g)].map((m) => ({ from: Number(m[1]), to: Number(m[2]) }));
    assert.equal(black.length, 1, bd.slice(-1500));
    const [{ from, to }] = black as [{ from: number; to: number }];
    // WebM starts a few ms in (the Opus pre-skip shifts the timeline), so "0" is about 0.
    assert.ok(from <= 0.05, `black from ${from}`);
    assert.ok(to >= 0.4 && to <= 0.7, `black until ${to}`);

    // Audio: the 440 Hz alone (0-1.5 s), both (1.5-3 s), the 880 Hz alone (3-3.5 s), told apart
    // by filters that keep one tone and take the other about 20 dB down. lavfi's sine is 1/8 of
    // full scale, about -21 dB RMS (-27 through the filter); silence is -inf.
    const low = 'lowpass=f=600,lowpass=f=600,lowpass=f=600';
    const high = 'highpass=f=700,highpass=f=700,highpass=f=700';
    const heard = async (ss: number, t: number, band: string) => (await windowRms(out, ss, t, band)) > -38;
    const windows = [
      [0.1, 1.2, true, false],
      [1.7, 1.1, true, true],
      [3.1, 0.3, false, true],
    ] as const;
    for (const [ss, t, tone440, tone880] of windows) {
      assert.ok((await windowRms(out, ss, t)) > -30, `audio at ${ss} s`);
      assert.equal(await heard(ss, t, low), tone440, `440 Hz ${tone440 ? '' : 'not '}heard from ${ss} s for ${t} s`);
      assert.equal(await heard(ss, t, high), tone880, `880 Hz ${tone880 ? '' : 'not '}heard from ${ss} s for ${t} s`);
    }
  });

  it('keeps offsets and the audio mix when a VP8 track changes resolution mid-stream (a WebRTC sender adapting)', async () => {
    const sub = join(dir, 'resize');
    mkdirSync(sub);
    const ff = (...args: string[]) => run('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...args], { cwd: sub, timeout: 30_000 });
    await Promise.all([
      ff('-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25:d=1.5', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', 'big.webm'),
      ff('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:d=1.5', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', 'small.webm'),
    ]);
    writeFileSync(join(sub, 'list.txt'), 'file big.webm\nfile small.webm\n');
    await ff('-f', 'concat', '-i', 'list.txt', '-c', 'copy', 'v.webm'); // one VP8 stream, 320x240 then 160x120
    copyFileSync(join(dir, 'a880.ogg'), join(sub, 'a880.ogg'));
    const record = recording([
      track(1, { trackId: 'a880', kind: 'audio', file: 'a880.ogg', startOffsetMs: 1500, endOffsetMs: 3500 }),
      track(2, { trackId: 'v', kind: 'video', file: 'v.webm', startOffsetMs: 500, endOffsetMs: 3500 }),
    ]);
    writeFileSync(join(sub, 'manifest.json'), JSON.stringify(record));
    const out = await mixRecording(sub, { width: 320, height: 240 });

    // Without -reinit_filter 0, ffmpeg rebuilt the graph at the size change: the video went black and the audio silent from there.
    const { stderr: bd } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-i', out, '-vf', 'blackdetect=d=0.1:pix_th=0.1', '-an', '-f', 'null', '-'], {
      timeout: 30_000,
    });
    const black = [...bd.matchAll(/black_start:([\d.]+) black_end:([\d.]+)/g)].map((m) => Number(m[2]));
    assert.equal(black.length, 1, bd.slice(-1500));
    assert.ok(black[0]! >= 0.4 && black[0]! <= 0.7, `black until ${black[0]}`);
    assert.ok((await windowRms(out, 0.5, 0.8)) < -60, 'silence before the 880 Hz track');
    assert.ok((await windowRms(out, 3.1, 0.3)) > -30, 'the 880 Hz track to its end');
    assert.equal((await decodeErrors(out)).code, 0);
  });

  it("places a video track by its file's own times: a first key frame 1 s after the first packet shows 1 s after the offset", async () => {
    const sub = join(dir, 'late');
    mkdirSync(sub);
    // What the recorder writes when the key frame came late: frame times count from the track's first packet.
    await run(
      'ffmpeg',
      [
        '-nostdin',
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=320x240:rate=25:d=1',
        '-c:v',
        'libvpx',
        '-deadline',
        'realtime',
        '-output_ts_offset',
        '1',
        join(sub, 'late.webm'),
      ],
      { timeout: 30_000 },
    );
    writeFileSync(join(sub, 'manifest.json'), JSON.stringify(recording([track(1, { file: 'late.webm', startOffsetMs: 500, endOffsetMs: 2500 })])));
    const out = await mixRecording(sub, { width: 320, height: 240 });
    const black = await blackSpans(out);
    assert.equal(black.length, 1);
    assert.ok(black[0]!.to >= 1.4 && black[0]!.to <= 1.7, `black until ${black[0]!.to}`);
  });

  it("mixes the recorder's own files: TrackRecorder fed by ffmpeg's Opus and VP8 RTP on loopback", async () => {
    const sub = join(dir, 'recorded');
    mkdirSync(sub);
    const startedAt = Date.now();
    const recordOne = async (kind: 'audio' | 'video', n: number) => {
      const pt = kind === 'audio' ? 111 : 96;
      const rec = await TrackRecorder.start({ kind, payloadType: pt, basePath: join(sub, `t${n}`), host: '127.0.0.1' });
      const ff = startFfmpegRtp({ kind, host: '127.0.0.1', port: rec.port, payloadType: pt, ssrc: 1000 + n, durationS: 2 });
      try {
        assert.equal(await ff.exited, 0, ff.proc.tail());
        await sleep(300);
      } finally {
        await ff.stop();
      }
      const stats = await rec.close();
      return track(n, {
        kind,
        file: basename(rec.file),
        startOffsetMs: stats.firstPacketAt! - startedAt,
        endOffsetMs: stats.lastPacketAt! - startedAt,
      });
    };
    const tracks = await Promise.all([recordOne('audio', 1), recordOne('video', 2)]);
    writeFileSync(join(sub, 'manifest.json'), JSON.stringify(recording(tracks, { startedAt })));
    const out = await mixRecording(sub, { width: 320, height: 240 });
    const p = await probe(out);
    assert.deepEqual(p.streams.map((s) => s.codec_name).sort(), ['opus', 'vp8']);
    const end = Math.max(...tracks.map((t) => t.endOffsetMs!)) / 1000;
    assert.ok(Math.abs(Number(p.format.duration) - end) <= 0.25, `duration ${p.format.duration}, tracks end at ${end}`);
    const dec = await decodeErrors(out);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(dec.stderr.trim(), '');
    assert.ok((await windowRms(out, tracks[0]!.startOffsetMs! / 1000 + 0.2, 1)) > -30);
  });

  it('fails clearly without a manifest, without any track file, with the last lines of ffmpeg when it fails; leaves out a track without a file', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'strata-rec-mix-empty-'));
    try {
      await assert.rejects(mixRecording(empty), (e: Error) => e instanceof MixError && /no manifest/.test(e.message));
      const record = recording([track(1, { file: 'broken.webm' })]);
      writeFileSync(join(empty, 'manifest.json'), JSON.stringify(record));
      await assert.rejects(mixRecording(empty), /no track's file is in .*\(1 missing or empty, e\.g\. .*broken\.webm\)/);
      writeFileSync(join(empty, 'broken.webm'), 'not a webm file');
      await assert.rejects(mixRecording(empty), (e: Error) => e instanceof MixError && /^ffmpeg failed \(exit code \d+\):\n.+/.test(e.message));
      // A video track that never got a key frame has no file: left out, the rest mixed.
      copyFileSync(join(dir, 'a880.ogg'), join(empty, 'a880.ogg'));
      writeFileSync(join(empty, 'manifest.json'), JSON.stringify(recording([track(1, { file: 'nokey.webm' }), track(2, { kind: 'audio', file: 'a880.ogg' })])));
      const r = await runMix(empty);
      assert.deepEqual(r.skipped, [join(empty, 'nokey.webm')]);
      assert.deepEqual(
        (await probe(r.out)).streams.map((s) => s.codec_name),
        ['opus'],
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

/** Black spans of the video (blackdetect), seconds. */
async function blackSpans(file: string): Promise<{ from: number; to: number }[]> {
  const { stderr } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-i', file, '-vf', 'blackdetect=d=0.1:pix_th=0.1', '-an', '-f', 'null', '-'], {
    timeout: 30_000,
  });
  return [...stderr.matchAll(/black_start:([\d.]+) black_end:([\d.]+)/g)].map((m) => ({ from: Number(m[1]), to: Number(m[2]) }));
}

/** RMS (dB) of the decoded audio from `ss` for `t` seconds, through `filter` if given. */
async function windowRms(file: string, ss: number, t: number, filter?: string): Promise<number> {
  const af = `${filter ? `${filter},` : ''}astats=measure_perchannel=none`;
  const { stderr } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-ss', String(ss), '-t', String(t), '-i', file, '-vn', '-af', af, '-f', 'null', '-'], {
    timeout: 30_000,
  });
  const m = /Overall[\s\S]*?RMS level dB:\s*(-?inf|-?[\d.]+)/i.exec(stderr);
  if (!m) throw new Error(`no RMS level in:\n${stderr.slice(-1500)}`);
  return /inf/i.test(m[1]!) ? -Infinity : Number(m[1]);
}
