import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { turnTransportOf, withTurnTransports } from '../src/ice-servers.js';

describe('TURN URLs by transport', () => {
  it('reads the transport of a URL as RFC 7065 defines it', () => {
    assert.equal(turnTransportOf('turn:turn.example.com:3478?transport=udp'), 'udp');
    assert.equal(turnTransportOf('turn:turn.example.com:3478'), 'udp', 'turn: without transport is UDP');
    assert.equal(turnTransportOf('turn:10.0.0.1:3478?transport=tcp'), 'tcp');
    assert.equal(turnTransportOf('TURNS:turn.example.com:5349?transport=tcp'), 'tls');
    assert.equal(turnTransportOf('turns:turn.example.com:443'), 'tls');
    assert.equal(turnTransportOf('stun:stun.example.com:3478'), undefined);
    assert.equal(turnTransportOf('turn:host:3478?transport=sctp'), undefined);
  });

  it('keeps only the chosen TURN transports, STUN as it is, and drops servers left empty', () => {
    const servers = [
      {
        urls: ['turn:t:3478?transport=udp', 'turn:t:3478?transport=tcp', 'turns:t:5349?transport=tcp'],
        username: '1:alice',
        credential: 'x',
      },
      { urls: ['stun:s:3478'] },
      { urls: ['turn:other:3478?transport=udp'], username: 'u', credential: 'c' },
    ];
    assert.deepEqual(withTurnTransports(servers, ['tls']), [
      { urls: ['turns:t:5349?transport=tcp'], username: '1:alice', credential: 'x' },
      { urls: ['stun:s:3478'] },
    ]);
    assert.deepEqual(
      withTurnTransports(servers, ['udp', 'tcp']).map((s) => s.urls),
      [['turn:t:3478?transport=udp', 'turn:t:3478?transport=tcp'], ['stun:s:3478'], ['turn:other:3478?transport=udp']],
    );
    // A TURN URL of no known transport is not kept by any choice.
    assert.deepEqual(withTurnTransports([{ urls: ['turn:t:3478?transport=sctp'] }], ['udp', 'tcp', 'tls']), []);
  });
});
