/**
 * One room over three media nodes, as the big-room benchmark runs it (bench/big-room.ts; its
 * short version is test/bench/big-room.test.ts):
 *
 * - Publishers (a few per node): an audio producer with RFC 6464 levels and a synthetic
 *   three-layer simulcast VP8 producer each, on comedia plain transports fed from this process.
 *   The first S of them speak (speech-like bursts of level), the others send silence.
 * - Light participants (the rest of each node's share): one plain receive transport each, no
 *   producer. What each one consumes is what the client library's `viewOf()` says for the
 *   ranking its own leg published (top-K speakers' audio, N speakers' video), at one spatial
 *   layer for all. Their RTP goes to a drain nobody reads (bench/lib/drain.ts), counted by the
 *   kernel; a few "probe" participants per node send to a socket here that counts per SSRC.
 * - What crosses the links is read from mediasoup's own stats (`link.stats` on every node).
 */
import { viewOf, type Speakers, type ViewPeer } from '@strata/client';
import { AUDIO_LEVEL_EXT_ID, startAudioSender, startSimulcastSender, startSsrcSink, type RtpSender, type SsrcSink, type SyntheticLayer } from '@strata/harness';
import {
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaLinkStats,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaRoomOpen,
  MediaRoomPeers,
  MediaTransportStats,
  SpeakerRanking,
  subjects,
  type PeerSummary,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
} from '@strata/protocol';
import {
  linkFigures,
  perConsumer,
  deliveryProblems,
  phaseProblems,
  predictLinks,
  total,
  linksTotal,
  type BaselineRates,
  type Kind,
  type LinkFigures,
  type LinkSnapshot,
  type NodeFigures,
  type Phase,
  type PhaseFigures,
  type StreamStat,
} from './big-room-report.js';
import { Drain } from './drain.js';
import { simulcastRtpParameters } from './link-media.js';
import { firstSsrc } from './media-params.js';
import { MediaNodes } from './media-nodes.js';
import { mapLimit } from './setup.js';

export const REGION = 'bigroom';
export const ROOM = 'big-room';
export const NODE_IDS = ['media-a', 'media-b', 'media-c'] as const;
/** The ranking's K on every node: five speakers' audio in every view. */
export const K = 5;
const IP = '127.0.0.1';
/** The SSRC of mediasoup's bandwidth probation packets (RTC::RtpProbationSsrc). */
const PROBATION_SSRC = 1234;

/** The synthetic simulcast layers (as in test/e2e/cascade-links.test.ts): 30 frames/s, one packet per frame. */
export const LAYERS: readonly Omit<SyntheticLayer, 'ssrc'>[] = [
  { width: 320, height: 180, frameBytes: 150 },
  { width: 640, height: 360, frameBytes: 500 },
  { width: 1280, height: 720, frameBytes: 1100 },
];

/** The layer a subscriber asks for: one tile on screen gets the top layer, several share the screen at the middle one. */
export const layerFor = (videoSlots: number): number => (videoSlots <= 1 ? 2 : 1);

export interface BigRoomOptions {
  /** Participants per node, publishers included. */
  perNode: number;
  /** Publishers per node (audio + simulcast video each). */
  publishersPerNode: number;
  /** Light participants per node whose consumers send to a per-SSRC counting socket. */
  probesPerNode: number;
  /** Extra environment for the media nodes. */
  env?: Record<string, string>;
  /** Requests in flight while joining and following views. */
  concurrency?: number;
  /** How long the benchmark waits for a media node's answer (a saturated node is slow). */
  requestTimeoutMs?: number;
  log: (msg: string) => void;
}

interface Publisher {
  index: number;
  peerId: string;
  node: string;
  audioSsrc: number;
  layers: SyntheticLayer[];
  audioProducerId: string;
  videoProducerId: string;
  audioTransportId: string;
  videoTransportId: string;
  speaking: boolean;
  senders: RtpSender[];
}

interface Subscription {
  consumerId: string;
  kind: Kind;
  ssrc: number;
  /** The spatial layer asked for (video). */
  layer?: number;
  paused: boolean;
}

interface Light {
  peerId: string;
  node: string;
  transportId: string;
  probe: boolean;
  /** producerId → its consumer here. */
  consumers: Map<string, Subscription>;
}

