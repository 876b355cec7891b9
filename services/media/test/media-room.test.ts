/**
 * One leg of a room on a real mediasoup worker, made as the registry makes it, with the bus
 * and the other legs faked in memory: every object is its peer's (another peer's is refused,
 * and stays), what a peer may consume, the node's consumer limit, and a peer's departure
 * taking its transports, producers and consumers with it.
 */
import type { Bus } from '@strata/bus';
import { memoryLogger } from '@strata/harness';
import { check, StrataError, type EventDef, type EventOf, type LegEvent, type MediaEvent } from '@strata/protocol';
import type { types } from 'mediasoup';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MEDIA_CODECS } from '../src/codecs.js';
import { MediaRoom } from '../src/media-room.js';
import { WorkerPool } from '../src/worker-pool.js';

const audio: types.RtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1234 }] };
const refused = (code: string) => (err: unknown) => err instanceof StrataError && err.code === code;

/** The bus as the leg sees it: what it published, checked against each event's schema. */
class FakeBus {
  readonly published: { name: string; subject: string; e: unknown }[] = [];
  bus(): Pick<Bus, 'publish' | 'subscribe'> {
    return {
      publish: <D extends EventDef>(def: D, subject: string, e: EventOf<D>) => {
        assert.ok(check(def.schema, e).ok, `valid ${def.name}`);
        this.published.push({ name: def.name, subject, e });
      },
      subscribe: (() => ({ unsubscribe() {} })) as unknown as Bus['subscribe'],
    };
  }
  legEvents(): LegEvent[] {
    return this.published.filter((p) => p.name === 'leg.event').map((p) => p.e as LegEvent);
  }
}

