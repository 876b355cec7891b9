/**
 * One end of a link between two media nodes, on real mediasoup routers: what it tells the far
 * end, how it takes the far end's tuple (both ends may hear it twice), the capabilities its
 * consumers are made with, and that two ends connected to each other carry RTP, clear or SRTP.
 */
import { memoryLogger } from '@strata/harness';
import { check, LinkTuple, StrataError } from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { MEDIA_CODECS } from '../src/codecs.js';
import { Link, linkCapabilities, type LinkSettings } from '../src/link.js';

const settings: LinkSettings = { listenIp: '127.0.0.1', announcedAddress: undefined, srtp: 'cross-region' };
const opus = { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const conflict = (err: unknown) => err instanceof StrataError && err.code === 'CONFLICT';

/** An RTP packet of payload type 100 with a few bytes of payload (mediasoup does not decode opus). */
function rtp(seq: number, ssrc: number): Buffer {
  const b = Buffer.alloc(12 + 20, 0xab);
  b[0] = 0x80;
  b[1] = 100;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 960) >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

describe('Link', () => {
  const { log } = memoryLogger();
  // Two workers, as on two nodes: a producer forwarded over the link keeps its origin's id.
  const workers: mediasoup.types.Worker[] = [];
  let a: mediasoup.types.Router;
  let b: mediasoup.types.Router;

  before(async () => {
    for (let i = 0; i < 2; i++) workers.push(await mediasoup.createWorker({ logLevel: 'none' }));
    a = await workers[0]!.createRouter({ mediaCodecs: MEDIA_CODECS });
    b = await workers[1]!.createRouter({ mediaCodecs: MEDIA_CODECS });
  });
  after(() => workers.forEach((w) => w.close()));

  it('tells where it receives, as a valid LinkTuple, with the key it encrypts with only on an SRTP link', async () => {
    const clear = await Link.create(a, 'far', settings, false, log);
    const t = clear.tuple;
    assert.ok(check(LinkTuple, t).ok);
    assert.equal(t.ip, '127.0.0.1');
    assert.equal(t.port, clear.transport.tuple.localPort);
    assert.equal(t.srtpParameters, undefined);
    assert.equal(clear.srtp, false);

    const srtp = await Link.create(a, 'far', settings, true, log);
    assert.ok(check(LinkTuple, srtp.tuple).ok);
    assert.equal(srtp.srtp, true);
    assert.equal(srtp.tuple.srtpParameters?.cryptoSuite, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(Buffer.from(srtp.tuple.srtpParameters!.keyBase64, 'base64').length, 30, '16-byte key and 14-byte salt');
    assert.notEqual(srtp.tuple.port, t.port);
    clear.close();
    srtp.close();
  });

  it('tells the announced address rather than the one it listens on', async () => {
    const link = await Link.create(a, 'far', { ...settings, announcedAddress: '192.0.2.7' }, false, log);
    assert.equal(link.tuple.ip, '192.0.2.7');
    assert.equal(link.transport.appData.link, 'far');
    link.close();
  });

  it('takes the same tuple twice, at once or later, as one connect', async () => {
    const link = await Link.create(a, 'far', settings, false, log);
    assert.equal(link.connected, false);
    const tuple = { ip: '127.0.0.1', port: 40001 };
    // mediasoup refuses a second connect of a transport: a no-op here is what lets both calls succeed.
    await Promise.all([link.connectTo(tuple), link.connectTo({ ...tuple })]);
    await link.connectTo({ ...tuple });
    assert.equal(link.connected, true);
    assert.equal(link.transport.tuple.remoteIp, '127.0.0.1');
    assert.equal(link.transport.tuple.remotePort, 40001);
    link.close();
  });

  it('refuses another tuple once it has one, and keeps sending to the first', async () => {
    const link = await Link.create(a, 'far', settings, false, log);
    await link.connectTo({ ip: '127.0.0.1', port: 40002 });
    await assert.rejects(link.connectTo({ ip: '127.0.0.1', port: 40003 }), conflict);
    await assert.rejects(link.connectTo({ ip: '127.0.0.2', port: 40002 }), conflict);
    assert.equal(link.transport.tuple.remotePort, 40002);
    link.close();
  });

  it('refuses a far end that does not match its SRTP, either way, and stays unconnected', async () => {
    const srtp = await Link.create(a, 'far', settings, true, log);
    const clear = await Link.create(a, 'far', settings, false, log);
    await assert.rejects(srtp.connectTo(clear.tuple), conflict);
    await assert.rejects(clear.connectTo(srtp.tuple), conflict);
    assert.equal(srtp.connected, false);
    assert.equal(clear.connected, false);
    // Still free to take a matching far end.
    const other = await Link.create(b, 'near', settings, true, log);
    await srtp.connectTo(other.tuple);
    assert.equal(srtp.connected, true);
    srtp.close();
    clear.close();
    other.close();
  });

  it('stays free to connect when mediasoup refused the tuple', async () => {
    const link = await Link.create(a, 'far', settings, false, log);
    // A far end announcing a host name: valid as a LinkTuple, not an address mediasoup sends to.
    const bad = { ip: 'media-2.example', port: 40004 };
    assert.ok(check(LinkTuple, bad).ok);
    await assert.rejects(link.connectTo(bad));
    assert.equal(link.connected, false, 'a link that never connected does not say it did');
    await link.connectTo({ ip: '127.0.0.1', port: 40004 });
    assert.equal(link.transport.tuple.remotePort, 40004);
    link.close();
  });

  it('closes once; a closed end says so', async () => {
    const link = await Link.create(a, 'far', settings, false, log);
    link.close();
    link.close();
    assert.equal(link.closed, true);
    assert.equal(link.transport.closed, true);
  });

  it('makes consumers without congestion control or MIDs, keeping the rest of the router’s capabilities', () => {
    const caps = linkCapabilities(a.rtpCapabilities);
    const full = a.rtpCapabilities;
    const dropped = [
      'urn:ietf:params:rtp-hdrext:sdes:mid',
      'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
      'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    ];
    // The router offers all of them: otherwise dropping them would prove nothing.
    for (const uri of dropped)
      assert.ok(
        full.headerExtensions?.some((h) => h.uri === uri),
        uri,
      );
    assert.ok(full.codecs?.some((c) => c.rtcpFeedback?.some((f) => f.type === 'transport-cc')));
    assert.ok(full.codecs?.some((c) => c.rtcpFeedback?.some((f) => f.type === 'goog-remb')));

    assert.deepEqual(caps.headerExtensions?.filter((h) => dropped.includes(h.uri)) ?? [], []);
    assert.deepEqual(
      caps.headerExtensions?.map((h) => `${h.kind} ${h.uri}`),
      full.headerExtensions?.filter((h) => !dropped.includes(h.uri)).map((h) => `${h.kind} ${h.uri}`),
    );
    assert.equal(caps.codecs?.length, full.codecs?.length);
    for (const [i, c] of (caps.codecs ?? []).entries()) {
      const f = full.codecs![i]!;
      assert.equal(c.mimeType, f.mimeType);
      assert.equal(c.preferredPayloadType, f.preferredPayloadType);
      assert.deepEqual(
        c.rtcpFeedback,
        f.rtcpFeedback?.filter((x) => x.type !== 'transport-cc' && x.type !== 'goog-remb'),
      );
    }
    // NACK and PLI stay: a link repairs losses and asks for key frames.
    assert.ok(caps.codecs?.some((c) => c.rtcpFeedback?.some((f) => f.type === 'nack' && !f.parameter)));
    assert.ok(caps.codecs?.some((c) => c.rtcpFeedback?.some((f) => f.type === 'nack' && f.parameter === 'pli')));
    // The router's own capabilities are not changed by the copy.
    assert.ok(a.rtpCapabilities.headerExtensions?.some((h) => h.uri === dropped[0]));
  });

  for (const srtp of [false, true]) {
    it(`carries RTP from a producer on one router to the other over two connected ends${srtp ? ', SRTP' : ''}`, async () => {
      const ssrc = srtp ? 2222 : 1111;
      const near = await Link.create(a, 'node-b', settings, srtp, log);
      const far = await Link.create(b, 'node-a', settings, srtp, log);
      await Promise.all([near.connectTo(far.tuple), far.connectTo(near.tuple)]);

      // RTP enters router A from a UDP socket here, as from a client.
      const ingest = await a.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
      const source = await ingest.produce({ kind: 'audio', rtpParameters: { codecs: [opus], encodings: [{ ssrc }] } });
      const sent = await near.transport.consume({ producerId: source.id, rtpCapabilities: linkCapabilities(a.rtpCapabilities) });
      assert.equal(
        sent.rtpParameters.headerExtensions?.some((h) => h.uri === 'urn:ietf:params:rtp-hdrext:sdes:mid'),
        false,
        'the far end demultiplexes by SSRC',
      );
      const received = await far.transport.produce({ id: source.id, kind: 'audio', rtpParameters: sent.rtpParameters });

      const socket = createSocket('udp4');
      try {
        const deadline = Date.now() + 10_000;
        let seq = 1;
        let bytes = 0;
        while (bytes === 0 && Date.now() < deadline) {
          for (let i = 0; i < 5; i++) socket.send(rtp(seq++, ssrc), ingest.tuple.localPort, '127.0.0.1');
          await sleep(50);
          bytes = (await received.getStats()).reduce((n, s) => n + s.byteCount, 0);
        }
        assert.ok(bytes > 0, 'the producer on the far router received what the near one sent');
        assert.ok((await source.getStats()).some((s) => s.byteCount > 0));
      } finally {
        socket.close();
        ingest.close();
        near.close();
        far.close();
      }
    });
  }
});