export interface FollowResult {
  views: Map<Light, Set<string>>;
  created: number;
  closed: number;
  relayered: number;
  /** Subscribers whose requests failed (they tried again once). */
  failures: string[];
  /** How long each consumer.create took, ms. */
  consumeMs: number[];
}

interface LocalSnapshot {
  t: number;
  cpu: Map<string, number>;
  drops: Map<number, number>;
  probes: Map<string, Map<number, { packets: number; bytes: number }>>;
  sent: Map<number, { packets: number; bytes: number }>;
}

interface NodeSnapshot {
  links: Map<string, LinkSnapshot>;
  /** rtpBytesReceived of the first publisher's audio and video transports. */
  publisherBytes: { audio: number; video: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Speech-like levels: 1.2 s talk spurts (−25 to −35 dBov) and 0.3 s pauses (silence), offset per speaker. */
function speech(offsetMs: number): () => number {
  const t0 = Date.now() - offsetMs;
  return () => {
    const t = (Date.now() - t0) % 1500;
    return t < 1200 ? 25 + Math.round(10 * Math.abs(Math.sin(t / 90))) : 127;
  };
}

export class BigRoom {
  readonly nodes: readonly string[] = NODE_IDS;
  readonly publishers: Publisher[] = [];
  readonly lights: Light[] = [];
  /** The latest ranking each leg published (SpeakerRanking events, seeded by room.open answers). */
  readonly rankings = new Map<string, Speakers>();
  private rtpCapabilities = new Map<string, ResponseOf<typeof MediaRoomOpen>['rtpCapabilities']>();
  private readonly probeSinks = new Map<string, SsrcSink>();
  private drain: Drain | undefined;
  /** Drain ports per node: [RTP, RTCP]. */
  private readonly drainPorts = new Map<string, [number, number]>();
  private speakersNow = 0;
  /** Whether the light participants other than the probes have their consumers resumed. */
  private everyoneWatching = false;
  private lastStarted: string | undefined;
  private idle: Map<string, number> | undefined;

  private constructor(
    readonly cluster: MediaNodes,
    private readonly opt: BigRoomOptions,
  ) {}

  static async start(opt: BigRoomOptions): Promise<BigRoom> {
    if (opt.publishersPerNode < 1 || opt.perNode < opt.publishersPerNode) throw new Error('perNode must hold at least the publishers');
    // The links are read while only the probes watch: at least one per node.
    if (opt.probesPerNode < 1 || opt.probesPerNode > opt.perNode - opt.publishersPerNode)
      throw new Error('probesPerNode: 1 to the light participants per node');
    const cluster = await MediaNodes.start(REGION, NODE_IDS, opt.requestTimeoutMs ?? 60_000, {
      MEDIA_SPEAKERS_K: String(K),
      // Capacity is not what this benchmark measures: every view must be served.
      MEDIA_MAX_CONSUMERS: '1000000',
      // Streams nobody watches any more leave the links soon after a view changes.
      MEDIA_LINK_LINGER: '1s',
      LOG_LEVEL: 'warn',
      ...opt.env,
    });
    const room = new BigRoom(cluster, opt);
    try {
      await room.setUp();
    } catch (err) {
      await room.stop();
      throw err;
    }
    return room;
  }

  private call<D extends RpcDef>(node: string, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    return this.cluster.call(node, def, req, this.opt.requestTimeoutMs ?? 60_000);
  }

  private legsBut(node: string): string[] {
    return this.nodes.filter((n) => n !== node);
  }

  private async setUp(): Promise<void> {
    const { log } = this.opt;
    this.cluster.bus.subscribe(SpeakerRanking, subjects.roomRanking(REGION, ROOM), (e) => {
      this.rankings.set(e.nodeId, { k: e.k, audio: e.audio, order: e.order });
    });
    this.drain = await Drain.start(this.nodes.length * 2);
    for (const [i, node] of this.nodes.entries()) {
      this.drainPorts.set(node, [this.drain.ports[2 * i]!, this.drain.ports[2 * i + 1]!]);
      this.probeSinks.set(node, await startSsrcSink());
    }
    // Publishers first, spread over the nodes in turn (publisher i on node i mod 3).
    const count = this.opt.publishersPerNode * this.nodes.length;
    for (let i = 0; i < count; i++) await this.addPublisher(i);
    log(`${count} publishers sending (audio + ${LAYERS.length}-layer simulcast each)`);
    const t0 = Date.now();
    const lightsPerNode = this.opt.perNode - this.opt.publishersPerNode;
    const todo = this.nodes.flatMap((node) => Array.from({ length: lightsPerNode }, (_, j) => ({ node, j })));
    let done = 0;
    await mapLimit(todo, this.opt.concurrency ?? 16, async ({ node, j }) => {
      await this.addLight(node, j);
      if (++done % 300 === 0) log(`${done} of ${todo.length} light participants joined`);
    });
    log(`${todo.length} light participants joined in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }

  private async addPublisher(index: number): Promise<void> {
    const node = this.nodes[index % this.nodes.length]!;
    const peerId = `pub-${index}`;
    const open = await this.call(node, MediaRoomOpen, { roomId: ROOM, peer: { peerId, identity: peerId }, legs: this.legsBut(node) });
    this.rtpCapabilities.set(node, open.rtpCapabilities);
    if (open.speakers && !this.rankings.has(node)) this.rankings.set(node, open.speakers);
    const audioSsrc = 1_000_000 + index;
    const layers = LAYERS.map((l, li) => ({ ...l, ssrc: 2_000_000 + index * 10 + li }));
    const inAudio = await this.call(node, MediaPlainTransportCreate, { roomId: ROOM, peerId, comedia: true, rtcpMux: true });
    const audio = await this.call(node, MediaProduce, {
      roomId: ROOM,
      peerId,
      transportId: inAudio.transportId,
      kind: 'audio',
      source: 'microphone',
      rtpParameters: {
        codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {} }],
        encodings: [{ ssrc: audioSsrc }],
        headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_EXT_ID }],
      },
    });
    const inVideo = await this.call(node, MediaPlainTransportCreate, { roomId: ROOM, peerId, comedia: true, rtcpMux: true });
    const video = await this.call(node, MediaProduce, {
      roomId: ROOM,
      peerId,
      transportId: inVideo.transportId,
      kind: 'video',
      source: 'camera',
      rtpParameters: simulcastRtpParameters(layers) as RequestOf<typeof MediaProduce>['rtpParameters'],
    });
    const pub: Publisher = {
      index,
      peerId,
      node,
      audioSsrc,
      layers,
      audioProducerId: audio.producerId,
      videoProducerId: video.producerId,
      audioTransportId: inAudio.transportId,
      videoTransportId: inVideo.transportId,
      speaking: false,
      senders: [],
    };
    const talk = speech(index * 370);
    pub.senders.push(startAudioSender(inAudio.ip, inAudio.port, audioSsrc, () => (pub.speaking ? talk() : 127)));
    pub.senders.push(startSimulcastSender(inVideo.ip, inVideo.port, layers));
    this.publishers.push(pub);
  }

  private async addLight(node: string, j: number): Promise<void> {
    const peerId = `${node.slice(-1)}-${j}`;
    const open = await this.call(node, MediaRoomOpen, { roomId: ROOM, peer: { peerId, identity: peerId }, legs: this.legsBut(node) });
    if (!this.rtpCapabilities.has(node)) this.rtpCapabilities.set(node, open.rtpCapabilities);
    const probe = j < this.opt.probesPerNode;
    // Probes: RTP and RTCP muxed to a counting socket that tells them apart. The others: RTP and
    // RTCP to two drain sockets, so the kernel's count of the first is RTP only.
    const t = await this.call(node, MediaPlainTransportCreate, { roomId: ROOM, peerId, comedia: false, rtcpMux: probe });
    const [rtp, rtcp] = this.drainPorts.get(node)!;
    await this.call(node, MediaPlainTransportConnect, {
      roomId: ROOM,
      peerId,
      transportId: t.transportId,
      ip: IP,
      ...(probe ? { port: this.probeSinks.get(node)!.port } : { port: rtp, rtcpPort: rtcp }),
    });
    this.lights.push({ peerId, node, transportId: t.transportId, probe, consumers: new Map() });
  }

  /** Where each producer lives, and its kind. */
  home(): Map<string, { node: string; kind: Kind }> {
    const out = new Map<string, { node: string; kind: Kind }>();
    for (const p of this.publishers) {
      out.set(p.audioProducerId, { node: p.node, kind: 'audio' });
      out.set(p.videoProducerId, { node: p.node, kind: 'video' });
    }
    return out;
  }

  participantsPerNode(): Map<string, number> {
    return new Map(this.nodes.map((n) => [n, this.opt.perNode]));
  }

  /**
   * The first `speakers` publishers speak, each new one a second after the previous (so every
   * leg ranks them in the same order: the last to start is the most recent speaker), and the
   * benchmark waits until every leg's ranking says so. Speakers only ever get added: the
   * ranking keeps a silent speaker until a louder one replaces it.
   */
  async setSpeakers(speakers: number): Promise<string[]> {
    if (speakers < this.speakersNow) throw new Error(`speakers can only be added (${this.speakersNow} → ${speakers})`);
    if (speakers > Math.min(K, this.publishers.length))
      throw new Error(`at most ${Math.min(K, this.publishers.length)} speakers (K=${K}, ${this.publishers.length} publishers)`);
    for (let i = this.speakersNow; i < speakers; i++) {
      if (i > this.speakersNow) await sleep(1000);
      this.publishers[i]!.speaking = true;
      this.lastStarted = this.publishers[i]!.peerId;
    }
    this.speakersNow = speakers;
    const want = new Set(this.publishers.slice(0, speakers).map((p) => p.peerId));
    // Every leg ranks the S speakers, in the same order (which, with the starts a second apart,
    // is the order they started in unless the nodes lag behind).
    const settled = (): boolean => {
      const rs = this.nodes.map((n) => this.rankings.get(n));
      const first = rs[0];
      return rs.every(
        (r) =>
          r !== undefined &&
          r.audio.length === want.size &&
          r.audio.every((id) => want.has(id)) &&
          first !== undefined &&
          r.order.join() === first.order.join(),
      );
    };
    const deadline = Date.now() + 30_000;
    while (!settled() && Date.now() < deadline) await sleep(200);
    const problems: string[] = [];
    const ranking = (n: string): string => JSON.stringify(this.rankings.get(n) ?? null);
    if (!settled())
      problems.push(`the legs' rankings did not all agree on the ${speakers} speaker(s) in 30 s: ${this.nodes.map((n) => `${n} ${ranking(n)}`).join('; ')}`);
    else if (speakers > 0 && this.rankings.get(this.nodes[0]!)?.order[0] !== this.lastStarted)
      this.opt.log(
        `note: every leg ranks ${this.rankings.get(this.nodes[0]!)?.order[0]} as the latest speaker, not ${this.lastStarted}, the last to start (${ranking(this.nodes[0]!)})`,
      );
    return problems;
  }

  /** Each light participant's view for its leg's ranking: `viewOf()` of @strata/client, as the client library computes it. */
  private async views(videoSlots: number): Promise<Map<Light, Set<string>>> {
    const out = new Map<Light, Set<string>>();
    for (const node of this.nodes) {
      // The roster as this leg knows it (what its gateway tells its clients). Members without
      // producers change no view, so only publishers are handed to viewOf.
      const roster: PeerSummary[] = (await this.call(node, MediaRoomPeers, { roomId: ROOM })).peers;
      const peers: ViewPeer[] = roster
        .filter((p) => p.producers.length > 0)
        .map((p) => ({ peerId: p.peerId, producers: new Map(p.producers.map((x) => [x.producerId, { kind: x.kind }])) }));
      const speakers = this.rankings.get(node);
      for (const light of this.lights) {
        if (light.node !== node) continue;
        out.set(light, viewOf({ peers: peers.filter((p) => p.peerId !== light.peerId), speakers, videoSlots, pinned: new Set() }));
      }
    }
    return out;
  }

  /**
   * Every light participant consumes its view: a consumer (paused, at the layer for N tiles for
   * video, then resumed) for what entered it, the new layer for video that stays when N
   * changed, closed for what left it (the client library pauses first and
   * closes after its linger time; closing at once lets the link's own linger decide).
   */
  async followViews(videoSlots: number): Promise<FollowResult> {
    const views = await this.views(videoSlots);
    const layer = layerFor(videoSlots);
    const r: FollowResult = { views, created: 0, closed: 0, relayered: 0, failures: [], consumeMs: [] };
    const follow = async (light: Light, view: Set<string>): Promise<void> => {
      const { node, peerId } = light;
      for (const [producerId, sub] of [...light.consumers]) {
        if (view.has(producerId)) continue;
        await this.call(node, MediaConsumerAction, { roomId: ROOM, peerId, consumerId: sub.consumerId, action: 'close' });
        light.consumers.delete(producerId);
        r.closed++;
      }
      for (const producerId of view) {
        const had = light.consumers.get(producerId);
        if (had) {
          // Tiles changed size: the client asks its video consumers for the new layer.
          if (had.kind === 'video' && had.layer !== layer) {
            await this.call(node, MediaConsumerLayers, { roomId: ROOM, peerId, consumerId: had.consumerId, spatialLayer: layer });
            had.layer = layer;
            r.relayered++;
          }
          continue;
        }
        const t0 = performance.now();
        let c: ResponseOf<typeof MediaConsume>;
        try {
          c = await this.call(node, MediaConsume, {
            roomId: ROOM,
            peerId,
            transportId: light.transportId,
            producerId,
            rtpCapabilities: this.rtpCapabilities.get(node)!,
          });
        } catch (err) {
          const home = this.home().get(producerId);
          throw new Error(
            `consumer.create on ${node} of ${producerId} (${home?.kind} of a publisher on ${home?.node}) failed after ${(performance.now() - t0).toFixed(0)} ms: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
        r.consumeMs.push(performance.now() - t0);
        if (c.kind === 'video') await this.call(node, MediaConsumerLayers, { roomId: ROOM, peerId, consumerId: c.consumerId, spatialLayer: layer });
        // Consumers start paused; a probe's is resumed at once, the others' when everyone watches (setWatching).
        const resume = light.probe || this.everyoneWatching;
        if (resume) await this.call(node, MediaConsumerAction, { roomId: ROOM, peerId, consumerId: c.consumerId, action: 'resume' });
        light.consumers.set(producerId, {
          consumerId: c.consumerId,
          kind: c.kind,
          ssrc: firstSsrc(c.rtpParameters),
          paused: !resume,
          ...(c.kind === 'video' ? { layer } : {}),
        });
        r.created++;
      }
    };
    // A subscriber whose request failed tries again once, a few seconds later, as a client
    // would; every failure is reported with the phase.
    let failed: [Light, Set<string>][] = [];
    await mapLimit([...views], this.opt.concurrency ?? 16, async ([light, view]) => {
      try {
        await follow(light, view);
      } catch (err) {
        r.failures.push(`${light.peerId}: ${err instanceof Error ? err.message : String(err)}`);
        failed.push([light, view]);
      }
    });
    if (failed.length) {
      this.opt.log(`${failed.length} subscriber(s) failed to follow their view (first: ${r.failures[0]}); trying them again in 3 s`);
      await sleep(3000);
      const again = failed;
      failed = [];
      await mapLimit(again, this.opt.concurrency ?? 16, async ([light, view]) => {
        try {
          await follow(light, view);
        } catch (err) {
          r.failures.push(`again, ${light.peerId}: ${err instanceof Error ? err.message : String(err)}`);
          failed.push([light, view]);
        }
      });
      if (failed.length) throw new Error(`${failed.length} subscriber(s) could not follow their view twice; last: ${r.failures[r.failures.length - 1]}`);
    }
    return r;
  }

  private async linkSnapshot(node: string): Promise<LinkSnapshot> {
    const { links } = await this.call(node, MediaLinkStats, { roomId: ROOM });
    const sum = (stats: Record<string, unknown>[], type: string, paused: boolean, kind: Kind): StreamStat => {
      const own = stats.filter((s) => s['type'] === type);
      return {
        kind,
        paused,
        packets: own.reduce((n, s) => n + Number(s['packetCount'] ?? 0), 0),
        bytes: own.reduce((n, s) => n + Number(s['byteCount'] ?? 0), 0),
      };
    };
    const out: LinkSnapshot = new Map();
    for (const l of links) {
      out.set(l.nodeId, {
        sending: new Map(l.sending.map((s) => [s.producerId, sum(s.stats, 'outbound-rtp', s.paused, s.kind)])),
        receiving: new Map(l.receiving.map((s) => [s.producerId, sum(s.stats, 'inbound-rtp', false, s.kind)])),
      });
    }
    return out;
  }

  /**
   * Waits until every link carries exactly what the views predict (streams flowing, streams
   * left behind gone after the linger time), at most `timeoutMs`; answers what still differs.
   */
  async settle(predicted: Map<string, Map<string, Kind>>, timeoutMs = 30_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let before = await this.linkSnapshots();
    for (;;) {
      await sleep(1000);
      const after = await this.linkSnapshots();
      const links = linkFigures(this.nodes, before, after, 1000, predicted, this.participantsPerNode(), { audioBytesPerSec: 0, videoBytesPerSec: 0 });
      const off = links
        .filter((l) => l.mismatch.length > 0 || l.idle > 0)
        .map((l) => `${l.from}→${l.to}: ${[...l.mismatch, ...(l.idle ? [`${l.idle} idle`] : [])].join(', ')}`);
      if (!off.length || Date.now() > deadline) return off;
      before = after;
    }
  }

  private async linkSnapshots(): Promise<Map<string, LinkSnapshot>> {
    const out = new Map<string, LinkSnapshot>();
    for (const node of this.nodes) out.set(node, await this.linkSnapshot(node));
    return out;
  }

  /** What this process reads without asking the nodes: their CPU, the drains, the probes, the senders. */
  private localSnapshot(): LocalSnapshot {
    // CPU first: the window's length is measured between these reads.
    const t = performance.now();
    const cpu = this.cluster.cpuMs();
    const drops = this.drain!.drops();
    const probes = new Map([...this.probeSinks].map(([node, s]) => [node, s.counts()]));
    const sent = new Map<number, { packets: number; bytes: number }>();
    for (const p of this.publishers) for (const s of p.senders) for (const [ssrc, c] of s.sent()) sent.set(ssrc, c);
    return { t, cpu, drops, probes, sent };
  }

  /** What only the nodes know: every link's streams (mediasoup's stats) and what the first publisher's producers receive. */
  private async nodeSnapshot(): Promise<NodeSnapshot> {
    const links = await this.linkSnapshots();
    const p0 = this.publishers[0]!;
    const rtpBytes = async (transportId: string): Promise<number> => {
      const { stats } = await this.call(p0.node, MediaTransportStats, { roomId: ROOM, peerId: p0.peerId, transportId });
      return Number(stats[0]?.['rtpBytesReceived'] ?? Number.NaN);
    };
    return { links, publisherBytes: { audio: await rtpBytes(p0.audioTransportId), video: await rtpBytes(p0.videoTransportId) } };
  }

  private async snapshot(): Promise<LocalSnapshot & NodeSnapshot> {
    const local = this.localSnapshot();
    return { ...local, ...(await this.nodeSnapshot()) };
  }

  /** CPU of every node over a window in which nobody consumes yet (publishers sending): the idle figure each phase's marginal CPU is taken from. */
  async measureIdle(windowMs: number): Promise<Map<string, number>> {
    const a = await this.snapshot();
    await sleep(windowMs);
    const b = await this.snapshot();
    const ms = b.t - a.t;
    this.idle = new Map(this.nodes.map((n) => [n, (((b.cpu.get(n) ?? NaN) - (a.cpu.get(n) ?? NaN)) / ms) * 100]));
    return this.idle;
  }

  /**
   * Pauses (or resumes) the consumers of every light participant but the probes. What a link
   * carries does not depend on how many of the far node's consumers of a stream watch, only on
   * whether one does (a probe always does), so the links can be read with the nodes lightly
   * loaded, and the subscribers' load measured apart.
   */
  private async setWatching(on: boolean): Promise<number> {
    let n = 0;
    const todo = this.lights.filter((l) => !l.probe).flatMap((l) => [...l.consumers.values()].filter((c) => c.paused === on).map((c) => ({ l, c })));
    await mapLimit(todo, this.opt.concurrency ?? 16, async ({ l, c }) => {
      await this.call(l.node, MediaConsumerAction, { roomId: ROOM, peerId: l.peerId, consumerId: c.consumerId, action: on ? 'resume' : 'pause' });
      c.paused = !on;
      n++;
    });
    this.everyoneWatching = on;
    return n;
  }

  /**
   * One phase: S speakers, N video slots, in three steps.
   * 1. All but the probes pause; the ranking reaches the S speakers (media flowing); then,
   *    publishers held (sending nothing: a worker saturated by RTP answers requests only after
   *    seconds, tens of seconds at three times its capacity), every subscriber follows its
   *    view, all but the probes still paused.
   * 2. Link window: publishers sending, the links settled on what the views predict, only the
   *    probes watching; every link's streams and bytes from mediasoup's stats.
   * 3. Delivery window: publishers held again while everyone resumes, then sending; CPU of
   *    every node, packets at every subscriber's socket, all read without asking the nodes; the
   *    links are read again if the nodes answer within 10 s.
   */
  async runPhase(phase: Phase, windowMs: number, warmupMs: number): Promise<PhaseFigures> {
    const { log } = this.opt;
    // Only the probes watch while the ranking moves and the views follow: a saturated worker
    // reports audio levels late, and would answer the view's requests late.
    this.holdSenders(true);
    try {
      await this.setWatching(false);
    } finally {
      this.holdSenders(false);
    }
    const problems = await this.setSpeakers(phase.speakers);
    const t0 = Date.now();
    this.holdSenders(true);
    let follow: FollowResult;
    try {
      follow = await this.followViews(phase.videoSlots);
    } finally {
      this.holdSenders(false);
    }
    const { views } = follow;
    const sorted = [...follow.consumeMs].sort((x, y) => x - y);
    const q = (p: number): string => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(0) : 'n/a');
    log(
      `${phase.speakers} speaker(s), N=${phase.videoSlots}: ${follow.created} consumers created (consumer.create p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms), ` +
        `${follow.closed} closed, ${follow.relayered} asked for another layer in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    if (follow.failures.length)
      problems.push(`${follow.failures.length} subscriber request(s) failed and were tried again: ${follow.failures.slice(0, 3).join(' | ')}`);
    const byNode = new Map(this.nodes.map((n) => [n, [...views].filter(([l]) => l.node === n).map(([, v]) => v)]));
    const predicted = predictLinks(this.nodes, byNode, this.home());
    const layer = layerFor(phase.videoSlots);
    // The stream a consumer of each producer gets: its audio, or the layer every subscriber asked for.
    const streamSsrc = new Map<string, number>();
    for (const p of this.publishers) {
      streamSsrc.set(p.audioProducerId, p.audioSsrc);
      streamSsrc.set(p.videoProducerId, p.layers[Math.min(layer, p.layers.length - 1)]!.ssrc);
    }

    // 2. The links, probes watching.
    const unsettled = await this.settle(predicted);
    if (unsettled.length) log(`links not as predicted after 30 s (measured anyway): ${unsettled.join('; ')}`);
    await sleep(warmupMs);
    const la = await this.snapshot();
    await sleep(windowMs);
    const lb = await this.snapshot();
    const links = this.links(la, lb, predicted, streamSsrc);

    // 3. Everyone watching.
    this.holdSenders(true);
    try {
      await this.setWatching(true);
    } finally {
      this.holdSenders(false);
    }
    await sleep(warmupMs);
    const tryNodes = (): Promise<NodeSnapshot | undefined> => Promise.race([this.nodeSnapshot(), sleep(10_000).then(() => undefined)]).catch(() => undefined);
    const da = { ...this.localSnapshot(), node: await tryNodes() };
    await sleep(windowMs);
    const db = { ...this.localSnapshot(), node: await tryNodes() };
    const exited = this.cluster.nodeExited();
    if (exited) throw new Error(exited);
    const ms = db.t - da.t;
    const secs = ms / 1000;
    const rate = (ssrc: number): number => ((db.sent.get(ssrc)?.packets ?? 0) - (da.sent.get(ssrc)?.packets ?? 0)) / secs;
    let probeConsumers = 0;
    let silentProbeConsumers = 0;
    const nodes: NodeFigures[] = this.nodes.map((id) => {
      const mine = this.lights.filter((l) => l.node === id);
      let consumers = 0;
      let expectedPps = 0;
      let probeVideo = 0;
      let drainVideo = 0;
      for (const l of mine) {
        for (const [producerId, sub] of l.consumers) {
          consumers++;
          expectedPps += rate(streamSsrc.get(producerId) ?? 0);
          if (!l.probe) {
            if (sub.kind === 'video') drainVideo++;
            continue;
          }
          if (sub.kind === 'video') probeVideo++;
          probeConsumers++;
          const got = (db.probes.get(id)?.get(sub.ssrc)?.packets ?? 0) - (da.probes.get(id)?.get(sub.ssrc)?.packets ?? 0);
          if (got <= 0) silentProbeConsumers++;
        }
      }
      const delta = (ssrc: number): number => (db.probes.get(id)?.get(ssrc)?.packets ?? 0) - (da.probes.get(id)?.get(ssrc)?.packets ?? 0);
      let probed = 0;
      for (const ssrc of db.probes.get(id)?.keys() ?? []) if (ssrc !== PROBATION_SSRC) probed += delta(ssrc);
      // mediasoup's simulcast consumers also send probation padding (SSRC 1234), which the
      // drain cannot tell apart: take it out at the rate the probes' video consumers got it.
      const probation = probeVideo > 0 ? (delta(PROBATION_SSRC) / probeVideo) * drainVideo : 0;
      const port = this.drainPorts.get(id)![0];
      const drained = (db.drops.get(port) ?? 0) - (da.drops.get(port) ?? 0) - probation;
      return {
        id,
        cpu: (((db.cpu.get(id) ?? NaN) - (da.cpu.get(id) ?? NaN)) / ms) * 100,
        cpuIdle: this.idle?.get(id) ?? Number.NaN,
        consumers,
        deliveredPps: (drained + probed) / secs,
        expectedPps,
      };
    });
    const whenAllWatch = da.node && db.node ? this.links({ ...da, ...da.node }, { ...db, ...db.node }, predicted, streamSsrc) : undefined;
    const figures: PhaseFigures = {
      ...phase,
      layer,
      windowMs: lb.t - la.t,
      deliveryWindowMs: ms,
      links,
      linksWhenAllWatch: whenAllWatch,
      nodes,
      probeConsumers,
      silentProbeConsumers,
      problems: [],
      deliveryProblems: [],
    };
    figures.problems = [...problems, ...phaseProblems(figures)];
    figures.deliveryProblems = deliveryProblems(figures);
    const all = linksTotal(links);
    log(
      `${phase.speakers} speaker(s), N=${phase.videoSlots}: ${total(all.measured)} link streams (predicted ${total(all.predicted)}), ` +
        `${(all.bytesPerSec / 1000).toFixed(1)} kB/s on the links; everyone watching: ${whenAllWatch ? `${total(linksTotal(whenAllWatch).measured)} link streams` : 'links not readable (nodes did not answer in 10 s)'}; ` +
        `CPU per consumer ${nodes.map((n) => `${n.id} ${perConsumer(n).toFixed(4)}`).join(', ')} %core`,
    );
    return figures;
  }

  private links(
    a: LocalSnapshot & NodeSnapshot,
    b: LocalSnapshot & NodeSnapshot,
    predicted: Map<string, Map<string, Kind>>,
    streamSsrc: Map<string, number>,
  ): LinkFigures[] {
    const secs = (b.t - a.t) / 1000;
    const rates: BaselineRates = {
      audioBytesPerSec: (b.publisherBytes.audio - a.publisherBytes.audio) / secs,
      videoBytesPerSec: (b.publisherBytes.video - a.publisherBytes.video) / secs,
    };
    const byteRate = (ssrc: number): number => ((b.sent.get(ssrc)?.bytes ?? 0) - (a.sent.get(ssrc)?.bytes ?? 0)) / secs;
    const streamRates = new Map([...streamSsrc].map(([id, ssrc]) => [id, byteRate(ssrc)]));
    return linkFigures(this.nodes, a.links, b.links, b.t - a.t, predicted, this.participantsPerNode(), rates, streamRates);
  }

  private holdSenders(on: boolean): void {
    for (const p of this.publishers) for (const s of p.senders) s.hold(on);
  }

  async stop(): Promise<void> {
    for (const p of this.publishers) for (const s of p.senders) s.stop();
    for (const s of this.probeSinks.values()) s.close();
    await this.drain?.stop();
    await this.cluster.stop();
  }
}