describe('MediaRoom', () => {
  const { log } = memoryLogger();
  let pool: WorkerPool;
  const rooms: MediaRoom[] = [];

  before(async () => {
    pool = await WorkerPool.create(
      { numWorkers: 1, listenIp: '127.0.0.1', announcedAddress: undefined, rtcPort: 0, rtcMinPort: 40000, rtcMaxPort: 49999, logLevel: 'none' },
      log,
      () => undefined,
    );
  });
  after(async () => {
    rooms.forEach((r) => r.close());
    await pool?.close();
  });

  async function room(opts: { admitConsumer?: () => boolean } = {}) {
    const bus = new FakeBus();
    const media: MediaEvent[] = [];
    const idle: boolean[] = [];
    const r = await MediaRoom.create({
      roomId: 'r1',
      nodeId: 'n1',
      region: 't',
      worker: pool.workers[0]!,
      codecs: MEDIA_CODECS,
      speakerIntervalMs: 300,
      speakers: { k: 3, holdMs: 0, silentAfterMs: 1000, intervalMs: 250, threshold: -80 },
      limits: { admitConsumer: opts.admitConsumer ?? (() => true), initialOutgoingBitrate: 1_000_000, listenIp: '127.0.0.1', announcedAddress: undefined },
      cascade: { listenIp: '127.0.0.1', announcedAddress: undefined, srtp: 'cross-region', lingerMs: 50 },
      // No other leg: a producer not found here is not waited for.
      remoteProducerWaitMs: 0,
      linkCheckMs: 60_000,
      bus: bus.bus(),
      far: { request: () => Promise.reject(new StrataError('UNAVAILABLE', 'no other leg in this test')) },
      events: { media: (e) => media.push(e), activeSpeaker: () => undefined, idle: (i) => idle.push(i) },
      log,
    });
    rooms.push(r);
    return { r, bus, media, idle };
  }

  /** Peer `alice` publishing audio over a plain transport, and `bob` with a receive transport consuming it. */
  async function aliceAndBob(r: MediaRoom) {
    r.admit({ peerId: 'alice', identity: 'alice' });
    r.admit({ peerId: 'bob', identity: 'bob' });
    const aliceSend = await r.createPlainTransport('alice', true, true);
    const producerId = await r.produce('alice', aliceSend.transportId, 'audio', audio, false, 'microphone');
    const bobRecv = await r.createWebRtcTransport('bob', 'recv', false);
    const consumer = await r.consume('bob', bobRecv.transportId, producerId, r.router.rtpCapabilities);
    return { aliceSend: aliceSend.transportId, producerId, bobRecv: bobRecv.transportId, consumerId: consumer.consumerId };
  }

  it('refuses a peer every operation on another peer’s transport, producer or consumer, and leaves them as they were', async () => {
    const { r } = await room();
    const { aliceSend, producerId, bobRecv, consumerId } = await aliceAndBob(r);
    const forbidden = refused('FORBIDDEN');

    assert.throws(() => r.closeTransport('bob', aliceSend), forbidden);
    await assert.rejects(r.transportStats('bob', aliceSend), forbidden);
    await assert.rejects(r.connectPlainTransport('bob', aliceSend, '127.0.0.1', 5004, undefined, undefined), forbidden);
    await assert.rejects(r.produce('bob', aliceSend, 'audio', { ...audio, encodings: [{ ssrc: 999 }] }, false, undefined), forbidden);
    await assert.rejects(r.consume('alice', bobRecv, producerId, r.router.rtpCapabilities), forbidden);
    await assert.rejects(r.restartIce('alice', bobRecv), forbidden);
    for (const action of ['pause', 'resume', 'close'] as const) {
      await assert.rejects(r.producerAction('bob', producerId, action), forbidden);
      await assert.rejects(r.consumerAction('alice', consumerId, action), forbidden);
    }
    await assert.rejects(r.setPreferredLayers('alice', consumerId, 0, undefined), forbidden);

    assert.deepEqual(r.counts, { transports: 2, producers: 1, consumers: 1, links: 0, linkStreamsOut: 0, linkStreamsIn: 0 });
    assert.deepEqual(r.peerMedia('alice').producers, [{ producerId, kind: 'audio', paused: false, source: 'microphone' }]);
    assert.deepEqual(r.peerMedia('bob').consumers, [{ consumerId, producerId }]);
    // The owner still can.
    await r.producerAction('alice', producerId, 'pause');
    assert.equal(r.peerMedia('alice').producers[0]?.paused, true);
  });

  it('answers NOT_FOUND for an object it does not hold, whoever asks', async () => {
    const { r } = await room();
    const { aliceSend } = await aliceAndBob(r);
    const notFound = refused('NOT_FOUND');
    assert.throws(() => r.closeTransport('alice', 'no-such-transport'), notFound);
    await assert.rejects(r.producerAction('alice', 'no-such-producer', 'pause'), notFound);
    await assert.rejects(r.consumerAction('bob', 'no-such-consumer', 'pause'), notFound);
    // Gone once closed: the index follows mediasoup.
    r.closeTransport('alice', aliceSend);
    await assert.rejects(r.transportStats('alice', aliceSend), notFound);
  });

  it('does not let a peer consume its own producer, nor a producer the room does not have', async () => {
    const { r } = await room();
    const { producerId } = await aliceAndBob(r);
    const aliceRecv = await r.createWebRtcTransport('alice', 'recv', false);
    await assert.rejects(r.consume('alice', aliceRecv.transportId, producerId, r.router.rtpCapabilities), refused('INVALID_MESSAGE'));
    await assert.rejects(r.consume('alice', aliceRecv.transportId, 'no-such-producer', r.router.rtpCapabilities), refused('NOT_FOUND'));
    assert.equal(r.counts.consumers, 1, 'only bob’s');
  });

  it('keeps WebRTC transports to their direction', async () => {
    const { r } = await room();
    const { producerId } = await aliceAndBob(r);
    const bobSend = await r.createWebRtcTransport('bob', 'send', false);
    const bobRecv2 = await r.createWebRtcTransport('bob', 'recv', false);
    await assert.rejects(r.consume('bob', bobSend.transportId, producerId, r.router.rtpCapabilities), refused('INVALID_MESSAGE'));
    await assert.rejects(
      r.produce('bob', bobRecv2.transportId, 'audio', { ...audio, encodings: [{ ssrc: 4321 }] }, false, undefined),
      refused('INVALID_MESSAGE'),
    );
  });

  it('refuses a consumer over the node’s capacity, creating nothing', async () => {
    let admit = true;
    const { r } = await room({ admitConsumer: () => admit });
    const { producerId } = await aliceAndBob(r);
    const carol = await r.createWebRtcTransport('carol', 'recv', false);
    admit = false;
    await assert.rejects(r.consume('carol', carol.transportId, producerId, r.router.rtpCapabilities), refused('CAPACITY'));
    assert.equal(r.counts.consumers, 1);
    assert.deepEqual(r.peerMedia('carol').consumers, []);
  });

  it('refuses a plain connect that does not fit the transport before using up its one connect', async () => {
    const { r } = await room();
    r.admit({ peerId: 'rec', identity: 'rec' });
    const plain = await r.createPlainTransport('rec', false, true);
    const srtp = await r.createPlainTransport('rec', false, true, { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80' });
    const invalid = refused('INVALID_MESSAGE');
    await assert.rejects(
      r.connectPlainTransport('rec', plain.transportId, undefined, undefined, undefined, undefined),
      invalid,
      'not comedia: needs ip and port',
    );
    await assert.rejects(r.connectPlainTransport('rec', plain.transportId, '127.0.0.1', 5004, undefined, srtp.srtpParameters), invalid, 'no SRTP here');
    await assert.rejects(r.connectPlainTransport('rec', srtp.transportId, '127.0.0.1', 5006, undefined, undefined), invalid, 'SRTP needs a key');
    assert.deepEqual(await r.connectPlainTransport('rec', plain.transportId, '127.0.0.1', 5004, undefined, undefined), {});
    const answer = await r.connectPlainTransport('rec', srtp.transportId, '127.0.0.1', 5006, undefined, srtp.srtpParameters);
    assert.equal(answer.srtpParameters?.cryptoSuite, 'AES_CM_128_HMAC_SHA1_80');
  });

  it('on a peer’s departure closes its transports with their producers and consumers, ends its membership and tells the other legs', async () => {
    const { r, bus, media, idle } = await room();
    assert.equal(r.idle, true);
    const { producerId } = await aliceAndBob(r);
    const bobMore = await r.createWebRtcTransport('bob', 'send', false);
    assert.deepEqual(idle, [false], 'used from the first member on');

    assert.equal(r.closePeer('alice'), 1, 'alice had one transport');
    assert.equal(r.isMember('alice'), false);
    assert.equal(r.isMember('bob'), true);
    assert.deepEqual(r.peerMedia('alice'), { transports: [], producers: [], consumers: [] });
    assert.equal(r.counts.transports, 2, 'bob’s stay');
    assert.equal(r.counts.producers, 0);
    const types = bus.legEvents().map((e) => e.type);
    assert.deepEqual(types.slice(-2), ['producerClosed', 'memberLeft']);
    assert.ok(bus.legEvents().some((e) => e.type === 'producerClosed' && e.producerId === producerId));
    assert.deepEqual(
      r.roster().map((p) => p.peerId),
      ['bob'],
    );

    // Bob's client hears that its consumer ended; it did not end it.
    const deadline = Date.now() + 5000;
    while (!media.some((e) => e.type === 'consumerClosed') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.ok(media.some((e) => e.type === 'consumerClosed' && e.peerId === 'bob' && e.producerId === producerId));
    assert.equal(r.counts.consumers, 0, 'bob’s consumer of alice went with her producer');

    assert.equal(r.closePeer('bob'), 2);
    assert.equal(r.closePeer('bob'), 0, 'a second departure closes nothing');
    assert.equal(bus.legEvents().filter((e) => e.type === 'memberLeft').length, 2, 'and is not told again');
    assert.equal(r.idle, true);
    assert.deepEqual(idle, [false, true]);
    assert.equal(
      r.peerMedia('bob').transports.some((t) => t.transportId === bobMore.transportId),
      false,
    );
  });
});
