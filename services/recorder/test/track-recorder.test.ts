// TrackRecorder end to end with real encoders: ffmpeg's Opus and VP8 RTP on loopback into .ogg and
// .webm files, checked by ffprobe and ffmpeg; the same through a lossy, reordering relay (files
// still decode, gaps reported, PLIs reach the sender's side); copies taken while writing (what
// kill -9 leaves) still readable with their duration; garbage on the port counted, never fatal.
import { audioRms, decodeErrors, haveCommands, isRtcp, probe, rtpPacket, startFfmpegRtp } from '@strata/harness';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isPli, parseRtcpHeaders } from '../src/rtp.js';
import { TrackRecorder, type TrackKind, type TrackStats } from '../src/track-recorder.js';

const HOST = '127.0.0.1';
const OPUS_PT = 111;
const VP8_PT = 96;
const SECONDS = 3;
/** lavfi's sine is 1/8 of full scale: about -21 dB RMS. Digital silence is -inf, a stream of silence frames the same. */
const MIN_TONE_RMS_DB = -30;

let dir: string;
const skip = !(await haveCommands('ffmpeg', 'ffprobe')) && 'ffmpeg/ffprobe not installed';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-rec-track-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Recorded {
  stats: TrackStats;
  /** Copies of the file taken while it was being written, with the media seconds sent by then. */
  copies: { file: string; atS: number }[];
}

/** ffmpeg → (relay?) → TrackRecorder for SECONDS, copying the file mid-way. */
async function record(
  kind: TrackKind,
  name: string,
  opts: { via?: (recorderPort: number) => Promise<Relay>; copyAtS?: number[] } = {},
): Promise<Recorded & { relay?: Relay }> {
  const rec = await TrackRecorder.start({ kind, payloadType: kind === 'audio' ? OPUS_PT : VP8_PT, basePath: join(dir, name), host: HOST });
  const relay = opts.via ? await opts.via(rec.port) : undefined;
  const target = relay?.port ?? rec.port;
  const ff = startFfmpegRtp({
    kind,
    host: HOST,
    port: target,
    payloadType: kind === 'audio' ? OPUS_PT : VP8_PT,
    ssrc: kind === 'audio' ? 1111 : 2222,
    durationS: SECONDS,
  });
  const copies: Recorded['copies'] = [];
  try {
    // ffmpeg takes a few hundred ms to start sending; time the copies from the first packet.
    const t0 = await until(() => rec.stats.firstPacketAt);
    for (const at of opts.copyAtS ?? []) {
      await sleep(Math.max(0, t0 + at * 1000 - Date.now()));
      const file = join(dir, `${name}-at-${at}s.${kind === 'audio' ? 'ogg' : 'webm'}`);
      copyFileSync(rec.file, file);
      copies.push({ file, atS: at });
    }
    const code = await ff.exited;
    assert.equal(code, 0, ff.proc.tail());
    await sleep(300); // the last datagrams and the jitter buffer's hold
  } finally {
    await ff.stop();
    relay?.close();
  }
  const stats = await rec.close();
  assert.deepEqual(await rec.close(), stats, 'close is idempotent');
  return { stats, copies, ...(relay ? { relay } : {}) };
}

async function until<T>(probeFn: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probeFn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await sleep(10);
  }
}

interface Relay {
  port: number;
  forwarded: number;
  dropped: number;
  swapped: number;
  plisBack: number;
  close(): void;
}

/**
 * Between ffmpeg and the recorder: drops every 20th RTP packet (5 %) and swaps every 13th with the
 * next one; counts the PLIs the recorder sends back (they come to the relay's forwarding socket,
 * the address the recorder sees the RTP from).
 */
