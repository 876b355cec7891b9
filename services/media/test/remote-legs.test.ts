import type { LegEvent } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RemoteLegs } from '../src/remote-legs.js';

const ROOM = 'r';
type Body = LegEvent extends infer E ? (E extends LegEvent ? Omit<E, 'roomId' | 'nodeId' | 'legId' | 'seq'> : never) : never;
const ev = (nodeId: string, legId: string, seq: number, body: Body): LegEvent => ({ ...body, roomId: ROOM, nodeId, legId, seq }) as LegEvent;
const audio = (producerId: string) => ({ producerId, kind: 'audio' as const, paused: false });

function legs() {
  const log: string[] = [];
  const remote = new RemoteLegs({
    producerAdded: (id) => log.push(`added ${id}`),
    producerPaused: (id, paused) => log.push(`${paused ? 'paused' : 'resumed'} ${id}`),
    producerClosed: (id, node) => log.push(`closed ${id}@${node}`),
    legGone: (node) => log.push(`gone ${node}`),
  });
  return { remote, log };
}

describe('RemoteLegs', () => {
  it('applies numbered events in order and locates producers', () => {
    const { remote, log } = legs();
    assert.equal(remote.apply(ev('x', 'L1', 0, { type: 'legOpened' })), 'applied');
    assert.equal(remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } })), 'applied');
    assert.equal(remote.apply(ev('x', 'L1', 2, { type: 'producerAdded', peerId: 'p', producer: audio('P1') })), 'applied');
    assert.deepEqual(remote.producer('P1'), { nodeId: 'x', peerId: 'p', producer: audio('P1') });
    assert.equal(remote.apply(ev('x', 'L1', 3, { type: 'producerPaused', peerId: 'p', producerId: 'P1', paused: true })), 'applied');
    assert.equal(remote.producer('P1')?.producer.paused, true);
    assert.deepEqual(remote.peers(), [{ peerId: 'p', identity: 'pat', producers: [{ ...audio('P1'), paused: true }] }]);
    assert.deepEqual(log, ['added P1', 'paused P1']);
  });

  it('ignores what it already applied and reports a gap instead of skipping events', () => {
    const { remote } = legs();
    remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } }));
    assert.equal(remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } })), 'stale');
    assert.equal(remote.apply(ev('x', 'L1', 3, { type: 'memberLeft', peerId: 'p' })), 'gap');
    assert.equal(remote.memberCount, 1, 'an event past a gap is not applied');
    // A leg first heard of mid-way is a gap too: its earlier members are unknown.
    assert.equal(remote.apply(ev('y', 'L2', 5, { type: 'memberLeft', peerId: 'q' })), 'gap');
    assert.equal(remote.has('y'), false);
  });

  it('takes a snapshot unless what it applied is newer, and reports producers that changed meanwhile', () => {
    const { remote, log } = legs();
    remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } }));
    remote.apply(ev('x', 'L1', 2, { type: 'producerAdded', peerId: 'p', producer: audio('P1') }));
    remote.apply(ev('x', 'L1', 3, { type: 'producerAdded', peerId: 'p', producer: audio('P2') }));
    assert.equal(remote.replace('x', { legId: 'L1', seq: 2, peers: [] }), 'stale');
    const snap = { legId: 'L1', seq: 9, peers: [{ peerId: 'p', identity: 'pat', producers: [{ ...audio('P1'), paused: true }, audio('P3')] }] };
    assert.equal(remote.replace('x', snap), 'applied');
    assert.deepEqual(log.slice(2).sort(), ['added P3', 'closed P2@x', 'paused P1']);
    assert.equal(remote.apply(ev('x', 'L1', 10, { type: 'producerClosed', peerId: 'p', producerId: 'P3' })), 'applied');
    assert.equal(remote.producer('P3'), undefined);
  });

  it('forgets a leg that closed, or opened again, with its producers', () => {
    const { remote, log } = legs();
    remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } }));
    remote.apply(ev('x', 'L1', 2, { type: 'producerAdded', peerId: 'p', producer: audio('P1') }));
    // The room closed on x and opened again: a new leg id, numbered from the start.
    assert.equal(remote.apply(ev('x', 'L9', 1, { type: 'memberJoined', peer: { peerId: 'q', identity: 'quinn' } })), 'applied');
    assert.deepEqual(log, ['added P1', 'closed P1@x', 'gone x']);
    assert.deepEqual(
      remote.peers().map((p) => p.peerId),
      ['q'],
    );
    assert.equal(remote.apply(ev('x', 'L9', 2, { type: 'legClosed' })), 'applied');
    assert.equal(remote.has('x'), false);
    assert.equal(remote.apply(ev('x', 'L9', 3, { type: 'legClosed' })), 'stale');
  });

  it('drops every member of a leg whose member left, with the producers', () => {
    const { remote, log } = legs();
    remote.apply(ev('x', 'L1', 1, { type: 'memberJoined', peer: { peerId: 'p', identity: 'pat' } }));
    remote.apply(ev('x', 'L1', 2, { type: 'producerAdded', peerId: 'p', producer: audio('P1') }));
    remote.apply(ev('x', 'L1', 3, { type: 'memberLeft', peerId: 'p' }));
    assert.equal(remote.memberCount, 0);
    assert.deepEqual(log, ['added P1', 'closed P1@x']);
    remote.drop('x');
    remote.drop('x');
    assert.deepEqual(log, ['added P1', 'closed P1@x', 'gone x'], 'drop is idempotent');
  });
});
