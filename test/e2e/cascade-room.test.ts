/**
 * One room over three media nodes, as a user runs it: one gateway, three media node processes,
 * a per-leg share of three, and nine Node WebRTC peers (real ICE, DTLS, SRTP) publishing Opus
 * with RFC 6464 levels and VP8, following the room view with the client library. What crosses
 * the links between nodes is read from mediasoup's own stats on both ends, and must be what the
 * design predicts: the speakers' streams that someone on the far node watches, nothing else.
 */
import { flowingLinkStreams, peersOf, type LinkFlows } from '@strata/harness';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'townhall';
const NODES = ['media-1', 'media-2', 'media-3'];

describe('a cascaded room with Node WebRTC peers on three media nodes', { timeout: 240_000 }, () => {
  let region: Region;
  const peers = new Map<string, NodePeer>();
  let nodeOf = new Map<string, string>();

  /** Which producers cross which link, by the names of their peers (`s1:audio`), for readable failures. */
  const named = (flows: LinkFlows): Record<string, string[]> => {
    const producerName = new Map<string, string>();
    for (const [name, p] of peers) for (const local of p.room.producers.values()) producerName.set(local.producerId, `${name}:${local.kind}`);
    const out: Record<string, string[]> = {};
    for (const [link, ids] of flows) out[link] = [...ids].map((id) => producerName.get(id) ?? id).sort();
    return byLink(out);
  };
  const byLink = (flows: Record<string, string[]>): Record<string, string[]> =>
    Object.fromEntries(Object.entries(flows).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  const nodeName = (name: string) => nodeOf.get(peers.get(name)!.peerId)!;

  /** What the design predicts from the peers' views: a producer crosses X→Y when a peer on Y has it in view. */
  const predicted = (): Record<string, string[]> => {
    const flows: LinkFlows = new Map();
    for (const [, p] of peers) {
      const here = nodeOf.get(p.peerId)!;
      for (const producerId of p.room.view) {
        const owner = [...peers.values()].find((o) => [...o.room.producers.keys()].includes(producerId));
        const there = owner && nodeOf.get(owner.peerId);
        if (!there || there === here) continue;
        const link = `${there}>${here}`;
        flows.set(link, (flows.get(link) ?? new Set()).add(producerId));
      }
    }
    return named(flows);
  };

  /** Waits until the links carry exactly `expected` (names) on both ends, as mediasoup counts them. */
  async function linksCarry(what: string, expected: () => Record<string, string[]>, timeoutMs = 30_000): Promise<void> {
    let last = '';
    try {
      await waitFor(
        what,
        async () => {
          const { sent, received } = await flowingLinkStreams(region, ROOM, NODES, 800);
          // Links in one order on both sides: which node gets which leg is not fixed, so neither is the callers' order.
          const want = JSON.stringify(byLink(expected()));
          last = `sent ${JSON.stringify(named(sent))}, received ${JSON.stringify(named(received))}, expected ${want}, views (size, consumers, errors) ${JSON.stringify([...peers].map(([n, p]) => [n, p.room.view.size, p.room.consumers.size, p.events.filter((e) => e.startsWith('error'))]))}`;
          return JSON.stringify(named(sent)) === want && JSON.stringify(named(received)) === want ? true : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${last}`);
    }
  }

  before(async () => {
    region = await startRegion({
      mediaNodes: 3,
      env: {
        SIGNALING_ROOM_LEG_SIZE: '3',
        SIGNALING_TURN: 'false',
        MEDIA_SPEAKERS_K: '5',
        MEDIA_SPEAKER_HOLD: '1s',
        MEDIA_LINK_LINGER: '500ms',
      },
    });
    // Joined one after the other, so the legs fill in order: s1 s2 q1 | s3 s4 q2 | s5 q3 q4.
    for (const name of ['s1', 's2', 'q1', 's3', 's4', 'q2', 's5', 'q3', 'q4']) {
      const speaker = name.startsWith('s');
      const token = await region.mintToken({ room: ROOM, identity: name, name });
      // Speakers watch no video (so what they pull is only audio); the quiet ones one tile for now.
      peers.set(name, await NodePeer.join({ wsUrl: region.wsUrl, token, name, videoSlots: speaker ? 0 : 1 }));
    }
    nodeOf = await peersOf(region, ROOM);
    assert.equal(new Set(nodeOf.values()).size, 3, 'three legs');
    assert.deepEqual(
      ['s1', 's3', 's5'].map(nodeName),
      [nodeName('s2'), nodeName('s4'), nodeName('q3')],
      `legs filled in join order: ${JSON.stringify([...nodeOf])}`,
    );
  });

  after(async () => {
    await Promise.all([...peers.values()].map((p) => p.leave().catch(() => undefined)));
    await region?.stop();
  });

  it('one speaker: its audio and video cross to each other node, and nothing else crosses', async () => {
    peers.get('s1')!.speak(true);
    const [a, b, c] = ['s1', 's3', 's5'].map(nodeName) as [string, string, string];
    await linksCarry('s1 on every link from its node', () => ({ [`${a}>${b}`]: ['s1:audio', 's1:video'], [`${a}>${c}`]: ['s1:audio', 's1:video'] }));
    assert.deepEqual(predicted(), { [`${a}>${b}`]: ['s1:audio', 's1:video'], [`${a}>${c}`]: ['s1:audio', 's1:video'] }, 'the views agree');
    // Peers on the other nodes receive s1 over the links (counted after decryption).
    for (const name of ['q2', 'q3', 'q4']) {
      await waitFor(`${name} receives s1`, () => (peers.get(name)!.receivedFrom(peers.get('s1')!.peerId, 'video').packets > 20 ? true : undefined), 15_000);
    }
  });

  it('five speakers with K = 5: each speaker’s two streams to each other node, no quiet peer’s stream on any link', async () => {
    for (const s of ['s2', 's3', 's4', 's5']) peers.get(s)!.speak(true);
    for (const q of ['q1', 'q2', 'q3', 'q4']) peers.get(q)!.room.setVideoSlots(5);
    const [a, b, c] = ['s1', 's3', 's5'].map(nodeName) as [string, string, string];
    const two = (...names: string[]) => names.flatMap((n) => [`${n}:audio`, `${n}:video`]).sort();
    const expected = {
      [`${a}>${b}`]: two('s1', 's2'),
      [`${a}>${c}`]: two('s1', 's2'),
      [`${b}>${a}`]: two('s3', 's4'),
      [`${b}>${c}`]: two('s3', 's4'),
      [`${c}>${a}`]: two('s5'),
      [`${c}>${b}`]: two('s5'),
    };
    await linksCarry('the five speakers on the links', () => expected);
    assert.deepEqual(predicted(), expected, 'the views agree');
  });

  it('speaker change: a quiet peer who starts talking reaches the other nodes; the one who stopped leaves the links after the hold and linger times', async () => {
    peers.get('s5')!.speak(false);
    peers.get('q1')!.speak(true);
    const [a, b, c] = ['s1', 's3', 's5'].map(nodeName) as [string, string, string];
    await waitFor('q1 ranked in', () => (peers.get('q2')!.room.speakers?.audio.includes(peers.get('q1')!.peerId) ? true : undefined), 15_000);
    // s5 is out of the quiet peers' top five: nobody on A or B watches it any more (q1 still
    // shows it in a free tile of its own), and q1's streams now cross to B and C.
    await linksCarry('q1 in, s5 out', predicted);
    const now = predicted();
    assert.ok(now[`${a}>${b}`]?.includes('q1:video') && now[`${a}>${c}`]?.includes('q1:audio'), JSON.stringify(now));
    assert.ok(!(now[`${c}>${b}`] ?? []).some((x) => x.startsWith('s5')), `s5 no longer crosses to B: ${JSON.stringify(now)}`);
  });
});
