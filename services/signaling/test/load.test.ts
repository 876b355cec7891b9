import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewayLoad, type GatewayCounts } from '../src/load.js';

const counts = (sessions: number): GatewayCounts => ({ sockets: sessions, sessions, connected: sessions, graceTimers: 0, rooms: 1, roomSubscriptions: 1 });

describe('gateway load score', () => {
  it('is sessions / capacity while the event loop has time to spare', () => {
    assert.equal(gatewayLoad(counts(0), 1000, { eventLoop: 0.05 }).score, 0.05);
    assert.equal(gatewayLoad(counts(250), 1000, { eventLoop: 0.05 }).score, 0.25);
    assert.equal(gatewayLoad(counts(1000), 1000, { eventLoop: 0.05 }).score, 1);
    assert.equal(gatewayLoad(counts(5000), 1000, { eventLoop: 0.05 }).score, 1, 'past capacity it stays at 1');
  });

  it('is the event loop utilisation when that is the fuller resource', () => {
    assert.equal(gatewayLoad(counts(10), 1000, { eventLoop: 0.9 }).score, 0.9);
  });

  it('reports its counts, the capacity and the event loop in the details', () => {
    assert.deepEqual(gatewayLoad(counts(3), 10, { eventLoop: 0.125 }).details, { ...counts(3), sessionCapacity: 10, eventLoop: 0.125 });
  });
});
