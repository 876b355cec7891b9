import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaDirectory } from '../src/media-directory.js';
import { mediaBeat } from './fake-media.js';

describe('MediaDirectory', () => {
  it('calls a silent node gone only once it has listened for a whole window', () => {
    const t0 = 1_000_000;
    const d = new MediaDirectory(1500, t0);
    assert.equal(d.isGone('m1', t0 + 100), false, 'just started: silence means nothing yet');
    assert.equal(d.isGone('m1', t0 + 1500), true, 'a window listened through without a word');
    d.observe(mediaBeat('m1', 0, 0, false, 500), t0 + 1600);
    assert.equal(d.isGone('m1', t0 + 2000), false);
    assert.equal(d.isGone('m1', t0 + 1600 + 1501), true, 'no beat within three of its intervals');
  });

  it('calls a node that announced it drains gone at once, and live again when it beats normally', () => {
    const t0 = 1_000_000;
    const d = new MediaDirectory(1500, t0);
    d.observe(mediaBeat('m1'), t0 + 10);
    d.observe(mediaBeat('m1', 0, 0, true), t0 + 20);
    assert.equal(d.isGone('m1', t0 + 30), true);
    d.observe(mediaBeat('m1'), t0 + 40);
    assert.equal(d.isGone('m1', t0 + 50), false);
  });

  it('counts legs placed since a node last beat against it, until its next beat', () => {
    const d = new MediaDirectory(1500);
    d.observe(mediaBeat('m1', 0.1, 3));
    d.notePlaced('m1');
    d.notePlaced('m1');
    const [load] = d.loads();
    assert.equal(load?.routers, 5);
    assert.ok(Math.abs(load!.score - 0.12) < 1e-9);
    d.observe(mediaBeat('m1', 0.1, 5));
    assert.deepEqual(d.loads(), [{ nodeId: 'm1', score: 0.1, routers: 5 }]);
  });
});
