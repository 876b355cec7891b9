import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demandOf, isReduction, sameDemand } from '../src/link-demand.js';

describe('link demand', () => {
  it('forwards nothing without consumers, no bytes without watchers, the highest layer asked for', () => {
    assert.deepEqual(demandOf([]), { forward: false });
    assert.deepEqual(demandOf([{ paused: true, spatialLayer: 2 }]), { forward: true, paused: true, spatialLayer: undefined });
    assert.deepEqual(
      demandOf([
        { paused: false, spatialLayer: 0 },
        { paused: true, spatialLayer: 2 },
        { paused: false, spatialLayer: 1 },
      ]),
      { forward: true, paused: false, spatialLayer: 1 },
      'a paused consumer asks for nothing',
    );
    assert.deepEqual(
      demandOf([
        { paused: false, spatialLayer: 0 },
        { paused: false, spatialLayer: undefined },
      ]),
      { forward: true, paused: false, spatialLayer: undefined },
      'no preference means the top layer',
    );
  });

  it('makes a watcher wait only for less: stopping or pausing', () => {
    const on = { forward: true as const, paused: false, spatialLayer: 2 };
    const low = { forward: true as const, paused: false, spatialLayer: 0 };
    const paused = { forward: true as const, paused: true, spatialLayer: undefined };
    const off = { forward: false as const };
    assert.equal(isReduction(on, off), true);
    assert.equal(isReduction(on, paused), true);
    assert.equal(isReduction(paused, on), false);
    assert.equal(isReduction(off, on), false);
    assert.equal(isReduction(on, low), false, 'a lower layer is given at once');
    assert.equal(isReduction(paused, off), true);
    assert.equal(sameDemand(paused, { forward: true, paused: true, spatialLayer: 1 }), true, 'layers do not matter while paused');
    assert.equal(sameDemand(on, low), false);
    assert.equal(sameDemand(off, { forward: false }), true);
  });
});
