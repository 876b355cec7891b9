/**
 * The big-room benchmark's arithmetic, apart from the processes: what the views predict on each
 * link, what forwarding every participant to every node would take, the figures of a phase
 * from two snapshots, the printed report, the answers to the brief's questions and the results
 * of record. Pure functions, unit-tested in test/bench/big-room-report.test.ts.
 */
import { usableRatio, type BenchResult } from './results.js';

export type Kind = 'audio' | 'video';

export interface Phase {
  /** Publishers speaking (the first S of them, spread over the nodes). */
  speakers: number;
  /** N: how many speakers' video each subscriber's view holds. */
  videoSlots: number;
}

export interface StreamCount {
  audio: number;
  video: number;
}

export const total = (c: StreamCount): number => c.audio + c.video;

/** `a>b`: the link from node a to node b. */
export const linkKey = (from: string, to: string): string => `${from}>${to}`;

/** Every ordered pair of distinct nodes: A>B, A>C, B>A, ... */
export function linkPairs(nodes: readonly string[]): [string, string][] {
  return nodes.flatMap((a) => nodes.filter((b) => b !== a).map((b) => [a, b] as [string, string]));
}

/**
 * What the design says each link carries: from X to Y, every producer living on X that some
 * subscriber on Y has in view, once (one stream per producer and node pair, however many
 * subscribers there watch it).
 */
export function predictLinks(
  nodes: readonly string[],
  viewsByNode: ReadonlyMap<string, Iterable<ReadonlySet<string>>>,
  home: ReadonlyMap<string, { node: string; kind: Kind }>,
): Map<string, Map<string, Kind>> {
  const out = new Map<string, Map<string, Kind>>();
  for (const [from, to] of linkPairs(nodes)) out.set(linkKey(from, to), new Map());
  for (const to of nodes) {
    for (const view of viewsByNode.get(to) ?? []) {
      for (const producerId of view) {
        const h = home.get(producerId);
        if (!h || h.node === to) continue;
        out.get(linkKey(h.node, to))?.set(producerId, h.kind);
      }
    }
  }
  return out;
}

export const countKinds = (streams: Iterable<Kind>): StreamCount => {
  const c = { audio: 0, video: 0 };
  for (const k of streams) c[k]++;
  return c;
};

/** One stream a link sends or receives, as mediasoup counts it (outbound-rtp of a link consumer, inbound-rtp of a forwarded producer). */
export interface StreamStat {
  kind: Kind;
  paused: boolean;
  packets: number;
  bytes: number;
}

/** What one node's link.stats said: per far node, the streams it sends there and receives from there, by producer. */
export type LinkSnapshot = Map<string, { sending: Map<string, StreamStat>; receiving: Map<string, StreamStat> }>;

export interface LinkFigures {
  from: string;
  to: string;
  predicted: StreamCount;
  /** Streams that carried bytes during the window, from the sending node's stats. */
  measured: StreamCount;
  /** Forwarded producers on `to` from `from` whose inbound bytes grew during the window: the receiving end's view. */
  received: number;
  /** Streams set up but carrying nothing (paused, or not yet closed after the linger time). */
  idle: number;
  bytesPerSec: number;
  /** What the predicted streams should carry: each producer's audio, or the one video layer the far subscribers asked for, at the rate it was sent. */
  predictedBytesPerSec: number;
  packetsPerSec: number;
  /** Every participant on `from` forwarded to `to`, audio and video (all simulcast layers). */
  baselineStreams: number;
  baselineBytesPerSec: number;
  /** Producer ids predicted and not flowing, or flowing and not predicted. */
  mismatch: string[];
}

function flowing(a: Map<string, StreamStat> | undefined, b: Map<string, StreamStat> | undefined): Map<string, { kind: Kind; bytes: number; packets: number }> {
  const out = new Map<string, { kind: Kind; bytes: number; packets: number }>();
  for (const [id, s] of b ?? []) {
    const before = a?.get(id);
    // A stream re-created between the snapshots starts its counters again.
    const bytes = before && before.bytes <= s.bytes ? s.bytes - before.bytes : s.bytes;
    const packets = before && before.packets <= s.packets ? s.packets - before.packets : s.packets;
    if (packets > 0) out.set(id, { kind: s.kind, bytes, packets });
  }
  return out;
}

export interface BaselineRates {
  /** Bytes/s of one participant's audio stream, as its producer receives it. */
  audioBytesPerSec: number;
  /** Bytes/s of one participant's video, every simulcast layer (what a relay of every layer carries). */
  videoBytesPerSec: number;
}

