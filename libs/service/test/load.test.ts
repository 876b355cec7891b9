import { EventLoopLoad, capacityShare, loadScore } from '@strata/service';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

/** Keeps the event loop busy for `ms` of wall-clock time. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('load scores', () => {
  it('EventLoopLoad: near 1 after the loop was kept busy, near 0 after it waited', async () => {
    const elu = new EventLoopLoad();
    spin(300);
    const busy = elu.sample();
    assert.ok(busy > 0.8 && busy <= 1, `busy loop: ${busy}`);
    // Idle is time spent waiting in the poll phase. A waiting window can still catch work that
    // is not ours (the first one after start-up runs the loader's and the test runner's), so
    // the least busy of three says whether waiting reads as idle.
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleep(200);
      idle.push(elu.sample());
    }
    assert.ok(Math.min(...idle) < 0.3, `waiting loop: ${idle.join(', ')}`);
    assert.ok(idle.every((x) => x >= 0 && x <= 1));
  });

  it('capacityShare: used / capacity within 0..1; no capacity is full once used', () => {
    assert.equal(capacityShare(0, 100), 0);
    assert.equal(capacityShare(25, 100), 0.25);
    assert.equal(capacityShare(150, 100), 1);
    assert.equal(capacityShare(0, 0), 0);
    assert.equal(capacityShare(1, 0), 1);
  });

  it('loadScore: the scarcest resource decides; out-of-range and NaN shares are clamped (NaN as full)', () => {
    assert.equal(loadScore(), 0);
    assert.equal(loadScore(0.2, 0.7, 0.1), 0.7);
    assert.equal(loadScore(-3), 0);
    assert.equal(loadScore(0.1, 4), 1);
    assert.equal(loadScore(0.1, Number.NaN), 1);
    assert.equal(loadScore(1 / 3), 0.333);
  });
});
