import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseRegion } from '../src/choose-region.js';
import { RegionTable } from '../src/region-table.js';

const regions = [
  { region: 'eu', mediaNodes: 2, load: 0.7 },
  { region: 'us', mediaNodes: 1, load: 0.2 },
  { region: 'ap', mediaNodes: 1, load: 0.1 },
  { region: 'empty', mediaNodes: 0, load: 0 },
];

describe('chooseRegion', () => {
  it('picks the lowest measured RTT', () => {
    const c = chooseRegion(
      regions,
      [
        { region: 'eu', rttMs: 20 },
        { region: 'us', rttMs: 90 },
        { region: 'ap', rttMs: 180 },
      ],
      'eu',
      15,
    );
    assert.equal(c.region, 'eu');
    assert.equal(c.reason, 'rtt');
  });

  it('breaks near-ties by load', () => {
    assert.equal(
      chooseRegion(
        regions,
        [
          { region: 'eu', rttMs: 20 },
          { region: 'us', rttMs: 30 },
        ],
        'eu',
        15,
      ).region,
      'us',
    );
  });

  it('ignores probes of regions with no media node and unknown regions', () => {
    const c = chooseRegion(
      regions,
      [
        { region: 'empty', rttMs: 1 },
        { region: 'mars', rttMs: 1 },
        { region: 'ap', rttMs: 100 },
      ],
      'eu',
      15,
    );
    assert.equal(c.region, 'ap');
  });

  it('falls back to load without probes, and to home when nothing is known', () => {
    assert.deepEqual(chooseRegion(regions, [], 'eu', 15).region, 'ap');
    assert.deepEqual(chooseRegion([], [], 'eu', 15), { region: 'eu', reason: 'default', candidates: [] });
  });
});

describe('RegionTable', () => {
  const beat = (region: string, id: string, score: number, draining = false) => ({
    kind: 'media' as const,
    id,
    region,
    version: '1',
    startedAt: 0,
    ts: 0,
    intervalMs: 1000,
    endpoints: {},
    load: { score, cpu: 0, rssBytes: 0, details: {} },
    draining,
  });

  it('averages load per region and forgets silent or draining nodes', () => {
    const t = new RegionTable(5000);
    t.observe(beat('eu', 'a', 0.2), 0);
    t.observe(beat('eu', 'b', 0.6), 0);
    t.observe(beat('us', 'c', 0.5), 0);
    assert.deepEqual(
      t.regions(1000).find((r) => r.region === 'eu'),
      { region: 'eu', mediaNodes: 2, load: 0.4 },
    );
    t.observe(beat('eu', 'b', 0.6, true), 1000);
    assert.equal(t.regions(1000).find((r) => r.region === 'eu')?.mediaNodes, 1);
    assert.deepEqual(t.regions(10_000), []);
  });
});