/** The links of one window: measured from both ends' stats against the prediction and the every-participant baseline. */
export function linkFigures(
  nodes: readonly string[],
  before: ReadonlyMap<string, LinkSnapshot>,
  after: ReadonlyMap<string, LinkSnapshot>,
  ms: number,
  predicted: ReadonlyMap<string, Map<string, Kind>>,
  participants: ReadonlyMap<string, number>,
  rates: BaselineRates,
  /** Bytes/s of the stream each producer's link stream should carry (audio, or the video layer asked for). */
  streamRates: ReadonlyMap<string, number> = new Map(),
): LinkFigures[] {
  return linkPairs(nodes).map(([from, to]) => {
    const sent = flowing(before.get(from)?.get(to)?.sending, after.get(from)?.get(to)?.sending);
    const got = flowing(before.get(to)?.get(from)?.receiving, after.get(to)?.get(from)?.receiving);
    const setUp = after.get(from)?.get(to)?.sending ?? new Map<string, StreamStat>();
    const want = predicted.get(linkKey(from, to)) ?? new Map<string, Kind>();
    const mismatch = [
      ...[...want.keys()].filter((id) => !sent.has(id)).map((id) => `${id} predicted, not flowing`),
      ...[...sent.keys()].filter((id) => !want.has(id)).map((id) => `${id} flowing, not predicted`),
    ];
    const n = participants.get(from) ?? 0;
    const secs = ms / 1000;
    return {
      from,
      to,
      predicted: countKinds(want.values()),
      measured: countKinds([...sent.values()].map((s) => s.kind)),
      received: got.size,
      idle: [...setUp.keys()].filter((id) => !sent.has(id)).length,
      bytesPerSec: [...sent.values()].reduce((x, s) => x + s.bytes, 0) / secs,
      predictedBytesPerSec: [...want.keys()].reduce((x, id) => x + (streamRates.get(id) ?? Number.NaN), 0),
      packetsPerSec: [...sent.values()].reduce((x, s) => x + s.packets, 0) / secs,
      baselineStreams: 2 * n,
      baselineBytesPerSec: n * (rates.audioBytesPerSec + rates.videoBytesPerSec),
      mismatch,
    };
  });
}

export interface NodeFigures {
  id: string;
  /** % of one core over the window: the node's process + its worker. */
  cpu: number;
  /** The same, in the window before anyone consumed (senders flowing). */
  cpuIdle: number;
  /** Subscribers' consumers on the node (links' own consumers not counted). */
  consumers: number;
  /** RTP packets per second that arrived at the node's subscribers' sockets. */
  deliveredPps: number;
  /** What the consumers should have sent: each one its producer's packet rate (video: the layer it gets). */
  expectedPps: number;
}

/** Marginal CPU per consumer, % of a core: (CPU − CPU before anyone consumed) / consumers. */
export const perConsumer = (n: Pick<NodeFigures, 'cpu' | 'cpuIdle' | 'consumers'>): number =>
  n.consumers > 0 ? (n.cpu - n.cpuIdle) / n.consumers : Number.NaN;

/** Marginal CPU per packet delivered to a subscriber, µs: (CPU − CPU idle) / delivered packets. */
export const perPacketUs = (n: Pick<NodeFigures, 'cpu' | 'cpuIdle' | 'deliveredPps'>): number =>
  n.deliveredPps > 0 ? ((n.cpu - n.cpuIdle) / 100 / n.deliveredPps) * 1e6 : Number.NaN;

export const sumNodes = (nodes: readonly NodeFigures[]): NodeFigures => ({
  id: 'all',
  cpu: nodes.reduce((a, n) => a + n.cpu, 0),
  cpuIdle: nodes.reduce((a, n) => a + n.cpuIdle, 0),
  consumers: nodes.reduce((a, n) => a + n.consumers, 0),
  deliveredPps: nodes.reduce((a, n) => a + n.deliveredPps, 0),
  expectedPps: nodes.reduce((a, n) => a + n.expectedPps, 0),
});