async function lossyRelay(recorderPort: number): Promise<Relay> {
  const inbound: Socket = createSocket('udp4');
  const outbound: Socket = createSocket('udp4');
  await Promise.all([new Promise<void>((r) => inbound.bind(0, HOST, r)), new Promise<void>((r) => outbound.bind(0, HOST, r))]);
  const relay: Relay = { port: inbound.address().port, forwarded: 0, dropped: 0, swapped: 0, plisBack: 0, close: () => (inbound.close(), outbound.close()) };
  let n = 0;
  let held: Buffer | undefined;
  const send = (m: Buffer) => {
    relay.forwarded++;
    outbound.send(m, recorderPort, HOST);
  };
  inbound.on('message', (m) => {
    if (isRtcp(m)) return send(m);
    n++;
    if (n % 20 === 0) {
      relay.dropped++;
      // A packet held for a swap goes now: it is swapped, not delayed past the jitter buffer's hold.
      if (held) send(held);
      held = undefined;
      return;
    }
    if (held) {
      send(m);
      send(held);
      held = undefined;
      relay.swapped++;
    } else if (n % 13 === 0) held = m;
    else send(m);
  });
  outbound.on('message', (m) => {
    if (isRtcp(m)) relay.plisBack += parseRtcpHeaders(m).filter(isPli).length;
  });
  return relay;
}

const near = (actual: number, expected: number, tolerance: number) => Math.abs(actual - expected) <= tolerance;

