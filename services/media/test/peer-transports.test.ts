import { memoryLogger } from '@strata/harness';
import type { MediaEvent } from '@strata/protocol';
import type { types } from 'mediasoup';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MEDIA_CODECS } from '../src/codecs.js';
import { reportConsumerEvents } from '../src/consumer-events.js';
import { directionOf, PeerTransports } from '../src/peer-transports.js';
import { WorkerPool } from '../src/worker-pool.js';

const audio = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 1234 }] };

describe('PeerTransports and consumer events, on a real mediasoup worker', () => {
  const { log } = memoryLogger();
  let pool: WorkerPool;
  let router: types.Router;
  let transports: PeerTransports;

  before(async () => {
    pool = await WorkerPool.create(
      { numWorkers: 1, listenIp: '127.0.0.1', announcedAddress: undefined, rtcPort: 0, rtcMinPort: 40000, rtcMaxPort: 49999, logLevel: 'none' },
      log,
      () => undefined,
    );
    router = await pool.workers[0]!.worker.createRouter({ mediaCodecs: MEDIA_CODECS });
    transports = new PeerTransports(router, pool.workers[0]!, { initialOutgoingBitrate: 1_000_000, listenIp: '127.0.0.1', announcedAddress: undefined }, log);
  });

  after(async () => {
    await pool?.close();
  });

  it('makes WebRTC transports on the worker’s server, tagged with peer and direction; closing one is not a DTLS failure', async () => {
    const ended: string[] = [];
    const { transport, info } = await transports.webRtc('p1', 'send', false, (t) => ended.push(t.id));
    assert.equal(info.transportId, transport.id);
    assert.equal(directionOf(transport), 'send');
    assert.ok(info.iceCandidates.length > 0 && info.dtlsParameters.fingerprints.length > 0);
    transport.close();
    assert.deepEqual(ended, [], 'a transport closed on purpose is not a DTLS failure');
  });

  it('makes plain transports, with the key this end encrypts with when SRTP is asked', async () => {
    const clear = await transports.plain('p1', true, true);
    assert.equal(clear.info.srtpParameters, undefined);
    assert.equal(directionOf(clear.transport), undefined);
    const srtp = await transports.plain('p1', false, true, { cryptoSuite: 'AEAD_AES_128_GCM' });
    assert.equal(srtp.info.srtpParameters?.cryptoSuite, 'AEAD_AES_128_GCM');
    assert.equal(Buffer.from(srtp.info.srtpParameters!.keyBase64, 'base64').length, 28);
    clear.transport.close();
    srtp.transport.close();
  });

  it('reports what happens to a consumer on its own: its producer paused, resumed, closed', async () => {
    const input = await transports.plain('pub', true, true);
    const output = await transports.plain('sub', false, true);
    await output.transport.connect({ ip: '127.0.0.1', port: 9 });
    const producer = await input.transport.produce({ kind: 'audio', rtpParameters: audio });
    const consumer = await output.transport.consume({ producerId: producer.id, rtpCapabilities: router.rtpCapabilities });
    const events: MediaEvent[] = [];
    reportConsumerEvents(consumer, { roomId: 'r', nodeId: 'n', peerId: 'sub' }, (e) => events.push(e));
    await producer.pause();
    await producer.resume();
    producer.close();
    const deadline = Date.now() + 5000;
    while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(
      events.map((e) => e.type),
      ['consumerPaused', 'consumerResumed', 'consumerClosed'],
    );
    assert.ok(events.every((e) => e.peerId === 'sub' && 'consumerId' in e && e.consumerId === consumer.id));
    input.transport.close();
    output.transport.close();
  });
});
