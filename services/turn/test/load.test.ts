import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { turnLoad } from '../src/load.js';

describe('TURN load score', () => {
  it('is allocations / relay ports (one port per allocation) while the event loop keeps up', () => {
    const ports = { min: 50000, max: 50099 };
    assert.equal(turnLoad(0, ports, { eventLoop: 0 }).score, 0);
    assert.equal(turnLoad(25, ports, { eventLoop: 0.1 }).score, 0.25);
    assert.equal(turnLoad(100, ports, { eventLoop: 0.1 }).score, 1);
    assert.deepEqual(turnLoad(25, ports, { eventLoop: 0.1 }).details, { allocations: 25, relayPorts: 100, eventLoop: 0.1 });
  });

  it('is the event loop utilisation when relaying fills the loop before the ports run out', () => {
    assert.equal(turnLoad(5, { min: 50000, max: 59999 }, { eventLoop: 0.8 }).score, 0.8);
  });

  it('carries the server’s counters in its details', () => {
    const stats = {
      authFailures: 3,
      staleNonces: 1,
      quotaRejections: 2,
      overBandwidth: 40,
      malformed: 7,
      peerDenials: 4,
      connectionRejections: 5,
      packetsToPeers: 100,
      bytesToPeers: 120_000,
      packetsToClients: 90,
      bytesToClients: 108_000,
    };
    const { details } = turnLoad(2, { min: 50000, max: 50099 }, { eventLoop: 0 }, stats);
    assert.deepEqual(details, { allocations: 2, relayPorts: 100, eventLoop: 0, ...stats });
  });

  it('a single relay port is full with one allocation', () => {
    assert.equal(turnLoad(1, { min: 50000, max: 50000 }, { eventLoop: 0 }).score, 1);
  });
});
