/** The big-room benchmark's arithmetic: prediction from views, link figures from stats, the every-participant baseline, the verdicts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bigRoomResults,
  briefAnswers,
  deliveryProblems,
  linkFigures,
  linkKey,
  perConsumer,
  perPacketUs,
  phaseProblems,
  predictLinks,
  type Kind,
  type LinkSnapshot,
  type PhaseFigures,
  type StreamStat,
} from '../../bench/lib/big-room-report.js';
import { udpDrops } from '../../bench/lib/drain.js';
import { judge } from '../../bench/lib/results.js';

const NODES = ['a', 'b', 'c'];
// Speaker s1 on a (audio a1, video v1), s2 on b (a2, v2).
const HOME = new Map<string, { node: string; kind: Kind }>([
  ['a1', { node: 'a', kind: 'audio' }],
  ['v1', { node: 'a', kind: 'video' }],
  ['a2', { node: 'b', kind: 'audio' }],
  ['v2', { node: 'b', kind: 'video' }],
]);

const stat = (kind: Kind, packets: number, bytes = packets * 100, paused = false): StreamStat => ({ kind, paused, packets, bytes });
const snap = (entries: Record<string, { sending?: Record<string, StreamStat>; receiving?: Record<string, StreamStat> }>): LinkSnapshot =>
  new Map(
    Object.entries(entries).map(([far, x]) => [
      far,
      { sending: new Map(Object.entries(x.sending ?? {})), receiving: new Map(Object.entries(x.receiving ?? {})) },
    ]),
  );

describe('big room: what the views predict on each link', () => {
  it('is every far producer some subscriber there watches, once per link, never a producer of the node itself', () => {
    const views = new Map([
      ['a', [new Set(['a2', 'v2']), new Set(['a2'])]],
      ['b', [new Set(['a1', 'v1', 'a2'])]], // a2 lives on b: no link stream for it
      ['c', [new Set(['a1']), new Set(['a1', 'v2']), new Set(['a1'])]],
    ]);
    const p = predictLinks(NODES, views, HOME);
    assert.deepEqual([...p.keys()], ['a>b', 'a>c', 'b>a', 'b>c', 'c>a', 'c>b']);
    assert.deepEqual(
      [...p.get(linkKey('a', 'b'))!],
      [
        ['a1', 'audio'],
        ['v1', 'video'],
      ],
    );
    assert.deepEqual([...p.get('a>c')!.keys()], ['a1'], 'three subscribers on c, one stream');
    assert.deepEqual([...p.get('b>a')!.keys()].sort(), ['a2', 'v2']);
    assert.deepEqual([...p.get('b>c')!.keys()], ['v2']);
    assert.equal(p.get('c>a')!.size + p.get('c>b')!.size, 0);
  });
});

describe('big room: link figures from two link.stats snapshots', () => {
  const predicted = predictLinks(NODES, new Map([['b', [new Set(['a1', 'v1'])]]]), HOME);
  const participants = new Map(NODES.map((n) => [n, 500]));
  const rates = { audioBytesPerSec: 3000, videoBytesPerSec: 50_000 };

  it('counts streams that carried packets in the window, from the sender, and checks the receiving end', () => {
    const before = new Map([
      ['a', snap({ b: { sending: { a1: stat('audio', 100), v1: stat('video', 1000), x: stat('audio', 5, 500, true) } } })],
      ['b', snap({ a: { receiving: { a1: stat('audio', 100), v1: stat('video', 1000) } } })],
    ]);
    const after = new Map([
      ['a', snap({ b: { sending: { a1: stat('audio', 600), v1: stat('video', 1300), x: stat('audio', 5, 500, true) } } })],
      ['b', snap({ a: { receiving: { a1: stat('audio', 600), v1: stat('video', 1300) } } })],
    ]);
    const [ab, ac] = linkFigures(
      NODES,
      before,
      after,
      10_000,
      predicted,
      participants,
      rates,
      new Map([
        ['a1', 5000],
        ['v1', 3000],
      ]),
    );
    assert.deepEqual(ab!.measured, { audio: 1, video: 1 });
    assert.deepEqual(ab!.predicted, { audio: 1, video: 1 });
    assert.equal(ab!.received, 2);
    assert.equal(ab!.idle, 1, 'x is set up (paused) and carried nothing: idle, and not a measured stream');
    assert.deepEqual(ab!.mismatch, []);
    assert.equal(ab!.bytesPerSec, (500 * 100 + 300 * 100) / 10);
    assert.equal(ab!.predictedBytesPerSec, 8000);
    assert.equal(ab!.baselineStreams, 1000, 'every one of the 500 participants of a, audio and video, to b');
    assert.equal(ab!.baselineBytesPerSec, 500 * 53_000);
    assert.deepEqual(ac!.measured, { audio: 0, video: 0 });
  });

  it('names a stream that flows unpredicted or is predicted and does not flow; a re-created stream counts from zero', () => {
    const before = new Map([['a', snap({ b: { sending: { v1: stat('video', 5000) } } })]]);
    const after = new Map([['a', snap({ b: { sending: { v1: stat('video', 300), a2x: stat('audio', 50) } } })]]);
    const [ab] = linkFigures(NODES, before, after, 10_000, predicted, participants, rates);
    assert.equal(ab!.packetsPerSec, 35, 'v1 restarted at 0: its 300 packets count, not -4700');
    assert.deepEqual(ab!.mismatch, ['a1 predicted, not flowing', 'a2x flowing, not predicted']);
  });
});

const phase = (over: Partial<PhaseFigures> = {}): PhaseFigures => ({
  speakers: 1,
  videoSlots: 1,
  layer: 2,
  windowMs: 10_000,
  deliveryWindowMs: 10_000,
  linksWhenAllWatch: undefined,
  probeConsumers: 4,
  silentProbeConsumers: 0,
  problems: [],
  deliveryProblems: [],
  links: [
    {
      from: 'a',
      to: 'b',
      predicted: { audio: 1, video: 1 },
      measured: { audio: 1, video: 1 },
      received: 2,
      idle: 0,
      bytesPerSec: 37_000,
      predictedBytesPerSec: 36_000,
      packetsPerSec: 80,
      baselineStreams: 1000,
      baselineBytesPerSec: 28e6,
      mismatch: [],
    },
  ],
  nodes: [{ id: 'a', cpu: 30, cpuIdle: 2, consumers: 1000, deliveredPps: 40_000, expectedPps: 40_000 }],
  ...over,
});

describe('big room: CPU figures and verdicts', () => {
  it('takes the marginal CPU per consumer and per delivered packet, NaN when there is nothing to divide by', () => {
    assert.equal(perConsumer({ cpu: 30, cpuIdle: 2, consumers: 1000 }), 0.028);
    assert.ok(Math.abs(perPacketUs({ cpu: 30, cpuIdle: 2, deliveredPps: 40_000 }) - 7) < 1e-9);
    assert.ok(Number.isNaN(perConsumer({ cpu: 30, cpuIdle: 2, consumers: 0 })));
    assert.ok(Number.isNaN(perPacketUs({ cpu: 30, cpuIdle: 2, deliveredPps: 0 })));
  });

  it('flags a saturated node, a wrong layer on a link and silent probes', () => {
    const p = phase({ silentProbeConsumers: 2 });
    p.nodes[0]!.deliveredPps = 30_000;
    p.links[0]!.bytesPerSec = 90_000; // the top layer where the middle one was asked for
    const links = phaseProblems(p);
    assert.equal(links.length, 1);
    assert.match(links[0]!, /a→b: 90.0 kB\/s against 36.0 kB\/s/);
    const delivery = deliveryProblems(p);
    assert.equal(delivery.length, 2);
    assert.match(delivery[0]!, /a: subscribers got 75.0 %/);
    assert.match(delivery[1]!, /2 probe consumer/);
  });

  it('judges measured against predicted streams as met only when equal, and never a CPU ratio without a baseline', () => {
    const meta = { machine: 'm', date: '2026-12-01', perNode: 500, nodes: 3, notes: [] };
    const single = { consumers: 500, perConsumer: 0.07, perPacketUs: 12, problems: [] };
    const rows = bigRoomResults([phase()], single, meta).map((r) => judge(r, 'x.json'));
    const saturated = bigRoomResults([phase({ deliveryProblems: ['a: saturated'] })], single, meta).map((r) => judge(r, 'x.json'));
    assert.deepEqual(
      saturated.map((r) => r.why),
      [[], [], [], ['a: saturated']],
      'a saturated delivery window puts the CPU figure in doubt, not the links read in their own window',
    );
    assert.deepEqual(
      rows.map((r) => [r.figure.split(':')[1]?.trim(), r.status]),
      [
        ['measured / predicted by the views', 'met'],
        ['ours / every participant to every node', 'no goal'],
        ['ours / every participant (all layers) to every node', 'no goal'],
        ['big room (3 nodes) / single node (forwarding)', 'no goal'],
      ],
    );
    assert.equal(rows[1]!.ratio, 2 / 1000);
    const more = phase();
    more.links[0]!.measured = { audio: 1, video: 2 };
    assert.equal(judge(bigRoomResults([more], single, meta)[0]!, 'x').status, 'NOT MET');
    const none = phase();
    none.links[0]!.predicted = { audio: 0, video: 0 };
    none.links[0]!.measured = { audio: 0, video: 0 };
    assert.equal(judge(bigRoomResults([none], single, meta)[0]!, 'x').status, 'invalid', '0 / 0 is not a match');
    assert.equal(judge(bigRoomResults([phase()], undefined, meta)[3]!, 'x').status, 'invalid', 'no single-node figure: NaN');
  });

  it("answers the brief's questions from the measured counts", () => {
    const [ab, added] = briefAnswers([phase()], 500, ['a', 'b', 'c']);
    assert.match(ab!, /a→b carries 2 stream\(s\) \(1 audio \+ 1 video/);
    assert.match(ab!, /not the 1000 of forwarding all 500 participants of a/);
    assert.match(added!, /adds 2 RTP stream\(s\).*against 1000 to forward every participant/);
  });
});

describe('big room: the drain counts what the kernel dropped', () => {
  it('reads the drops column of /proc/net/udp for 127.0.0.1 ports', () => {
    const table = [
      '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
      '  12: 0100007F:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1001 2 0000000000000000 4242',
      '  13: 00000000:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1002 2 0000000000000000 7',
      '  14: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1003 2 0000000000000000 9',
    ].join('\n');
    assert.deepEqual([...udpDrops(new Set([0xa1b2]), table)], [[0xa1b2, 4242]]);
  });
});
