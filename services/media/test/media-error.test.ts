/**
 * mediasoup's errors mapped to our codes, against a real worker: a request on an object the
 * worker already closed (its producer went) is NOT_FOUND, and a read of it is simply absent.
 */
import { StrataError } from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fromMediasoup, mediasoupCall, unlessGone } from '../src/media-error.js';

describe('mediasoup errors', () => {
  let worker: mediasoup.types.Worker;
  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'none' });
  });
  after(() => worker.close());

  async function consumerOfClosingProducer() {
    const router = await worker.createRouter({ mediaCodecs: [{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 }] });
    const send = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' } });
    const recv = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' } });
    const producer = await send.produce({
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1111 }] },
    });
    const consumer = await recv.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    // The producer's close reaches the worker before the read: the worker closes the consumer
    // with it, and Node hears of that only later.
    producer.close();
    return consumer;
  }

  it('answers a request on an object closed in the worker, not yet in Node, with NOT_FOUND', async () => {
    const consumer = await consumerOfClosingProducer();
    assert.equal(consumer.closed, false, 'Node has not heard yet');
    await assert.rejects(
      mediasoupCall(() => consumer.getStats()),
      (err: unknown) => err instanceof StrataError && err.code === 'NOT_FOUND',
    );
  });

  it('reads such an object as absent, and keeps other failures', async () => {
    const consumer = await consumerOfClosingProducer();
    assert.equal(await unlessGone(() => consumer.getStats()), undefined);
    await assert.rejects(
      unlessGone(() => Promise.reject(new Error('worker died'))),
      (err: unknown) => err instanceof StrataError && err.code === 'INTERNAL',
    );
  });

  it('keeps mediasoup’s reason and sorts its error names', () => {
    const typeErr = new TypeError('missing kind');
    assert.equal(fromMediasoup(typeErr).code, 'INVALID_MESSAGE');
    assert.equal(fromMediasoup(typeErr).message, 'missing kind');
    const stateErr = Object.assign(new Error('Consumer closed'), { name: 'InvalidStateError' });
    assert.equal(fromMediasoup(stateErr).code, 'NOT_FOUND');
    assert.equal(fromMediasoup(new Error('ssrc already exists in RTP listener [ssrc:1]')).code, 'CONFLICT');
    assert.equal(fromMediasoup(new Error('something else')).code, 'INTERNAL');
  });
});
