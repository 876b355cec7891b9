import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { geoRouterLoad } from '../src/load.js';

describe('geo-router load score', () => {
  it('is the event loop utilisation, whatever the counts', () => {
    assert.equal(geoRouterLoad({ regions: 3, routed: 1_000_000 }, { eventLoop: 0.02 }).score, 0.02);
    assert.equal(geoRouterLoad({ regions: 0, routed: 0 }, { eventLoop: 0.75 }).score, 0.75);
    assert.deepEqual(geoRouterLoad({ regions: 3, routed: 7 }, { eventLoop: 0.5 }).details, { regions: 3, routed: 7, eventLoop: 0.5 });
  });
});