export interface PhaseFigures extends Phase {
  /** Spatial layer the subscribers asked for. */
  layer: number;
  /** The link window (only the probes watching). */
  windowMs: number;
  /** The delivery window (everyone watching): CPU and packets at the subscribers. */
  deliveryWindowMs: number;
  links: LinkFigures[];
  /** The links read again in the delivery window; undefined when the nodes did not answer in time (saturated). */
  linksWhenAllWatch: LinkFigures[] | undefined;
  nodes: NodeFigures[];
  /** Probe subscribers (own counting sockets): consumers that got no RTP in the window. */
  silentProbeConsumers: number;
  probeConsumers: number;
  /** What puts the phase's figures in doubt: the set-up (ranking, failed requests) and the link window. */
  problems: string[];
  /** What puts the delivery window's (CPU) figures in doubt, on top of `problems`. */
  deliveryProblems: string[];
}

/** The forwarding benchmark's single-node figure measured in the same run (bench/lib/single-node.ts). */
export interface SingleNodeFigure {
  consumers: number;
  /** % core per consumer, marginal. */
  perConsumer: number;
  /** µs per delivered packet, marginal. */
  perPacketUs: number;
  problems: string[];
}

/** Delivered below this share of what the consumers should send: the node did not keep up, and its CPU figure is a saturated one. */
export const MIN_DELIVERED = 0.99;
/** A link's bytes may differ this much from its streams' send rate: the link rewrites headers (about 8 bytes more per audio packet of 60), and timing. A wrong layer is a factor of 2 to 7. */
export const BYTES_TOLERANCE = 0.25;

/** What puts the link window's figures in doubt: a link off its prediction, or carrying other layers than asked. */
export function phaseProblems(p: Pick<PhaseFigures, 'links'>): string[] {
  const out: string[] = [];
  for (const l of p.links) {
    if (l.mismatch.length) out.push(`${l.from}→${l.to}: ${l.mismatch.join(', ')}`);
    // More bytes than the layers asked for: a higher layer (or every layer) crosses; fewer: packets were lost on the way.
    const r = l.bytesPerSec / l.predictedBytesPerSec;
    if (l.predictedBytesPerSec > 0 && !(r >= 1 - BYTES_TOLERANCE && r <= 1 + BYTES_TOLERANCE))
      out.push(
        `${l.from}→${l.to}: ${(l.bytesPerSec / 1000).toFixed(1)} kB/s against ${(l.predictedBytesPerSec / 1000).toFixed(1)} kB/s for the streams and layers its subscribers need`,
      );
  }
  return out;
}

/** What puts the delivery window's figures (CPU) in doubt: a saturated node, a silent probe, links that changed once everyone watched. */
export function deliveryProblems(
  p: Pick<PhaseFigures, 'links' | 'nodes' | 'silentProbeConsumers'> & Partial<Pick<PhaseFigures, 'linksWhenAllWatch'>>,
): string[] {
  const out: string[] = [];
  // Everyone watching must not change what crosses: the same streams on every link.
  for (const l of p.linksWhenAllWatch ?? []) {
    const probes = p.links.find((x) => x.from === l.from && x.to === l.to);
    if (probes && (l.measured.audio !== probes.measured.audio || l.measured.video !== probes.measured.video))
      out.push(`${l.from}→${l.to}: ${total(l.measured)} streams with everyone watching, ${total(probes.measured)} with the probes watching`);
  }
  for (const n of p.nodes) {
    const share = n.expectedPps > 0 ? n.deliveredPps / n.expectedPps : Number.NaN;
    if (n.expectedPps > 0 && !(share >= MIN_DELIVERED))
      out.push(`${n.id}: subscribers got ${(share * 100).toFixed(1)} % of the packets their consumers should send (node saturated or sockets overrun)`);
  }
  if (p.silentProbeConsumers > 0) out.push(`${p.silentProbeConsumers} probe consumer(s) received no RTP in the window`);
  return out;
}

const f = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : String(x));
const kB = (bytesPerSec: number): string => f(bytesPerSec / 1000, 1);
const ratio = (a: number, b: number): string => {
  const r = a / b;
  return usableRatio(r) ? r.toPrecision(3) : String(r);
};
const streams = (c: StreamCount): string => `${total(c)} (${c.audio}a+${c.video}v)`;

function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export const phaseName = (p: Phase): string => `${p.speakers} speaker${p.speakers === 1 ? '' : 's'}, N=${p.videoSlots}`;

