// The jitter buffer on a fake clock: order restored, duplicates dropped, the 65535→0 wrap, losses
// declared once the depth or time bound trips, and memory bounded whatever arrives.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JitterBuffer, type JitterEvent } from '../src/jitter-buffer.js';

function setup(opts: { maxPackets?: number; maxDelayMs?: number } = {}) {
  let now = 0;
  const jb = new JitterBuffer<number>({ ...opts, now: () => now });
  const out: JitterEvent<number>[] = [];
  return {
    jb,
    out,
    push: (seq: number) => out.push(...jb.push(seq, seq)),
    advance: (ms: number) => {
      now += ms;
      out.push(...jb.poll());
    },
    released: () => out.flatMap((e) => (e.kind === 'packet' ? [e.packet] : [])),
    gaps: () => out.flatMap((e) => (e.kind === 'gap' ? [e.count] : [])),
  };
}

describe('recorder jitter buffer', () => {
  it('releases in-order packets at once', () => {
    const t = setup();
    for (const s of [10, 11, 12]) t.push(s);
    assert.deepEqual(t.released(), [10, 11, 12]);
    assert.equal(t.jb.held, 0);
  });

  it('reorders swapped packets', () => {
    const t = setup();
    for (const s of [1, 3, 2, 5, 4, 6]) t.push(s);
    assert.deepEqual(t.released(), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(t.gaps(), []);
  });

  it('drops duplicates, held or already released', () => {
    const t = setup();
    for (const s of [1, 2, 2, 4, 4, 1, 3]) t.push(s);
    assert.deepEqual(t.released(), [1, 2, 3, 4]);
    assert.equal(t.jb.stats.duplicates, 3);
  });

  it('follows the sequence number across 65535 → 0, in and out of order', () => {
    const t = setup();
    for (const s of [65533, 65534, 0, 65535, 1, 2]) t.push(s);
    assert.deepEqual(t.released(), [65533, 65534, 65535, 0, 1, 2]);
    const e = t.out.filter((x) => x.kind === 'packet').map((x) => x.seq);
    assert.deepEqual(
      e,
      [...e].sort((a, b) => a - b),
      'extended numbers increase across the wrap',
    );
    assert.equal(e.at(-1)! - e[0]!, 5);
  });

  it('declares a loss once the depth bound trips, and drops the lost packet if it comes late', () => {
    const t = setup({ maxPackets: 5, maxDelayMs: 10_000 });
    t.push(1);
    for (const s of [3, 4, 5, 6]) t.push(s);
    assert.deepEqual(t.released(), [1], 'held while within the window');
    t.push(7); // window 2..7 is 6 numbers > 5
    assert.deepEqual(t.released(), [1, 3, 4, 5, 6, 7]);
    assert.deepEqual(t.gaps(), [1]);
    t.push(2);
    assert.equal(t.jb.stats.late, 1);
    assert.deepEqual(t.released(), [1, 3, 4, 5, 6, 7]);
  });

  it('declares a loss once the time bound trips, even when the stream stops', () => {
    const t = setup({ maxPackets: 50, maxDelayMs: 100 });
    t.push(100);
    t.push(103);
    t.advance(99);
    assert.deepEqual(t.released(), [100]);
    t.advance(1);
    assert.deepEqual(t.released(), [100, 103]);
    assert.deepEqual(t.gaps(), [2]);
    assert.equal(t.jb.stats.lost, 2);
  });

  it('flush releases everything held with the holes declared', () => {
    const t = setup();
    for (const s of [1, 4, 6]) t.push(s);
    t.out.push(...t.jb.flush());
    assert.deepEqual(t.released(), [1, 4, 6]);
    assert.deepEqual(t.gaps(), [2, 1]);
  });

  it('stays bounded under random sequence numbers', () => {
    const t = setup({ maxPackets: 50 });
    let x = 12345;
    for (let i = 0; i < 200_000; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      t.jb.push(x >>> 16, i);
      assert.ok(t.jb.held <= 50, `held ${t.jb.held}`);
    }
    assert.ok(t.jb.stats.duplicates + t.jb.stats.late > 0, JSON.stringify(t.jb.stats));
  });
});
