/**
 * What a consumer tells its owner's gateway on its own, on a real mediasoup worker: its
 * producer paused, resumed or closed, and the simulcast layers it forwards, fed with VP8 RTP
 * sent here. What the owner did itself (closing the consumer or its transport) is not told.
 */
import { check, MediaEvent } from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { MEDIA_CODECS } from '../src/codecs.js';
import { reportConsumerEvents } from '../src/consumer-events.js';

const owner = { roomId: 'r', nodeId: 'n1', peerId: 'sub' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opus = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 };

/**
 * A one-packet VP8 key frame: payload type 101, marker set, descriptor with a picture id,
 * TL0PICIDX and temporal layer 0 (what a simulcast consumer rewrites when it switches streams).
 */
function vp8KeyFrame(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 6 + 10, 0);
  b[0] = 0x80;
  b[1] = 0x80 | 101;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 3000) >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  b[12] = 0x90; // extended, start of partition 0
  b[13] = 0xe0; // picture id, TL0PICIDX and TID present
  b[14] = 0x80 | ((seq >> 8) & 0x7f); // 15-bit picture id
  b[15] = seq & 0xff;
  b[16] = seq & 0xff; // TL0PICIDX
  b[17] = 0x20; // TID 0, layer sync
  b[18] = 0x10; // frame tag: key frame (inverse bit 0), shown
  b.set([0x00, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00], 19); // start code, 320x240
  return b;
}

describe('consumer events', () => {
  let worker: mediasoup.types.Worker;
  let router: mediasoup.types.Router;

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'none' });
    router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  });
  after(() => worker.close());

  async function pair(ingestOptions: { comedia: boolean } = { comedia: false }) {
    const input = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, ...ingestOptions });
    const output = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true });
    // A consumer forwards only once its transport sends somewhere: the discard port will do.
    await output.connect({ ip: '127.0.0.1', port: 9 });
    return { input, output, close: () => (input.close(), output.close()) };
  }

  async function until(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!cond() && Date.now() < deadline) await sleep(20);
    assert.ok(cond(), what);
  }

  it('tells the owner of its producer’s pause, resume and close, as valid media events naming both', async () => {
    const { input, output, close } = await pair();
    const producer = await input.produce({ kind: 'audio', rtpParameters: { codecs: [opus], encodings: [{ ssrc: 1111 }] } });
    const consumer = await output.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const events: MediaEvent[] = [];
    reportConsumerEvents(consumer, owner, (e) => events.push(e));
    await producer.pause();
    await producer.resume();
    producer.close();
    await until(() => events.length >= 3, 'three events');
    const base = { ...owner, consumerId: consumer.id, producerId: producer.id };
    assert.deepEqual(events, [
      { type: 'consumerPaused', ...base },
      { type: 'consumerResumed', ...base },
      { type: 'consumerClosed', ...base },
    ]);
    for (const e of events) assert.ok(check(MediaEvent.schema, e).ok, e.type);
    close();
  });

  it('tells nothing of what the owner did: pausing or closing the consumer, closing its transport', async () => {
    const { input, output, close } = await pair();
    const producer = await input.produce({ kind: 'audio', rtpParameters: { codecs: [opus], encodings: [{ ssrc: 2222 }] } });
    const events: MediaEvent[] = [];
    const a = await output.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const b = await output.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    reportConsumerEvents(a, owner, (e) => events.push(e));
    reportConsumerEvents(b, owner, (e) => events.push(e));
    await a.pause();
    await a.resume();
    a.close();
    output.close();
    assert.equal(b.closed, true);
    // A round trip to the worker after the closes: anything it had to tell has been heard by now.
    await producer.getStats();
    assert.deepEqual(events, []);
    close();
  });

  it('tells the simulcast layers it forwards once RTP flows, and none when it no longer forwards', async () => {
    const { input, output, close } = await pair({ comedia: true });
    const producer = await input.produce({
      kind: 'video',
      rtpParameters: {
        codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }],
        encodings: [{ ssrc: 3001 }, { ssrc: 3002 }],
      },
    });
    const consumer = await output.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    assert.equal(consumer.type, 'simulcast');
    const events: MediaEvent[] = [];
    reportConsumerEvents(consumer, owner, (e) => events.push(e));
    const layers = () => events.filter((e) => e.type === 'consumerLayersChanged');

    const socket = createSocket('udp4');
    try {
      let seq = 1;
      const deadline = Date.now() + 10_000;
      while (layers().length === 0 && Date.now() < deadline) {
        for (let i = 0; i < 5; i++) {
          socket.send(vp8KeyFrame(seq, 3001), input.tuple.localPort, '127.0.0.1');
          socket.send(vp8KeyFrame(seq, 3002), input.tuple.localPort, '127.0.0.1');
          seq++;
        }
        await sleep(30);
      }
    } finally {
      socket.close();
    }
    const first = layers()[0];
    assert.ok(first?.type === 'consumerLayersChanged', 'layers told once RTP flows');
    assert.ok(check(MediaEvent.schema, first).ok);
    assert.equal(first.consumerId, consumer.id);
    assert.equal(first.temporalLayer, 0);
    assert.ok(first.spatialLayer === 0 || first.spatialLayer === 1, `a layer of the two streams: ${first.spatialLayer}`);

    // Paused, it forwards no layer: null, not a missing field.
    await consumer.pause();
    // It may still have moved up a layer from what was already sent: the null comes last.
    await until(() => {
      const last = layers().at(-1);
      return last?.type === 'consumerLayersChanged' && last.spatialLayer === null;
    }, 'no layers told on pause');
    assert.deepEqual(layers().at(-1), { type: 'consumerLayersChanged', ...owner, consumerId: consumer.id, spatialLayer: null, temporalLayer: null });
    assert.ok(check(MediaEvent.schema, layers().at(-1)).ok);
    close();
  });
});
