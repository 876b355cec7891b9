/**
 * Two legs' cascades on real mediasoup routers, wired to each other in-process instead of
 * over NATS, so the order in which the legs hear each other can be chosen: the races of link
 * set-up, the one link per pair, and what the far leg is asked to send as watchers change.
 */
import { memoryLogger } from '@strata/harness';
import { MediaLinkConnect, MediaLinkForward, MediaLinkStop, type RequestOf, type ResponseOf, type RpcDef } from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cascade, type CascadeHost, type FarLegs } from '../src/cascade.js';
import type { Watcher } from '../src/link-demand.js';

const ROOM = 'r';
const CODECS: mediasoup.types.RouterRtpCodecCapability[] = [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One leg: its router, its own producers, its consumers' demand, and the requests it answered. */
class Leg {
  readonly producers = new Map<string, mediasoup.types.Producer>();
  readonly watching = new Map<string, Watcher[]>();
  readonly served: string[] = [];
  cascade!: Cascade;
  /** Runs before this leg's answer to a request leaves (to reorder what the caller hears). */
  beforeAnswer: (name: string) => Promise<void> = () => Promise.resolve();

  constructor(
    readonly nodeId: string,
    readonly router: mediasoup.types.Router,
  ) {}

  host(): CascadeHost {
    return {
      roomId: ROOM,
      nodeId: this.nodeId,
      region: 'r1',
      router: this.router,
      localProducer: (id) => this.producers.get(id),
      watchers: (id) => this.watching.get(id) ?? [],
    };
  }

  async serve<D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    this.served.push(def.name);
    let res: unknown;
    if (def.name === MediaLinkConnect.name) {
      const r = req as unknown as RequestOf<typeof MediaLinkConnect>;
      res = { tuple: await this.cascade.connect(r.fromNodeId, r.fromRegion, r.tuple) };
    } else if (def.name === MediaLinkForward.name) {
      const r = req as unknown as RequestOf<typeof MediaLinkForward>;
      res = await this.cascade.forward(r.fromNodeId, r.producerId, r.spatialLayer, r.paused);
    } else if (def.name === MediaLinkStop.name) {
      const r = req as unknown as RequestOf<typeof MediaLinkStop>;
      res = { stopped: await this.cascade.stop(r.fromNodeId, r.producerId) };
    } else throw new Error(`unexpected ${def.name}`);
    await this.beforeAnswer(def.name);
    return res as ResponseOf<D>;
  }

  async produceAudio(ssrc: number): Promise<string> {
    const t = await this.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' } });
    const p = await t.produce({
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc }] },
      appData: { peerId: `${this.nodeId}-peer` },
    });
    this.producers.set(p.id, p);
    return p.id;
  }

  remote(producerId: string) {
    return { nodeId: this.nodeId, peerId: `${this.nodeId}-peer`, producer: { producerId, kind: 'audio' as const, paused: false } };
  }
}

describe('cascade between two legs', () => {
  // One worker per leg, as on two nodes: a forwarded producer has its origin's id.
  const workers: mediasoup.types.Worker[] = [];
  let x: Leg;
  let y: Leg;

  before(async () => {
    for (let i = 0; i < 2; i++) workers.push(await mediasoup.createWorker({ logLevel: 'none' }));
  });
  after(() => workers.forEach((w) => w.close()));

  async function legs(lingerMs = 50) {
    x = new Leg('x', await workers[0]!.createRouter({ mediaCodecs: CODECS }));
    y = new Leg('y', await workers[1]!.createRouter({ mediaCodecs: CODECS }));
    const { log } = memoryLogger();
    const wire = (to: Leg): FarLegs => ({ request: (_node, def, req) => to.serve(def, req) });
    const settings = { listenIp: '127.0.0.1', announcedAddress: undefined, srtp: 'cross-region' as const, lingerMs };
    x.cascade = new Cascade(x.host(), wire(y), settings, log);
    y.cascade = new Cascade(y.host(), wire(x), settings, log);
  }

  it('forwards a stream the far leg asks for before this leg heard the answer to its own link.connect', async () => {
    await legs();
    const fromX = await x.produceAudio(1111);
    const fromY = await y.produceAudio(2222);
    // Y answers X's link.connect late: by then Y's end is connected, and Y pulls from X.
    let pulled: Promise<unknown> | undefined;
    y.beforeAnswer = async (name) => {
      if (name !== 'link.connect') return;
      pulled = y.cascade.pull(x.remote(fromX));
      await sleep(100);
    };
    const xPulls = x.cascade.pull(y.remote(fromY));
    const [fwd, back] = await Promise.all([xPulls, (async () => (await sleep(20), pulled))()]);
    assert.equal((fwd as mediasoup.types.Producer).id, fromY, 'the forwarded producer keeps its id');
    assert.equal((back as mediasoup.types.Producer).id, fromX);
    assert.deepEqual(
      x.served.filter((n) => n === 'link.connect'),
      [],
      'Y used the link X made: one link per pair of legs',
    );
    assert.equal(x.cascade.linkedNodes().length, 1);
  });

  it('makes one link.connect for concurrent pulls of one leg', async () => {
    await legs();
    const a = await y.produceAudio(3333);
    const b = await y.produceAudio(4444);
    const [pa, pb] = await Promise.all([x.cascade.pull(y.remote(a)), x.cascade.pull(y.remote(b))]);
    assert.deepEqual([pa.id, pb.id], [a, b]);
    assert.equal(y.served.filter((n) => n === 'link.connect').length, 1);
    assert.equal(y.served.filter((n) => n === 'link.forward').length, 2);
  });

  it('pauses the far stream when nobody watches, stops it when nobody consumes, after the linger time', async () => {
    await legs(50);
    const a = await y.produceAudio(5555);
    const copy = await x.cascade.pull(y.remote(a));
    x.watching.set(a, [{ paused: false, spatialLayer: undefined }]);
    x.cascade.watchersChanged(a);
    const sent = () => (y.cascade as unknown as { outbound: Map<string, { consumer: mediasoup.types.Consumer }> }).outbound.get(`x ${a}`)?.consumer;
    assert.equal(sent()?.paused, false);

    x.watching.set(a, [{ paused: true, spatialLayer: undefined }]);
    x.cascade.watchersChanged(a);
    assert.equal(sent()?.paused, false, 'not before the linger time');
    await sleep(150);
    assert.equal(sent()?.paused, true, 'paused after it');

    x.watching.set(a, []);
    x.cascade.watchersChanged(a);
    await sleep(150);
    assert.equal(sent(), undefined, 'stopped on the far leg');
    assert.equal(copy.closed, true, 'and its copy here closed');
    assert.equal(x.cascade.isForwarded(a), false);
  });

  it('answers a forward of an unknown producer NOT_FOUND, and one without a link CONFLICT', async () => {
    await legs();
    await assert.rejects(y.cascade.forward('x', 'nope', undefined, false), { code: 'NOT_FOUND' });
    const a = await y.produceAudio(6666);
    await assert.rejects(y.cascade.forward('x', a, undefined, false), { code: 'CONFLICT' });
  });
});
