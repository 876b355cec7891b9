import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpeakerRanking } from '../src/speaker-ranking.js';

const everyone = () => true;
const opts = { k: 2, holdMs: 2000, silentAfterMs: 700 };

describe('SpeakerRanking', () => {
  it('ranks the loudest first, ties by peer id, and tells when it changed', () => {
    const r = new SpeakerRanking(opts);
    assert.equal(r.tick(0, everyone), false, 'nobody spoke: nothing to tell');
    r.report(
      'x',
      [
        { peerId: 'b', volume: -30 },
        { peerId: 'a', volume: -30 },
        { peerId: 'c', volume: -60 },
      ],
      0,
    );
    assert.equal(r.tick(0, everyone), true);
    // a and b tie: a enters first, then b, and the most recent entry leads.
    assert.deepEqual(r.ranked, { audio: ['b', 'a'], order: ['b', 'a'] });
    assert.equal(r.tick(100, everyone), false, 'the same input changes nothing');
  });

  it('keeps a speaker in the top K for the hold time, then lets a louder one in', () => {
    const r = new SpeakerRanking(opts);
    r.report(
      'x',
      [
        { peerId: 'a', volume: -20 },
        { peerId: 'b', volume: -25 },
      ],
      0,
    );
    r.tick(0, everyone);
    // c is louder than b, but b has been in the top K for less than the hold time.
    r.report('y', [{ peerId: 'c', volume: -10 }], 1000);
    r.report(
      'x',
      [
        { peerId: 'a', volume: -20 },
        { peerId: 'b', volume: -25 },
      ],
      1000,
    );
    r.tick(1000, everyone);
    assert.deepEqual(r.ranked.audio.sort(), ['a', 'b']);
    r.report('y', [{ peerId: 'c', volume: -10 }], 2100);
    r.report(
      'x',
      [
        { peerId: 'a', volume: -20 },
        { peerId: 'b', volume: -25 },
      ],
      2100,
    );
    assert.equal(r.tick(2100, everyone), true);
    assert.deepEqual(r.ranked.audio, ['c', 'a'], 'the quietest held-out member made room');
    assert.deepEqual(r.ranked.order, ['c', 'a', 'b'], 'b is still among the recent speakers, after the top K');
  });

  it('does not replace a member with a quieter speaker', () => {
    const r = new SpeakerRanking(opts);
    r.report(
      'x',
      [
        { peerId: 'a', volume: -20 },
        { peerId: 'b', volume: -20 },
      ],
      0,
    );
    r.tick(0, everyone);
    r.report(
      'x',
      [
        { peerId: 'a', volume: -20 },
        { peerId: 'b', volume: -20 },
        { peerId: 'c', volume: -40 },
      ],
      5000,
    );
    r.tick(5000, everyone);
    assert.deepEqual(r.ranked.audio.sort(), ['a', 'b']);
  });

  it('treats a leg that stopped reporting, or went away, as silent, and drops members who left', () => {
    const r = new SpeakerRanking(opts);
    r.report('x', [{ peerId: 'a', volume: -20 }], 0);
    r.report('y', [{ peerId: 'b', volume: -20 }], 0);
    r.tick(0, everyone);
    // x's report is stale by 3000; y's silent speakers are kept (nobody wants their place) until someone does.
    r.report('z', [{ peerId: 'c', volume: -50 }], 3000);
    r.tick(3000, everyone);
    assert.ok(r.ranked.audio.includes('c'), 'a silent member past its hold gives way, even to a quiet speaker');
    r.dropLeg('y');
    r.report(
      'z',
      [
        { peerId: 'c', volume: -50 },
        { peerId: 'd', volume: -45 },
      ],
      6000,
    );
    r.tick(6000, everyone);
    assert.deepEqual(r.ranked.audio.sort(), ['c', 'd']);
    assert.equal(
      r.tick(6000, (p) => p !== 'd'),
      true,
    );
    assert.deepEqual(r.ranked.audio, ['c'], 'a member who left is dropped');
    assert.ok(!r.ranked.order.includes('d'));
  });

  it('counts a peer heard on two legs once, at its loudest', () => {
    const r = new SpeakerRanking({ ...opts, k: 1 });
    r.report('x', [{ peerId: 'a', volume: -50 }], 0);
    r.report('y', [{ peerId: 'a', volume: -10 }], 0);
    r.report('y', [{ peerId: 'b', volume: -30 }], 0);
    r.tick(0, everyone);
    assert.deepEqual(r.ranked.audio, ['b'], 'y reported only b last: a is heard at -50 on x');
  });
});
