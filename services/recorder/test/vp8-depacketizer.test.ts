// VP8 payload descriptors (RFC 7741 §4.2) in their variants, key-frame headers (RFC 6386 §9.1), and
// frame assembly: frames split over packets, a lost middle packet (frame dropped, key frame asked
// for, inter frames dropped until the next key frame), nothing before the first key frame.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseVp8Descriptor, parseVp8KeyFrame, Vp8Depacketizer, type Vp8Frame } from '../src/vp8-depacketizer.js';

/** A key frame's first bytes: frame tag (bit 0 = 0: key), start code, 14-bit width and height. */
function keyFrame(width: number, height: number, bodyBytes = 20): Buffer {
  const b = Buffer.alloc(10 + bodyBytes, 0x55);
  b[0] = 0x10; // key frame, version 0, show_frame
  b[1] = 0;
  b[2] = 0;
  b.set([0x9d, 0x01, 0x2a], 3);
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}
const interFrame = (bytes = 30): Buffer => Buffer.concat([Buffer.from([0x11, 0, 0]), Buffer.alloc(bytes - 3, 0x66)]);

/** Packets of one frame: the descriptor ffmpeg writes (X, I with a 7-bit picture id), S on the first. */
function packetize(frame: Buffer, ts: number, parts: number, pictureId = 5) {
  const size = Math.ceil(frame.length / parts);
  const out = [];
  for (let i = 0; i < parts; i++) {
    const desc = Buffer.from([0x80 | (i === 0 ? 0x10 : 0), 0x80, pictureId & 0x7f]);
    out.push({ timestamp: ts, marker: i === parts - 1, payload: Buffer.concat([desc, frame.subarray(i * size, (i + 1) * size)]) });
  }
  return out;
}

describe('recorder vp8: payload descriptor', () => {
  it('reads the short form', () => {
    assert.deepEqual(parseVp8Descriptor(Buffer.from([0x10, 0xaa])), { nonReference: false, start: true, partitionId: 0, length: 1 });
    assert.deepEqual(parseVp8Descriptor(Buffer.from([0x23, 0xaa])), { nonReference: true, start: false, partitionId: 3, length: 1 });
  });

  it('reads 7- and 15-bit picture ids, TL0PICIDX, TID/Y and KEYIDX', () => {
    assert.equal(parseVp8Descriptor(Buffer.from([0x90, 0x80, 0x7f, 0]))?.pictureId, 0x7f);
    const long = parseVp8Descriptor(Buffer.from([0x90, 0x80, 0x80 | 0x12, 0x34, 0]));
    assert.equal(long?.pictureId, 0x1234);
    assert.equal(long?.length, 4);
    const all = parseVp8Descriptor(Buffer.from([0x90, 0xf0, 0x81, 0x02, 0x09, 0b10100011, 0xff]));
    assert.deepEqual(all, {
      nonReference: false,
      start: true,
      partitionId: 0,
      pictureId: 0x102,
      tl0PicIdx: 9,
      temporalLayer: 2,
      layerSync: true,
      keyIdx: 3,
      length: 6,
    });
  });

  it('gives undefined when the descriptor runs past the payload or leaves no data', () => {
    for (const b of [[], [0x90], [0x90, 0x80], [0x90, 0x80, 0x80, 0x01], [0x90, 0x40], [0x90, 0x20], [0x10]]) {
      assert.equal(parseVp8Descriptor(Buffer.from(b)), undefined, JSON.stringify(b));
    }
  });

  it('reads the size of a key frame and refuses a bad start code or an inter frame', () => {
    assert.deepEqual(parseVp8KeyFrame(keyFrame(320, 240)), { width: 320, height: 240, horizontalScale: 0, verticalScale: 0 });
    assert.equal(parseVp8KeyFrame(interFrame()), undefined);
    const bad = keyFrame(320, 240);
    bad[4] = 0;
    assert.equal(parseVp8KeyFrame(bad), undefined);
  });
});

