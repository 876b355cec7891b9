import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { viewOf, type ViewPeer } from '../src/room-view.js';

const peer = (peerId: string, kinds: ('audio' | 'video')[] = ['audio', 'video']): ViewPeer => ({
  peerId,
  producers: new Map(kinds.map((k) => [`${peerId}-${k[0]}`, { kind: k }])),
});
const room = (n: number) => Array.from({ length: n }, (_, i) => peer(`p${i}`));
const sorted = (s: Set<string>) => [...s].sort();

describe('viewOf', () => {
  it('receives a room that fits whole, as without a view', () => {
    const peers = room(3);
    const all = sorted(new Set(peers.flatMap((p) => [...p.producers.keys()])));
    assert.deepEqual(sorted(viewOf({ peers, speakers: { k: 4, audio: [], order: [] }, videoSlots: 9, pinned: new Set() })), all);
    assert.deepEqual(sorted(viewOf({ peers: room(12), speakers: undefined, videoSlots: 2, pinned: new Set() })).length, 24, 'no ranking yet: everything');
  });

  it('takes the top-K speakers’ audio and the most recent speakers’ video, then fills with the quiet in join order', () => {
    const peers = room(6);
    const view = viewOf({ peers, speakers: { k: 2, audio: ['p4', 'p1'], order: ['p4', 'p1', 'p5'] }, videoSlots: 4, pinned: new Set() });
    assert.deepEqual(sorted(view), ['p0-v', 'p1-a', 'p1-v', 'p4-a', 'p4-v', 'p5-v']);
  });

  it('keeps pinned peers’ video beyond the slots, and skips peers without video', () => {
    const peers = [peer('a', ['audio']), peer('b'), peer('c'), peer('d')];
    const view = viewOf({ peers, speakers: { k: 1, audio: ['a'], order: ['a', 'c'] }, videoSlots: 1, pinned: new Set(['d']) });
    assert.deepEqual(sorted(view), ['a-a', 'c-v', 'd-v']);
  });

  it('with one slot and K = 1 receives exactly the speaker', () => {
    const view = viewOf({ peers: room(5), speakers: { k: 1, audio: ['p3'], order: ['p3', 'p0'] }, videoSlots: 1, pinned: new Set() });
    assert.deepEqual(sorted(view), ['p3-a', 'p3-v']);
  });
});
