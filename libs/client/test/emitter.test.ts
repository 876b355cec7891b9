import { Emitter, SignalingClient, type ListenerErrorHandler } from '@strata/client';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { FakeGateway, joinResponse } from './fake-gateway.js';

type Events = { ping: [n: number]; other: [] };

/** emit() is protected: the client's classes call it from inside; this one lets the test do so. */
class Probe extends Emitter<Events> {
  fire(n: number): void {
    this.emit('ping', n);
  }
}

describe('Emitter', () => {
  it('reports a throwing listener to its handler and still runs the others', () => {
    const reported: [unknown, string][] = [];
    const e = new Probe((err, event) => reported.push([err, event]));
    const heard: string[] = [];
    e.on('ping', (n) => heard.push(`first ${n}`));
    e.on('ping', () => {
      throw new Error('bug in the app');
    });
    e.once('ping', (n) => heard.push(`once ${n}`));
    e.on('ping', (n) => heard.push(`last ${n}`));

    assert.doesNotThrow(() => e.fire(1));
    assert.deepEqual(heard, ['first 1', 'once 1', 'last 1']);
    assert.equal(reported.length, 1);
    assert.equal((reported[0]?.[0] as Error).message, 'bug in the app');
    assert.equal(reported[0]?.[1], 'ping');

    e.fire(2);
    assert.deepEqual(heard, ['first 1', 'once 1', 'last 1', 'first 2', 'last 2'], 'once listeners go even when a neighbour throws');
    assert.equal(reported.length, 2);
  });

  it('logs with console.error by default, and survives a reporter that throws', (t) => {
    const logged = t.mock.method(console, 'error', () => undefined);
    const e = new Probe();
    let after = 0;
    e.on('ping', () => {
      throw new TypeError('oops');
    });
    e.on('ping', () => after++);
    e.fire(1);
    assert.equal(logged.mock.callCount(), 1);
    const [message, error] = logged.mock.calls[0]?.arguments as [string, Error];
    assert.match(message, /a listener of "ping" threw/);
    assert.equal(error.message, 'oops');
    assert.equal(after, 1);

    const throwing: ListenerErrorHandler = () => {
      throw new Error('the reporter is broken too');
    };
    const f = new Probe(throwing);
    f.on('ping', () => {
      throw new Error('x');
    });
    f.on('ping', () => after++);
    assert.doesNotThrow(() => f.fire(1));
    assert.equal(after, 2);
  });

  it("keeps the signaling client working when the application's listeners throw", { timeout: 15_000 }, async () => {
    const gw = await FakeGateway.start();
    gw.handlers.set('join', () => joinResponse());
    gw.handlers.set('getRouterRtpCapabilities', () => ({ rtpCapabilities: {} }));
    const reported: string[] = [];
    const client = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 2000, onListenerError: (_err, event) => reported.push(event) });
    try {
      // Thrown from inside connect()'s own state changes and from the socket's message handler.
      client.on('state', () => {
        throw new Error('state listener bug');
      });
      client.onNotification('peerJoined', () => {
        throw new Error('notification listener bug');
      });
      const peers: string[] = [];
      client.onNotification('peerJoined', (d) => peers.push(d.peerId));
      await client.connect();
      assert.equal(client.state, 'connected');
      await client.join({ token: 't' });
      gw.notify('peerJoined', { peerId: 'p2', identity: 'bob' });
      gw.notify('peerJoined', { peerId: 'p3', identity: 'carol' });
      // Answered on the same socket after the notifications: they have been handled by then.
      await client.request('getRouterRtpCapabilities', {});
      assert.deepEqual(peers, ['p2', 'p3']);
      assert.ok(reported.filter((e) => e === 'state').length >= 2, `reported: ${reported.join(', ')}`);
      assert.equal(reported.filter((e) => e === 'peerJoined').length, 2);
    } finally {
      try {
        client.close();
      } finally {
        await gw.stop();
      }
    }
  });
});