export function formatPhase(p: PhaseFigures, single: SingleNodeFigure | undefined): string {
  const out: string[] = [];
  out.push(
    `== ${phaseName(p)} (${p.videoSlots} video slot(s) per subscriber, layer ${p.layer} asked); link window ${f(p.windowMs / 1000, 1)} s, the probes watching`,
  );
  out.push(
    table(
      [
        'link',
        'predicted',
        'measured',
        'received',
        'idle',
        'kB/s',
        'predicted kB/s',
        'pkts/s',
        'every participant: streams',
        'kB/s',
        'streams ratio',
        'bytes ratio',
      ],
      p.links.map((l) => [
        `${l.from}→${l.to}`,
        streams(l.predicted),
        streams(l.measured),
        String(l.received),
        String(l.idle),
        kB(l.bytesPerSec),
        kB(l.predictedBytesPerSec),
        f(l.packetsPerSec, 0),
        String(l.baselineStreams),
        kB(l.baselineBytesPerSec),
        ratio(total(l.measured), l.baselineStreams),
        ratio(l.bytesPerSec, l.baselineBytesPerSec),
      ]),
    ),
  );
  const all = linksTotal(p.links);
  out.push(
    `all links: ${streams(all.measured)} streams measured, ${streams(all.predicted)} predicted, ${kB(all.bytesPerSec)} kB/s (predicted ${kB(all.predictedBytesPerSec)}); every participant to every node: ${all.baselineStreams} streams, ${kB(all.baselineBytesPerSec)} kB/s (ratio ${ratio(total(all.measured), all.baselineStreams)} streams, ${ratio(all.bytesPerSec, all.baselineBytesPerSec)} bytes)`,
  );
  if (p.linksWhenAllWatch) {
    const w = linksTotal(p.linksWhenAllWatch);
    out.push(`with every subscriber watching (delivery window): ${streams(w.measured)} streams, ${kB(w.bytesPerSec)} kB/s on the links`);
  } else out.push('with every subscriber watching (delivery window): links not read (the nodes did not answer link.stats within 10 s: saturated)');
  out.push('');
  out.push(
    `delivery window ${f(p.deliveryWindowMs / 1000, 1)} s, every subscriber watching; CPU = node process + its worker, marginal over the idle window (publishers sending, nobody consuming)`,
  );
  const rows = [...p.nodes, sumNodes(p.nodes)].map((n) => [
    n.id,
    f(n.cpuIdle, 1),
    f(n.cpu, 1),
    String(n.consumers),
    f(n.deliveredPps, 0),
    f(n.expectedPps, 0),
    n.expectedPps > 0 ? f((n.deliveredPps / n.expectedPps) * 100, 1) : 'n/a',
    f(perConsumer(n), 4),
    single ? ratio(perConsumer(n), single.perConsumer) : 'n/a',
    f(perPacketUs(n), 2),
    single ? ratio(perPacketUs(n), single.perPacketUs) : 'n/a',
  ]);
  out.push(
    table(['node', '%core idle', '%core', 'consumers', 'delivered pkt/s', 'expected pkt/s', 'delivered %', '%core/cons', '/single', 'µs/pkt', '/single'], rows),
  );
  if (single)
    out.push(
      `single node (forwarding benchmark, same run, ${single.consumers} consumers): ${f(single.perConsumer, 4)} %core/consumer, ${f(single.perPacketUs, 2)} µs/packet`,
    );
  out.push(`probe subscribers: ${p.probeConsumers} consumers with their own counting socket, ${p.silentProbeConsumers} got nothing`);
  for (const problem of p.problems) out.push(`WARNING ${problem}`);
  for (const problem of p.deliveryProblems) out.push(`WARNING (delivery window) ${problem}`);
  return out.join('\n');
}

export function linksTotal(links: readonly LinkFigures[]): Omit<LinkFigures, 'from' | 'to' | 'mismatch'> {
  const add = (a: StreamCount, b: StreamCount): StreamCount => ({ audio: a.audio + b.audio, video: a.video + b.video });
  return links.reduce(
    (t, l) => ({
      predicted: add(t.predicted, l.predicted),
      measured: add(t.measured, l.measured),
      received: t.received + l.received,
      idle: t.idle + l.idle,
      bytesPerSec: t.bytesPerSec + l.bytesPerSec,
      predictedBytesPerSec: t.predictedBytesPerSec + l.predictedBytesPerSec,
      packetsPerSec: t.packetsPerSec + l.packetsPerSec,
      baselineStreams: t.baselineStreams + l.baselineStreams,
      baselineBytesPerSec: t.baselineBytesPerSec + l.baselineBytesPerSec,
    }),
    {
      predicted: { audio: 0, video: 0 },
      measured: { audio: 0, video: 0 },
      received: 0,
      idle: 0,
      bytesPerSec: 0,
      predictedBytesPerSec: 0,
      packetsPerSec: 0,
      baselineStreams: 0,
      baselineBytesPerSec: 0,
    },
  );
}