describe('recorder vp8: frame assembly', () => {
  function run(packets: ReturnType<typeof packetize>, lossBefore = new Set<number>()) {
    const asked: string[] = [];
    const d = new Vp8Depacketizer({ onKeyFrameNeeded: (r) => asked.push(r) });
    const frames: Vp8Frame[] = [];
    packets.forEach((p, i) => {
      if (lossBefore.has(i)) d.lost();
      frames.push(...d.push(p));
    });
    frames.push(...d.flush());
    return { frames, asked, d };
  }

  it('joins the packets of each frame and tells key frames with their size', () => {
    const k = keyFrame(640, 360, 3000);
    const f = interFrame(1500);
    const { frames } = run([...packetize(k, 0, 3), ...packetize(f, 3000, 2), ...packetize(f, 6000, 1)]);
    assert.equal(frames.length, 3);
    assert.deepEqual(frames[0]!.data, k);
    assert.equal(frames[0]!.keyFrame, true);
    assert.equal(frames[0]!.width, 640);
    assert.equal(frames[0]!.height, 360);
    assert.deepEqual(frames[1]!.data, f);
    assert.equal(frames[1]!.keyFrame, false);
    assert.deepEqual(
      frames.map((x) => x.timestamp),
      [0, 3000, 6000],
    );
  });

  it('ends a frame without a marker when the timestamp changes', () => {
    const p = [...packetize(keyFrame(320, 240), 0, 2), ...packetize(interFrame(), 3000, 1)];
    p[1]!.marker = false;
    const { frames } = run(p);
    assert.equal(frames.length, 2);
  });

  it('emits nothing before the first key frame', () => {
    const { frames, d } = run([...packetize(interFrame(), 0, 1), ...packetize(interFrame(), 3000, 2), ...packetize(keyFrame(320, 240), 6000, 2)]);
    assert.deepEqual(
      frames.map((f) => f.keyFrame),
      [true],
    );
    assert.equal(d.stats.framesSkipped, 2);
  });

  it('drops a frame with a lost middle packet, asks for a key frame, and drops inter frames until it comes', () => {
    const packets = [
      ...packetize(keyFrame(320, 240, 900), 0, 3), // 0 1 2
      ...packetize(interFrame(900), 3000, 3), // 3 [4 lost] 5
      ...packetize(interFrame(), 6000, 1), // 6
      ...packetize(keyFrame(320, 240, 900), 9000, 2), // 7 8
      ...packetize(interFrame(), 12000, 1), // 9
    ];
    packets.splice(4, 1);
    // The jitter buffer reports the loss before the packet after it.
    const { frames, asked, d } = run(packets, new Set([4]));
    assert.deepEqual(
      frames.map((f) => [f.timestamp, f.keyFrame]),
      [
        [0, true],
        [9000, true],
        [12000, false],
      ],
    );
    assert.deepEqual(asked, ['broken-frame']);
    assert.equal(d.stats.framesBroken, 1);
    assert.equal(d.stats.framesSkipped, 1);
    assert.equal(d.waitingForKeyFrame, false);
  });

  it('drops a frame whose first packet was lost even without a loss report, and counts malformed descriptors', () => {
    const packets = [...packetize(keyFrame(320, 240), 0, 1), ...packetize(interFrame(900), 3000, 3)];
    packets.splice(1, 1);
    packets.push({ timestamp: 6000, marker: true, payload: Buffer.from([0x90]) });
    const { frames, d } = run(packets);
    assert.equal(frames.length, 1);
    assert.equal(d.stats.framesBroken, 2);
    assert.equal(d.stats.malformed, 1);
    assert.equal(d.waitingForKeyFrame, true);
  });

  it('never throws on random payloads, and emits only frames that start as a key frame does or follow one', () => {
    const d = new Vp8Depacketizer();
    let x = 99;
    const rnd = () => (x = (x * 1103515245 + 12345) >>> 0) >>> 8;
    const frames: Vp8Frame[] = [];
    for (let i = 0; i < 20_000; i++) {
      const payload = Buffer.alloc(rnd() % 40);
      for (let k = 0; k < payload.length; k++) payload[k] = rnd() & 0xff;
      frames.push(...d.push({ timestamp: Math.floor(i / 3) * 3000, marker: rnd() % 3 === 0, payload }));
    }
    if (frames.length > 0) assert.ok(frames[0]!.keyFrame && frames[0]!.width! > 0, 'the first frame out is a key frame with a size');
    assert.ok(d.stats.malformed > 0, 'malformed descriptors counted');
  });
});
