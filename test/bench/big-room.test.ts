/**
 * The big-room benchmark, short: three media node processes, five participants on each (two
 * publishers, three light subscribers, all probes), 1 then 5 speakers. Asserts what crosses the
 * links, from mediasoup's stats on both ends, against what the views predict and against the
 * numbers the design gives; that every consumer got RTP; no CPU or timing figure.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BigRoom } from '../../bench/lib/big-room.js';
import { linksTotal, total, type PhaseFigures } from '../../bench/lib/big-room-report.js';

describe('big-room benchmark, short', { timeout: 240_000 }, () => {
  let room: BigRoom;
  const log = (msg: string) => void process.stderr.write(`  ${msg}\n`);
  const streams = (p: PhaseFigures) =>
    Object.fromEntries(
      p.links.filter((l) => total(l.measured) > 0).map((l) => [`${l.from.slice(-1)}>${l.to.slice(-1)}`, `${l.measured.audio}a${l.measured.video}v`]),
    );
  const checkPhase = (p: PhaseFigures) => {
    for (const l of p.links) {
      assert.deepEqual(l.mismatch, [], `${l.from}→${l.to} carries what its subscribers' views hold`);
      assert.deepEqual(l.measured, l.predicted, `${l.from}→${l.to}: measured from the sender's stats = predicted`);
      assert.equal(l.received, total(l.measured), `${l.from}→${l.to}: the receiving end sees the same streams flowing`);
      assert.equal(l.idle, 0, `${l.from}→${l.to}: nothing left set up once the views settled`);
      assert.equal(l.baselineStreams, 10, 'every participant to every node: 5 × (audio + video)');
    }
    // Read again with everyone watching (when the nodes answered in time): the same streams.
    for (const l of p.linksWhenAllWatch ?? []) assert.deepEqual(l.measured, p.links.find((x) => x.from === l.from && x.to === l.to)?.measured);
    assert.ok(p.probeConsumers > 0);
    assert.equal(p.silentProbeConsumers, 0, 'every consumer received RTP in the window');
  };

  before(async () => {
    room = await BigRoom.start({ perNode: 5, publishersPerNode: 2, probesPerNode: 3, log });
    await room.measureIdle(1000);
  });
  after(async () => {
    await room?.stop();
  });

  it('1 speaker: its audio and video go from its node to each other node, nothing else crosses', async () => {
    const p = await room.runPhase({ speakers: 1, videoSlots: 1 }, 2000, 1500);
    checkPhase(p);
    assert.deepEqual(streams(p), { 'a>b': '1a1v', 'a>c': '1a1v' });
    assert.equal(total(linksTotal(p.links).measured), 4);
    assert.equal(
      p.nodes.reduce((n, x) => n + x.consumers, 0),
      9 * 2,
      'nine light participants, each one audio and one video consumer',
    );
  });

  it('5 speakers, 1 video slot: every speaker’s audio to the other nodes, the latest speaker’s video', async () => {
    const p = await room.runPhase({ speakers: 5, videoSlots: 1 }, 2000, 1500);
    checkPhase(p);
    // Speakers 0..4 on a, b, c, a, b: their audio from each node to the two others; the video of
    // the latest speaker (every leg ranks the same one first; speaker 4, unless the machine lags).
    const latest = room.rankings.get('media-a')?.order[0];
    for (const node of room.nodes) assert.equal(room.rankings.get(node)?.order[0], latest, `${node} ranks the same latest speaker first`);
    const home = room.publishers.find((x) => x.peerId === latest)!.node.slice(-1);
    const audio: Record<string, number> = { a: 2, b: 2, c: 1 };
    const want = Object.fromEntries(['a>b', 'a>c', 'b>a', 'b>c', 'c>a', 'c>b'].map((k) => [k, `${audio[k[0]!]}a${k[0] === home ? 1 : 0}v`]));
    assert.deepEqual(streams(p), want);
    assert.equal(total(linksTotal(p.links).measured), 12);
  });

  it('5 speakers, 5 video slots: every speaker’s audio and video to the other nodes; the silent publisher’s on no link', async () => {
    const p = await room.runPhase({ speakers: 5, videoSlots: 5 }, 2000, 1500);
    checkPhase(p);
    assert.deepEqual(streams(p), { 'a>b': '2a2v', 'a>c': '2a2v', 'b>a': '2a2v', 'b>c': '2a2v', 'c>a': '1a1v', 'c>b': '1a1v' });
    assert.equal(total(linksTotal(p.links).measured), 20);
  });
});