/**
 * The brief's two questions, answered from the measured counts: what A forwards to B, and how
 * many streams cascading adds over the whole room (every link stream is one more RTP stream
 * than a single SFU would carry; the subscribers' own streams are the same either way).
 */
export function briefAnswers(phases: readonly PhaseFigures[], perNode: number, nodes: readonly string[]): string[] {
  const out: string[] = [];
  const [a, b] = nodes;
  for (const p of phases) {
    const ab = p.links.find((l) => l.from === a && l.to === b);
    const all = linksTotal(p.links);
    if (ab)
      out.push(
        `${phaseName(p)}: ${a}→${b} carries ${total(ab.measured)} stream(s) (${ab.measured.audio} audio + ${ab.measured.video} video, ${kB(ab.bytesPerSec)} kB/s), ` +
          `not the ${ab.baselineStreams} of forwarding all ${perNode} participants of ${a} (${kB(ab.baselineBytesPerSec)} kB/s): what ${b}'s subscribers watch, whatever the room's size.`,
      );
    out.push(
      `${phaseName(p)}: cascading over ${nodes.length} nodes × ${perNode} adds ${total(all.measured)} RTP stream(s) (${all.measured.audio} audio + ${all.measured.video} video` +
        ` on ${p.links.filter((l) => total(l.measured) > 0).length} of ${p.links.length} links; predicted ${total(all.predicted)}), against ${all.baselineStreams} to forward every participant to every node.`,
    );
  }
  return out;
}

export interface RecordMeta {
  machine: string;
  date: string;
  perNode: number;
  nodes: number;
  notes: string[];
}

/** The results of record (bench/lib/results.ts): per phase, the link streams against the prediction and the baseline, the bytes, the CPU per consumer. */
export function bigRoomResults(phases: readonly PhaseFigures[], single: SingleNodeFigure | undefined, meta: RecordMeta): BenchResult[] {
  const size = `${meta.nodes}×${meta.perNode}`;
  const common = { benchmark: 'big-room', machine: meta.machine, date: meta.date };
  return phases.flatMap((p) => {
    const all = linksTotal(p.links);
    const name = `${phaseName(p)}, ${size}`;
    const withProblems = (ps: string[]) => (ps.length ? { problems: ps } : {});
    // A failed request, a ranking the legs disagree on or a link off its prediction puts every
    // figure of the phase in doubt; a saturated node (delivery window) and the single node's own
    // problems only the CPU one: the links were read in a window of their own.
    const linkProblems = p.problems;
    const nodes = sumNodes(p.nodes);
    const cpuProblems = [...p.problems, ...p.deliveryProblems, ...(single?.problems ?? []).map((x) => `single node: ${x}`)];
    const results: BenchResult[] = [
      {
        ...common,
        figure: `link streams, ${name}: measured / predicted by the views`,
        value: total(all.measured),
        baseline: total(all.predicted),
        unit: 'streams',
        goal: { minRatio: 1, maxRatio: 1 },
        ...withProblems(linkProblems),
      },
      {
        ...common,
        figure: `link streams, ${name}: ours / every participant to every node`,
        value: total(all.measured),
        baseline: all.baselineStreams,
        unit: 'streams',
        ...withProblems(linkProblems),
      },
      {
        ...common,
        figure: `link bytes, ${name}: ours / every participant (all layers) to every node`,
        value: all.bytesPerSec / 1000,
        baseline: all.baselineBytesPerSec / 1000,
        unit: 'kB/s',
        notes: ['baseline bytes = participants × bytes/s of one audio and one all-layer video stream, measured on a publisher in the same run'],
        ...withProblems(linkProblems),
      },
      {
        ...common,
        figure: `CPU per consumer, ${name}: big room (3 nodes) / single node (forwarding)`,
        value: perConsumer(nodes),
        baseline: single?.perConsumer ?? Number.NaN,
        unit: '% core',
        notes: [`per delivered packet: ${f(perPacketUs(nodes), 2)} µs against ${f(single?.perPacketUs ?? Number.NaN, 2)} µs on the single node`, ...meta.notes],
        ...withProblems(cpuProblems),
      },
    ];
    return results;
  });
}
