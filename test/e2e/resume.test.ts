/**
 * Session resume through a real region: a peer whose signaling socket dies mid-call gets its
 * session back on a new socket (resume token, ICE restart) while media keeps flowing both
 * ways; a peer that never comes back is removed when the grace period ends.
 */
import type { ResumeResult } from '@strata/client';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer, joinAs, type Totals } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'resume-1';
const GRACE_MS = 2000;

/** Waits until every total of `read()` has grown by at least `by[i]` packets from now. */
async function grows(what: string, read: () => Totals[], by: number[]): Promise<void> {
  const before = read().map((t) => t.packets);
  await waitFor(what, () => (read().every((t, i) => t.packets - before[i]! >= by[i]!) ? true : undefined), 15_000, 50);
}

describe('signaling resume', { timeout: 120_000 }, () => {
  let region: Region;
  const peers: NodePeer[] = [];
  const join = (name: string): Promise<NodePeer> => joinAs(region, ROOM, name, peers);
  /** What `p` receives from `from`, audio and video. */
  const flow = (p: NodePeer, from: NodePeer) => [p.receivedFrom(from.peerId, 'audio'), p.receivedFrom(from.peerId, 'video')];

  before(async () => {
    region = await startRegion({ env: { SIGNALING_RESUME_GRACE: `${GRACE_MS}ms` } });
  });

  after(async () => {
    await Promise.allSettled(peers.map((p) => p.leave()));
    await region?.stop();
  });

  it('a dropped socket resumes the session and media keeps flowing both ways', async (t) => {
    const alice = await join('alice');
    const bob = await join('bob');
    await waitFor(
      'media both ways',
      () => (flow(alice, bob).every((x) => x.packets > 0) && flow(bob, alice).every((x) => x.packets > 0) ? true : undefined),
      20_000,
    );

    const aliceId = alice.peerId;
    const consumersBefore = [...alice.room.consumers.keys()].sort();
    const resumed = alice.room.next('resumed');
    const states: string[] = [];
    alice.room.on('connectionState', (s) => states.push(s));
    alice.signaling.dropConnectionForTest();
    const [res] = (await Promise.race([
      resumed,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no resume; events: ${alice.events.join(', ')}`)), 10_000)),
    ])) as [ResumeResult];

    assert.deepEqual(states, ['reconnecting', 'connected']);
    assert.equal(alice.signaling.reconnects, 1);
    assert.equal(res.peerId, aliceId, 'same peer after resume');
    assert.deepEqual(res.transports.map((x) => x.direction).sort(), ['recv', 'send'], 'both transports come back with new ICE parameters');
    assert.equal(res.producers.length, 2);
    assert.deepEqual(res.consumers.map((c) => c.consumerId).sort(), consumersBefore);
    assert.deepEqual([...alice.room.consumers.keys()].sort(), consumersBefore, 'no consumer was lost');

    // One ICE restart per transport, with the parameters of the resume answer.
    assert.deepEqual(alice.room.iceRestarts, { send: 1, recv: 1 });
    assert.deepEqual(bob.room.iceRestarts, { send: 0, recv: 0 });

    // Past the grace period the resumed session must not be reaped by the old timer: wait until
    // it is over, then media must still flow both ways.
    const resumedAt = Date.now();
    await grows('media both ways after the resume', () => [...flow(alice, bob), ...flow(bob, alice)], [25, 12, 25, 12]);
    await waitFor('the old grace period to be over', () => (Date.now() - resumedAt > GRACE_MS + 1000 ? true : undefined), GRACE_MS + 5000, 100);
    await grows('media both ways after the old grace period', () => [...flow(alice, bob), ...flow(bob, alice)], [25, 12, 25, 12]);
    t.diagnostic(`after resume: alice got ${flow(alice, bob).map((x) => x.packets)} (audio, video) pkts from bob in all`);
    assert.ok(bob.room.peers.has(aliceId), 'bob never saw alice leave');
    assert.ok(!bob.events.some((e) => e.startsWith(`peerLeft:${aliceId}`)), bob.events.join(', '));

    // The resumed socket carries requests and room notifications again.
    await alice.signaling.request('getTransportStats', { transportId: alice.room.sendTransport!.id });
    const carol = await join('carol');
    await waitFor('alice to consume carol after the resume', () => (alice.receivedFrom(carol.peerId, 'video').packets > 0 ? true : undefined), 20_000);
    await carol.leave();
    peers.splice(peers.indexOf(carol), 1);
  });

  it('a peer that never comes back is removed after the grace period: the others get peerLeft', async () => {
    const [alice, bob] = peers as [NodePeer, NodePeer];
    const dave = await join('dave');
    const daveId = dave.peerId;
    await waitFor(
      'alice and bob to receive dave',
      () => (alice.receivedFrom(daveId, 'audio').packets > 0 && bob.receivedFrom(daveId, 'audio').packets > 0 ? true : undefined),
      20_000,
    );

    const t0 = Date.now();
    dave.stopSending();
    dave.signaling.dropConnectionForTest({ reconnect: false });
    await waitFor('dave removed', () => (!alice.room.peers.has(daveId) && !bob.room.peers.has(daveId) ? true : undefined), GRACE_MS + 10_000, 50);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= GRACE_MS - 300, `removed after ${elapsed} ms, not before the ${GRACE_MS} ms grace period`);
    for (const p of [alice, bob]) {
      assert.ok(p.events.includes(`peerLeft:${daveId}:timeout`), p.events.join(', '));
      assert.equal([...p.room.consumers.values()].filter((c) => c.peerId === daveId).length, 0, `${p.name} closed dave's consumers`);
    }
    assert.equal(dave.signaling.state, 'closed');
    await dave.room.leave(); // closes dave's transports locally
    peers.splice(peers.indexOf(dave), 1);

    // The session is gone: its resume token is refused.
    const raw = await RawSocket.open(region.wsUrl);
    const r = await raw.request('resume', { resumeToken: dave.room.joinResult!.resumeToken });
    raw.close();
    assert.equal(r.error?.code, 'UNAUTHORIZED', JSON.stringify(r));
  });
});
