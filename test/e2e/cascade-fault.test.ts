/**
 * kill -9 of one media node in the middle of a cascaded call of Node WebRTC peers: the peers
 * on the other nodes keep their local media without a gap; the peers that were on the dead
 * node are moved by the gateway to a live leg, set up their media again with the client
 * library and are heard and seen again; and nothing of the dead node is left (no leg in the
 * placement, no peer record naming it, no link to it on the living nodes).
 */
import { flowingLinkStreams, legsOf, peersOf } from '@strata/harness';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'fault';

describe('a media node killed mid-call', { timeout: 180_000 }, () => {
  let region: Region;
  const peers: NodePeer[] = [];

  before(async () => {
    region = await startRegion({
      mediaNodes: 3,
      env: {
        SIGNALING_ROOM_LEG_SIZE: '3',
        SIGNALING_TURN: 'false',
        // Everyone fits the view: every peer receives every other peer.
        MEDIA_SPEAKERS_K: '8',
        HEARTBEAT_INTERVAL: '500ms',
      },
    });
    for (const name of ['a1', 'a2', 'a3', 'b1', 'b2']) {
      const token = await region.mintToken({ room: ROOM, identity: name, name });
      peers.push(await NodePeer.join({ wsUrl: region.wsUrl, token, name }));
    }
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.leave().catch(() => undefined)));
    await region?.stop();
  });

  it('keeps the other nodes’ local media flowing, moves the dead node’s peers and leaves nothing of it behind', async () => {
    const [a1, a2, a3, b1, b2] = peers as [NodePeer, NodePeer, NodePeer, NodePeer, NodePeer];
    const moved = [a1, a2, a3];
    const nodeOf = await peersOf(region, ROOM);
    const dead = nodeOf.get(a1.peerId)!;
    assert.equal(nodeOf.get(a2.peerId), dead);
    assert.equal(nodeOf.get(a3.peerId), dead);
    const survivor = nodeOf.get(b1.peerId)!;
    const idle = ['media-1', 'media-2', 'media-3'].find((n) => n !== dead && n !== survivor)!;
    const survivors = [survivor, idle];
    for (const p of peers)
      await waitFor(
        `${p.name} receives everyone`,
        () => (peers.every((o) => o === p || p.receivedFrom(o.peerId, 'video').packets > 10) ? true : undefined),
        20_000,
      );

    // The local pair on the surviving node.
    const local: [NodePeer, NodePeer][] = [
      [b1, b2],
      [b2, b1],
    ];
    const before = new Map(local.map(([rx, tx]) => [rx, rx.receivedFrom(tx.peerId, 'audio').packets]));
    const lostBefore = new Map(
      local.map(([rx, tx]) => [
        rx,
        rx
          .snapshot()
          .filter((s) => s.peerId === tx.peerId)
          .reduce((n, s) => n + s.lost, 0),
      ]),
    );
    const proc = region.processes.find((p) => p.kind === 'media' && p.name === dead);
    assert.ok(proc, `the process of ${dead}`);
    proc.kill9();

    // The dead node's peers are moved: they publish again and everyone gets their media again.
    // One goes to the surviving leg (it had room for one), two to a new leg on the idle node.
    await waitFor(
      'a1, a2 and a3 moved',
      async () => {
        const now = await peersOf(region, ROOM);
        return [a1, a2, a3].every((p) => survivors.includes(now.get(p.peerId) ?? '')) ? now : undefined;
      },
      30_000,
    );
    // The moved peers hear everyone again, on fresh transports; the others hear them again on
    // new consumers of their new producers.
    for (const rx of peers) {
      for (const tx of peers) {
        if (rx === tx || (!moved.includes(rx) && !moved.includes(tx))) continue;
        const since = rx.receivedFrom(tx.peerId, 'audio').packets;
        await waitFor(
          `${rx.name} hears ${tx.name} after the move`,
          () => (rx.receivedFrom(tx.peerId, 'audio').packets > since + 10 ? true : undefined),
          30_000,
        );
      }
    }
    for (const p of peers)
      assert.ok(
        p.events.every((e) => !e.startsWith('error')),
        `${p.name}: ${p.events.join('\n')}`,
      );

    // The surviving nodes' local media never stopped: no sequence gap on their local consumers.
    for (const [rx, tx] of local) {
      assert.ok(rx.receivedFrom(tx.peerId, 'audio').packets > before.get(rx)! + 50, `${rx.name} kept hearing ${tx.name}`);
      const lost = rx
        .snapshot()
        .filter((s) => s.peerId === tx.peerId)
        .reduce((n, s) => n + s.lost, 0);
      assert.equal(lost, lostBefore.get(rx), `${rx.name} lost nothing from ${tx.name} (same node)`);
    }

    // And a newcomer, who never knew the dead node, hears and sees them too.
    const late = await NodePeer.join({ wsUrl: region.wsUrl, token: await region.mintToken({ room: ROOM, identity: 'late', name: 'late' }), name: 'late' });
    peers.push(late);
    for (const tx of [a1, a2, a3]) {
      await waitFor(
        `the newcomer hears ${tx.name}`,
        () => (late.receivedFrom(tx.peerId, 'audio').packets > 10 && late.receivedFrom(tx.peerId, 'video').packets > 10 ? true : undefined),
        30_000,
      );
    }
    // Nothing of the dead node is left.
    assert.ok(!(await legsOf(region, ROOM))?.includes(dead), 'no leg on the dead node');
    assert.ok(![...(await peersOf(region, ROOM)).values()].includes(dead), 'no peer record names it');
    const { sent, received } = await flowingLinkStreams(region, ROOM, survivors);
    for (const link of [...sent.keys(), ...received.keys()]) assert.ok(!link.includes(dead), `no link to ${dead}: ${link}`);
  });
});