describe('recorder track: real ffmpeg RTP', { skip }, () => {
  it('records ffmpeg Opus into an .ogg of the right length and level, readable mid-write', async () => {
    const { stats, copies } = await record('audio', 'tone', { copyAtS: [2] });
    assert.equal(stats.ssrc, 1111);
    assert.ok(stats.packetsReceived >= SECONDS * 50 * 0.95, `received ${stats.packetsReceived}`);
    assert.equal(stats.lost, 0);
    assert.equal(stats.packetsWritten, stats.packetsReceived);
    assert.ok(stats.rtcpReceived > 0, 'ffmpeg sender reports arrive on the muxed port');
    const p = await probe(stats.file);
    assert.equal(p.streams[0]?.codec_name, 'opus');
    assert.ok(near(Number(p.format.duration), SECONDS, SECONDS * 0.1), `duration ${p.format.duration}`);
    assert.deepEqual(await decodeErrors(stats.file), { code: 0, stderr: '' });
    const rms = await audioRms(stats.file);
    assert.ok(rms > MIN_TONE_RMS_DB, `RMS ${rms} dB`);

    // Pages are flushed every second of audio: the copy at 2 s has between 1 and 2 s.
    const c = copies[0]!;
    const d = Number((await probe(c.file)).format.duration);
    assert.ok(d >= c.atS - 1.1 && d <= c.atS + 0.1, `copy at ${c.atS}s: duration ${d}`);
    assert.equal((await decodeErrors(c.file)).code, 0);
  });

  it('records ffmpeg VP8 into a .webm with its size, length and ≥ 90 % of the frames, readable mid-write', async () => {
    const { stats, copies } = await record('video', 'pattern', { copyAtS: [2.2] });
    assert.equal(stats.width, 320);
    assert.equal(stats.height, 240);
    assert.equal(stats.lost, 0);
    assert.ok(stats.keyFrames >= SECONDS, `key frames ${stats.keyFrames}`);
    assert.equal(stats.packetsWritten, stats.packetsReceived, 'every packet of every frame is in the file');
    assert.equal(stats.framesDropped, 0);
    const p = await probe(stats.file);
    const s = p.streams[0]!;
    assert.equal(s.codec_name, 'vp8');
    assert.equal(s.width, 320);
    assert.equal(s.height, 240);
    assert.ok(near(Number(p.format.duration), SECONDS, SECONDS * 0.1), `duration ${p.format.duration}`);
    assert.ok(Number(s.nb_read_frames) >= SECONDS * 25 * 0.9, `decoded ${s.nb_read_frames} frames`);
    assert.deepEqual(await decodeErrors(stats.file), { code: 0, stderr: '' });

    // Duration is patched at each cluster (a key frame each second): the copy says at least the last whole second.
    const c = copies[0]!;
    const t = await probe(c.file);
    const d = Number(t.format.duration);
    assert.ok(d >= c.atS - 1.3 && d <= c.atS + 0.1, `copy at ${c.atS}s: duration ${d}`);
    assert.ok(Number(t.streams[0]?.nb_read_frames) >= (c.atS - 0.6) * 25, `copy decodes ${t.streams[0]?.nb_read_frames} frames`);
  });

  it('through 5 % loss and reordering: files decode cleanly, gaps are reported, and video PLIs reach the sender side', async () => {
    const [audio, video] = await Promise.all([record('audio', 'lossy-tone', { via: lossyRelay }), record('video', 'lossy-pattern', { via: lossyRelay })]);
    for (const r of [audio, video]) {
      const { stats, relay } = r;
      assert.ok(relay && relay.dropped > 0 && relay.swapped > 0, `relay ${JSON.stringify(relay)}`);
      // A drop of the very last packet is not seen as a loss: no later packet shows the hole.
      assert.ok(stats.lost <= relay.dropped && stats.lost >= relay.dropped - 1, `${stats.kind}: lost ${stats.lost}, dropped ${relay.dropped}`);
      assert.equal(stats.late, 0, `${stats.kind}: a swap is repaired, not declared lost`);
      assert.equal(stats.gaps.length, stats.lost, 'every 20th packet: each loss its own gap');
      for (const g of stats.gaps) assert.ok(g.startMs >= 0 && g.startMs <= SECONDS * 1000 + 500 && g.durationMs >= 0 && g.durationMs <= 200, JSON.stringify(g));
      const dec = await decodeErrors(stats.file);
      assert.equal(dec.code, 0, dec.stderr);
      assert.doesNotMatch(dec.stderr, /invalid|corrupt|error/i, `${stats.kind}: ${dec.stderr}`);
      const duration = Number((await probe(stats.file)).format.duration);
      // Audio keeps its length (holes filled with silence). Video ends at its last decodable frame: after a loss every frame is
      // dropped until a key frame, and ffmpeg ignores PLIs (a browser answers them), so its last second may be cut.
      if (stats.kind === 'audio') assert.ok(near(duration, SECONDS, SECONDS * 0.1), `audio: duration ${duration}`);
      else assert.ok(duration >= 1 && duration <= SECONDS * 1.1, `video: duration ${duration}`);
    }
    assert.equal(audio.stats.plisSent, 0, 'no key-frame requests for audio');
    assert.ok(video.stats.plisSent > 0, 'PLIs sent');
    assert.ok(video.stats.framesDropped > 0, 'frames dropped');
    assert.equal(video.relay!.plisBack, video.stats.plisSent, 'every PLI reaches the relay');
    const rms = await audioRms(audio.stats.file);
    assert.ok(rms > MIN_TONE_RMS_DB, `RMS ${rms} dB`);
  });
});

describe('recorder track: hostile input', () => {
  it('counts malformed datagrams, other SSRCs and payload types, and writes only the configured stream', async () => {
    const rec = await TrackRecorder.start({ kind: 'audio', payloadType: OPUS_PT, basePath: join(dir, 'hostile'), host: HOST });
    const s = createSocket('udp4');
    const send = (b: Buffer) => new Promise<void>((r) => s.send(b, rec.port, HOST, () => r()));
    const silence = Buffer.from([0xf8, 0xff, 0xfe]);
    await send(Buffer.from([1, 2, 3]));
    await send(Buffer.alloc(40, 0xff));
    for (let i = 0; i < 5; i++) await send(rtpPacket({ pt: OPUS_PT, seq: i, ts: i * 960, ssrc: 7, payload: silence }));
    await send(rtpPacket({ pt: OPUS_PT, seq: 9, ts: 0, ssrc: 8, payload: silence }));
    await send(rtpPacket({ pt: 0, seq: 5, ts: 5 * 960, ssrc: 7, payload: silence }));
    await send(rtpPacket({ pt: OPUS_PT, seq: 6, ts: 6 * 960, ssrc: 7, payload: Buffer.alloc(0) }));
    await until(() => (rec.stats.packetsReceived + rec.stats.otherSsrc + rec.stats.otherPayloadType >= 8 ? true : undefined));
    const st = await rec.close();
    s.close();
    assert.equal(st.malformed, 2, 'too short, and version 3');
    assert.equal(st.otherSsrc, 1);
    assert.equal(st.otherPayloadType, 1);
    assert.equal(st.packetsWritten, 5, 'the padding-only packet is not written');
    assert.equal(st.lost, 1, 'the other payload type left a hole in the sequence');
    assert.equal((await probe(st.file)).streams[0]?.codec_name, 'opus');
  });
});

