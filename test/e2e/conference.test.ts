/**
 * Three Node WebRTC peers in one room through a real region (nats-server, signaling gateway,
 * media node as processes): each publishes Opus + VP8 over ICE/DTLS/SRTP and receives the
 * other two. Asserted from what each peer's receiving tracks count, sampled twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'conference-1';
const KINDS = ['audio', 'video'] as const;

describe('three-peer conference over a real region', { timeout: 120_000 }, () => {
  let region: Region;
  const peers: NodePeer[] = [];

  before(async () => {
    region = await startRegion();
    for (const name of ['alice', 'bob', 'carol']) {
      const token = await region.mintToken({ room: ROOM, identity: name, name });
      peers.push(await NodePeer.join({ wsUrl: region.wsUrl, token, name }));
    }
  });

  after(async () => {
    await Promise.allSettled(peers.map((p) => p.leave()));
    await region?.stop();
  });

  it('every peer knows the other two', async () => {
    for (const p of peers) {
      const others = peers
        .filter((o) => o !== p)
        .map((o) => o.peerId)
        .sort();
      await waitFor(`${p.name} to see ${others.join(', ')}`, () => ([...p.room.peers.keys()].sort().join() === others.join() ? true : undefined), 10_000);
    }
  });

  it('every peer consumes audio and video of each other peer', async () => {
    for (const p of peers) {
      await waitFor(`${p.name} to consume 4 tracks`, () => (p.room.consumers.size === 4 ? true : undefined), 20_000);
      for (const o of peers.filter((x) => x !== p)) {
        const kinds = [...p.room.consumers.values()]
          .filter((c) => c.peerId === o.peerId)
          .map((c) => c.kind)
          .sort();
        assert.deepEqual(kinds, ['audio', 'video'], `${p.name} consumes ${o.name}`);
      }
    }
  });

  it('RTP from every other peer arrives and keeps arriving (receive-side counters)', async (t) => {
    // First sample: once something has arrived on every track.
    await waitFor(
      'RTP on all 12 tracks',
      () => (peers.every((p) => peers.every((o) => o === p || KINDS.every((k) => p.receivedFrom(o.peerId, k).packets > 0))) ? true : undefined),
      20_000,
    );
    const first = peers.map(
      (p) => new Map(peers.filter((o) => o !== p).flatMap((o) => KINDS.map((k) => [`${o.peerId}:${k}`, p.receivedFrom(o.peerId, k)] as const))),
    );
    await new Promise((r) => setTimeout(r, 3000));
    for (const [i, p] of peers.entries()) {
      for (const o of peers.filter((x) => x !== p)) {
        for (const k of KINDS) {
          const a = first[i]!.get(`${o.peerId}:${k}`)!;
          const b = p.receivedFrom(o.peerId, k);
          const pkts = b.packets - a.packets;
          // 3 s of 50 pkt/s audio or 25 pkt/s video; allow for a slow shared CI machine.
          const min = k === 'audio' ? 60 : 30;
          assert.ok(pkts >= min, `${p.name} got ${pkts} ${k} packets from ${o.name} in 3 s (want >= ${min})`);
          assert.ok(b.bytes - a.bytes >= pkts * (k === 'audio' ? 80 : 700), `${p.name} ${k} bytes from ${o.name} grew with the packets`);
        }
      }
      t.diagnostic(
        `${p.name} received ` +
          peers
            .filter((o) => o !== p)
            .map((o) => KINDS.map((k) => `${o.name}/${k} ${p.receivedFrom(o.peerId, k).packets} pkts ${p.receivedFrom(o.peerId, k).bytes} B`).join(', '))
            .join('; '),
      );
      const video = p.snapshot().filter((s) => s.kind === 'video');
      for (const s of video) assert.ok(s.keyFrames >= 1, `${p.name} saw a VP8 key frame on ${s.consumerId}`);
    }
  });

  it('a peer leaving is announced and its consumers close on the others', async () => {
    const carol = peers.pop()!;
    const carolId = carol.peerId;
    await carol.leave();
    for (const p of peers) {
      await waitFor(`${p.name} to see carol leave`, () => (p.room.peers.has(carolId) ? undefined : true), 10_000);
      assert.ok(p.events.includes(`peerLeft:${carolId}:leave`), p.events.join(', '));
      assert.equal([...p.room.consumers.values()].filter((c) => c.peerId === carolId).length, 0);
    }
  });

  it('a peer takes new consumers after closed ones, its first one included (video out of the view and back, a peer gone, a newcomer)', async () => {
    // A short linger: what leaves the view is closed, so coming back is a new consumer in an
    // m-section recycled from a closed one. The first m-section is never recycled, only
    // disabled: the newcomer's consumers come after the one in it closed.
    const dave = await NodePeer.join({
      wsUrl: region.wsUrl,
      token: await region.mintToken({ room: ROOM, identity: 'dave', name: 'dave' }),
      name: 'dave',
      viewLingerMs: 200,
    });
    peers.push(dave);
    const others = peers.filter((p) => p !== dave);
    const video = () => [...dave.room.consumers.values()].filter((c) => c.kind === 'video');
    await waitFor('dave consumes everyone', () => (dave.room.consumers.size === 2 * others.length ? true : undefined), 20_000);
    const before = new Set(video().map((c) => c.consumerId));
    dave.room.setVideoSlots(0); // the room no longer fits the view: no video
    await waitFor('video consumers closed', () => (video().length === 0 ? true : undefined), 10_000);
    dave.room.setVideoSlots(9);
    await waitFor('video consumed again', () => (video().length === others.length ? true : undefined), 10_000);
    assert.ok(
      video().every((c) => !before.has(c.consumerId)),
      'on new consumers',
    );
    for (const o of others) {
      const since = dave.receivedFrom(o.peerId, 'video').packets;
      await waitFor(`dave sees ${o.name} again`, () => (dave.receivedFrom(o.peerId, 'video').packets > since + 10 ? true : undefined), 10_000);
    }

    const first = dave.snapshot()[0]!; // the consumer in the first m-section
    const owner = peers.find((p) => p.peerId === first.peerId)!;
    peers.splice(peers.indexOf(owner), 1);
    await owner.leave();
    await waitFor(
      `dave's consumers of ${owner.name} closed`,
      () => ([...dave.room.consumers.values()].some((c) => c.peerId === owner.peerId) ? undefined : true),
      10_000,
    );
    const erin = await NodePeer.join({ wsUrl: region.wsUrl, token: await region.mintToken({ room: ROOM, identity: 'erin', name: 'erin' }), name: 'erin' });
    peers.push(erin);
    for (const kind of KINDS)
      await waitFor(`dave receives erin's ${kind}`, () => (dave.receivedFrom(erin.peerId, kind).packets > 10 ? true : undefined), 15_000);
    assert.ok(
      dave.events.every((e) => !e.startsWith('error')),
      dave.events.join('\n'),
    );
  });
});