describe('recorder track: key-frame requests at start', () => {
  it('asks for a key frame when none came within 1 s of the first packet, then again at most every 500 ms, to where the RTP comes from', async () => {
    const rec = await TrackRecorder.start({ kind: 'video', payloadType: VP8_PT, basePath: join(dir, 'no-key'), host: HOST });
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, HOST, r));
    const plis: number[] = [];
    s.on('message', (m) => {
      for (const h of parseRtcpHeaders(m)) if (isPli(h) && h.mediaSsrc === 3333) plis.push(Date.now());
    });
    const inter = Buffer.concat([Buffer.from([0x90, 0x80, 0x01]), Buffer.from([0x11, 0, 0]), Buffer.alloc(100, 0x66)]);
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < 1800; i++) {
      s.send(rtpPacket({ pt: VP8_PT, seq: i, ts: i * 3600, ssrc: 3333, payload: inter, marker: true }), rec.port, HOST);
      await sleep(40);
    }
    const st = await rec.close();
    s.close();
    assert.equal(st.framesWritten, 0, 'no inter frame is written before a key frame');
    assert.ok(plis.length >= 1 && plis.length <= 3, `${plis.length} PLIs`);
    assert.equal(st.plisSent, plis.length);
    assert.ok(plis[0]! - t0 >= 950, `first PLI after ${plis[0]! - t0} ms`);
    for (let i = 1; i < plis.length; i++) assert.ok(plis[i]! - plis[i - 1]! >= 480, `PLIs ${plis[i]! - plis[i - 1]!} ms apart`);
  });
});

describe('recorder track: write errors', () => {
  it('a disk error ends the track (stats.error) without throwing; an unwritable audio file fails start()', async () => {
    // /dev/full: every write fails with ENOSPC.
    symlinkSync('/dev/full', join(dir, 'full.webm'));
    const rec = await TrackRecorder.start({ kind: 'video', payloadType: VP8_PT, basePath: join(dir, 'full'), host: HOST });
    const s = createSocket('udp4');
    const key = Buffer.alloc(40, 0x55);
    key.set([0x90, 0x80, 0x01, 0x10, 0, 0, 0x9d, 0x01, 0x2a], 0);
    key.writeUInt16LE(320, 9);
    key.writeUInt16LE(240, 11);
    for (let i = 0; i < 3; i++)
      await new Promise<void>((r) => s.send(rtpPacket({ pt: VP8_PT, seq: i, ts: i * 3600, ssrc: 1, payload: key, marker: true }), rec.port, HOST, () => r()));
    await until(() => rec.stats.error);
    const st = await rec.close();
    s.close();
    assert.match(st.error ?? '', /ENOSPC/);

    symlinkSync('/dev/full', join(dir, 'full.ogg'));
    await assert.rejects(TrackRecorder.start({ kind: 'audio', payloadType: OPUS_PT, basePath: join(dir, 'full'), host: HOST }), /ENOSPC/);
    const open = readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === '/dev/full';
      } catch {
        return false;
      }
    });
    assert.deepEqual(open, [], 'no file left open');
  });
});
