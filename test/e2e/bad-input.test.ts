/**
 * Bad input found by an independent fuzzer, and grants and ownership with real ids, against a
 * real region (nats-server, gateway and media node as processes). Alice publishes audio and
 * video over real WebRTC and Carol receives them; Bob (a bare socket) sends what a broken or
 * hostile client would. Every case asserts its exact code, and that Alice's media still reaches
 * Carol afterwards.
 */
import { PEER_MEDIA_LIMITS } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NodePeer } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { RawSocket, type RawResponse } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'bad-input';

const hex = (bytes: number) => Array.from({ length: bytes }, (_, i) => ((i * 37 + 11) & 0xff).toString(16).padStart(2, '0').toUpperCase()).join(':');
const DTLS = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: hex(32) }] };
const opus = (ssrc: number, extra: Record<string, unknown> = {}) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: { useinbandfec: 1 } }],
  encodings: [{ ssrc }],
  ...extra,
});
const vp8Simulcast = (rids: string[]) => ({
  codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id', id: 10 }],
  encodings: rids.map((rid) => ({ rid })),
});
/** A frame with DEEP standing for a value nested 5000 arrays deep (JSON.stringify itself would overflow on it). */
const DEEP = '__deep__';
const withDeep = (frame: object) => JSON.stringify(frame).replace(JSON.stringify(DEEP), `${'['.repeat(5000)}"x"${']'.repeat(5000)}`);

function code(r: RawResponse): string {
  return r.ok ? 'ok' : `${r.error!.code}: ${r.error!.message}`;
}

describe('bad input at the gateway and the media node', { timeout: 180_000 }, () => {
  let region: Region;
  let alice: NodePeer;
  let carol: NodePeer;
  let bob: RawSocket;
  let bobSend: string;
  let bobRecv: string;

  /** Alice's audio and video keep arriving at Carol: more packets of each after `since`. */
  async function aliceStillFlows(): Promise<void> {
    const base = { audio: carol.receivedFrom(alice.peerId, 'audio').packets, video: carol.receivedFrom(alice.peerId, 'video').packets };
    await waitFor(
      "Alice's audio and video to keep reaching Carol",
      () =>
        carol.receivedFrom(alice.peerId, 'audio').packets > base.audio + 10 && carol.receivedFrom(alice.peerId, 'video').packets > base.video + 10
          ? true
          : undefined,
      15_000,
    );
    assert.ok(
      [...carol.room.consumers.values()].filter((c) => c.peerId === alice.peerId && !c.consumer.closed).length === 2,
      "Carol's consumers of Alice are open",
    );
    assert.equal(alice.room.closed, false);
  }

  before(async () => {
    region = await startRegion({ env: { SIGNALING_RATE_LIMIT: '200', SIGNALING_RATE_BURST: '400' } });
    alice = await NodePeer.join({ wsUrl: region.wsUrl, token: await region.mintToken({ room: ROOM, identity: 'alice' }), name: 'alice' });
    carol = await NodePeer.join({
      wsUrl: region.wsUrl,
      token: await region.mintToken({ room: ROOM, identity: 'carol', grants: { publish: false } }),
      name: 'carol',
      publish: { audio: false, video: false },
    });
    await waitFor(
      'Carol to receive Alice',
      () => (carol.receivedFrom(alice.peerId, 'video').packets > 0 && carol.receivedFrom(alice.peerId, 'audio').packets > 0 ? true : undefined),
      20_000,
    );
    bob = await RawSocket.open(region.wsUrl);
    assert.equal(code(await bob.request('join', { token: await region.mintToken({ room: ROOM, identity: 'bob' }) })), 'ok');
    bobSend = (await bob.request('createWebRtcTransport', { direction: 'send' })).data!['transportId'] as string;
    bobRecv = (await bob.request('createWebRtcTransport', { direction: 'recv' })).data!['transportId'] as string;
  });

  after(async () => {
    bob?.close();
    await Promise.allSettled([alice?.leave(), carol?.leave()]);
    await region?.stop();
  });

  it('refuses a value nested 5000 deep in a field no schema inspects with INVALID_MESSAGE, not a stack overflow', async () => {
    const caps = alice.room.device.rtpCapabilities;
    const aliceVideo = [...alice.room.producers.values()].find((p) => p.kind === 'video')!.producerId;
    const frames: Record<string, unknown>[] = [
      { method: 'produce', data: { transportId: bobSend, kind: 'audio', rtpParameters: { ...opus(5), codecs: [{ ...opus(5).codecs[0], x: DEEP }] } } },
      { method: 'consume', data: { transportId: bobRecv, producerId: aliceVideo, rtpCapabilities: { codecs: [{ ...caps.codecs![0], x: DEEP }] } } },
      {
        method: 'connectWebRtcTransport',
        data: { transportId: bobSend, dtlsParameters: { ...DTLS, fingerprints: [{ ...DTLS.fingerprints[0], x: DEEP }] } },
      },
      { method: 'getRouterRtpCapabilities', data: { x: DEEP } },
    ];
    for (const [i, f] of frames.entries()) {
      const id = 500 + i;
      bob.sendRaw(withDeep({ id, ...f }));
      const r = await bob.waitFor(() => bob.responses.find((x) => x.id === id));
      assert.equal(r.error?.code, 'INVALID_MESSAGE', `${String(f['method'])}: ${code(r)}`);
      assert.match(r.error!.message, /nested deeper than 32 levels/);
    }
    // Wide rather than deep: 30 000 values in under 64 KiB.
    bob.sendRaw(JSON.stringify({ id: 510, method: 'getRouterRtpCapabilities', data: { x: new Array(30_000).fill(0) } }));
    const wide = await bob.waitFor(() => bob.responses.find((x) => x.id === 510));
    assert.equal(wide.error?.code, 'INVALID_MESSAGE', code(wide));
    assert.match(wide.error!.message, /made of more than 20000 values/);
    assert.equal(bob.closed, undefined);
    assert.equal(
      region.processes.every((p) => p.running()),
      true,
    );
    assert.doesNotMatch(region.processes.map((p) => p.output()).join('\n'), /Maximum call stack/);
    await aliceStillFlows();
  });

  it("answers mediasoup's own refusals (SSRC, MID or RID in use, connect twice) with CONFLICT and mediasoup's reason", async () => {
    assert.equal(code(await bob.request('produce', { transportId: bobSend, kind: 'audio', rtpParameters: opus(1111, { mid: 'a0' }) })), 'ok');
    const ssrc = await bob.request('produce', { transportId: bobSend, kind: 'audio', rtpParameters: opus(1111, { mid: 'a1' }) });
    assert.equal(ssrc.error?.code, 'CONFLICT', code(ssrc));
    assert.match(ssrc.error!.message, /ssrc already exists in RTP listener/);
    const mid = await bob.request('produce', { transportId: bobSend, kind: 'audio', rtpParameters: opus(2222, { mid: 'a0' }) });
    assert.equal(mid.error?.code, 'CONFLICT', code(mid));
    assert.match(mid.error!.message, /MID already exists in RTP listener/);
    assert.equal(code(await bob.request('produce', { transportId: bobSend, kind: 'video', rtpParameters: vp8Simulcast(['r0', 'r1']) })), 'ok');
    const rid = await bob.request('produce', { transportId: bobSend, kind: 'video', rtpParameters: vp8Simulcast(['r1', 'r2']) });
    assert.equal(rid.error?.code, 'CONFLICT', code(rid));
    assert.match(rid.error!.message, /RID already exists in RTP listener/);

    assert.equal(code(await bob.request('connectWebRtcTransport', { transportId: bobSend, dtlsParameters: DTLS })), 'ok');
    const again = await bob.request('connectWebRtcTransport', { transportId: bobSend, dtlsParameters: DTLS });
    assert.equal(again.error?.code, 'CONFLICT', code(again));
    assert.match(again.error!.message, /connect\(\) already called/);
    assert.doesNotMatch(region.processes.map((p) => p.output()).join('\n'), /"code":"INTERNAL"/);
    await aliceStillFlows();
  });

  it('refuses nonsense media parameters at the gateway, so nothing of them reaches other peers', async () => {
    const bobPeer = (await waitFor('Carol to know Bob', () => [...carol.room.peers.values()].find((p) => p.identity === 'bob'))).peerId;
    const announcedBefore = carol.room.peers.get(bobPeer)!.producers.size;
    const video = (encoding: object) => ({ codecs: [{ mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 }], encodings: [encoding] });
    const cases: [string, string, Record<string, unknown>, RegExp][] = [
      ['ssrc -1', 'produce', { transportId: bobSend, kind: 'audio', rtpParameters: opus(-1) }, /\/rtpParameters\/encodings\/0\/ssrc/],
      ['ssrc 2^40', 'produce', { transportId: bobSend, kind: 'audio', rtpParameters: opus(2 ** 40) }, /\/rtpParameters\/encodings\/0\/ssrc/],
      ['rid of 100', 'produce', { transportId: bobSend, kind: 'video', rtpParameters: video({ rid: 'r'.repeat(100) }) }, /\/encodings\/0\/rid/],
      [
        'fmtp injection',
        'produce',
        { transportId: bobSend, kind: 'audio', rtpParameters: { ...opus(3), codecs: [{ ...opus(3).codecs[0], parameters: { x: 'a\r\na=bad' } }] } },
        /\/codecs\/0\/parameters\/x/,
      ],
      [
        'fingerprint zz:zz:zz',
        'connectWebRtcTransport',
        { transportId: bobRecv, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'zz:zz:zz' }] } },
        /\/dtlsParameters\/fingerprints\/0: expected .*RFC 8122/,
      ],
      [
        'preferredPayloadType 1e9',
        'consume',
        {
          transportId: bobRecv,
          producerId: [...alice.room.producers.keys()][0],
          rtpCapabilities: { codecs: [{ kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 1e9, clockRate: 48000, channels: 2 }] },
        },
        /\/rtpCapabilities\/codecs\/0\/preferredPayloadType/,
      ],
    ];
    for (const [what, method, data, path] of cases) {
      const r = await bob.request(method, data);
      assert.equal(r.error?.code, 'INVALID_MESSAGE', `${what}: ${code(r)}`);
      assert.match(r.error!.message, path, what);
    }
    assert.equal(carol.room.peers.get(bobPeer)!.producers.size, announcedBefore, 'no producer of the refused requests was announced');
    assert.ok(
      carol.events.every((e) => !e.startsWith('error')),
      carol.events.join('\n'),
    );
    await aliceStillFlows();
  });

  it('answers leave before join UNAUTHORIZED and keeps the socket: an error answer never closes it', async () => {
    const s = await RawSocket.open(region.wsUrl);
    const r = await s.request('leave');
    assert.equal(r.error?.code, 'UNAUTHORIZED');
    const j = await s.request('join', { token: await region.mintToken({ room: ROOM, identity: 'late' }) });
    assert.equal(code(j), 'ok', 'the same socket can still join');
    assert.equal(s.closed, undefined);
    assert.equal(code(await s.request('leave')), 'ok');
    await s.waitFor(() => s.closed);
    assert.equal(s.closed!.code, 1000, 'a successful leave closes with 1000');
  });

  it('refuses a UTF-8 byte order mark with BAD_REQUEST and keeps the socket', async () => {
    const s = await RawSocket.open(region.wsUrl);
    s.sendRaw(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ id: 1, method: 'getRouterRtpCapabilities', data: {} }))]));
    const r = await s.waitFor(() => s.responses[0]);
    assert.equal(r.id, null);
    assert.equal(r.error?.code, 'BAD_REQUEST');
    assert.match(r.error!.message, /byte order mark/);
    assert.equal((await s.request('leave')).error?.code, 'UNAUTHORIZED', 'still open and answering');
    s.close();
  });

  it('drops a text frame of invalid UTF-8 in uWS, before the gateway reads it (1006), and nobody else notices', async () => {
    const s = await RawSocket.open(region.wsUrl);
    s.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])); // {"\xff\xfe"} as a text frame
    await s.waitFor(() => s.closed);
    assert.equal(s.closed!.code, 1006);
    assert.equal(s.responses.length, 0);
    // The same bytes in a binary frame reach the gateway, which answers (binary is not the protocol).
    const b = await RawSocket.open(region.wsUrl);
    b.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), true);
    assert.equal((await b.waitFor(() => b.responses[0])).error?.code, 'BAD_REQUEST');
    b.close();
    assert.equal(bob.closed, undefined);
    await aliceStillFlows();
  });

  it('refuses what the token does not grant with FORBIDDEN', async () => {
    const listener = await RawSocket.open(region.wsUrl);
    const lj = await listener.request('join', { token: await region.mintToken({ room: ROOM, identity: 'listener', grants: { publish: false } }) });
    assert.deepEqual((lj.data!['grants'] as Record<string, boolean>)['publish'], false);
    assert.equal((await listener.request('createWebRtcTransport', { direction: 'send' })).error?.code, 'FORBIDDEN');
    const recv = await listener.request('createWebRtcTransport', { direction: 'recv' });
    assert.equal(code(recv), 'ok', 'subscribing is still granted');
    const produce = await listener.request('produce', { transportId: recv.data!['transportId'], kind: 'audio', rtpParameters: opus(4444) });
    assert.equal(produce.error?.code, 'FORBIDDEN', code(produce));

    const viewer = await RawSocket.open(region.wsUrl);
    await viewer.request('join', { token: await region.mintToken({ room: ROOM, identity: 'publisher-only', grants: { subscribe: false } }) });
    assert.equal((await viewer.request('createWebRtcTransport', { direction: 'recv' })).error?.code, 'FORBIDDEN');
    const send = await viewer.request('createWebRtcTransport', { direction: 'send' });
    assert.equal(code(send), 'ok', 'publishing is still granted');
    const consume = await viewer.request('consume', {
      transportId: send.data!['transportId'],
      producerId: [...alice.room.producers.keys()][0],
      rtpCapabilities: alice.room.device.rtpCapabilities,
    });
    assert.equal(consume.error?.code, 'FORBIDDEN', code(consume));
    assert.equal(carol.room.joinResult?.grants.publish, false, 'Carol, joined without publish, receives all along');
    listener.close();
    viewer.close();
    await aliceStillFlows();
  });

  it("answers NOT_FOUND when Bob names Alice's and Carol's real producer, consumer and transport ids, and their media is unaffected", async () => {
    const aliceProducers = [...alice.room.producers.keys()];
    const carolConsumers = [...carol.room.consumers.values()].filter((c) => c.peerId === alice.peerId).map((c) => c.consumerId);
    const aliceSend = alice.room.sendTransport!.id;
    const carolRecv = carol.room.recvTransport!.id;
    assert.equal(aliceProducers.length, 2);
    assert.equal(carolConsumers.length, 2);
    const attempts: [string, Record<string, unknown>][] = [
      ...aliceProducers.flatMap((producerId): [string, Record<string, unknown>][] => [
        ['pauseProducer', { producerId }],
        ['resumeProducer', { producerId }],
        ['closeProducer', { producerId }],
      ]),
      ...carolConsumers.flatMap((consumerId): [string, Record<string, unknown>][] => [
        ['pauseConsumer', { consumerId }],
        ['resumeConsumer', { consumerId }],
        ['closeConsumer', { consumerId }],
        ['setConsumerPreferredLayers', { consumerId, spatialLayer: 0 }],
      ]),
      ['connectWebRtcTransport', { transportId: aliceSend, dtlsParameters: DTLS }],
      ['restartIce', { transportId: aliceSend }],
      ['restartIce', { transportId: carolRecv }],
      ['getTransportStats', { transportId: aliceSend }],
      ['produce', { transportId: aliceSend, kind: 'audio', rtpParameters: opus(7777) }],
      ['consume', { transportId: carolRecv, producerId: aliceProducers[0], rtpCapabilities: carol.room.device.rtpCapabilities }],
    ];
    for (const [method, data] of attempts) {
      const r = await bob.request(method, data);
      assert.equal(r.error?.code, 'NOT_FOUND', `${method} ${JSON.stringify(data).slice(0, 80)}: ${code(r)}`);
      assert.match(r.error!.message, /of yours/);
    }
    // The gateway refused every one of them: nothing was paused, closed or restarted.
    assert.equal(alice.room.producers.size, 2);
    assert.ok([...alice.room.producers.values()].every((p) => !p.producer.closed && !p.producer.paused));
    assert.equal(alice.room.transportState('send'), 'connected');
    assert.equal(carol.room.transportState('recv'), 'connected');
    await aliceStillFlows();
  });

  it("refuses consuming one's own producer, a producer of another room, and a transport past the limit", async () => {
    const own = [...bob.responses].reverse().find((r) => r.ok && typeof r.data?.['producerId'] === 'string')!.data!['producerId'] as string;
    const caps = { codecs: alice.room.device.rtpCapabilities.codecs };
    const self = await bob.request('consume', { transportId: bobRecv, producerId: own, rtpCapabilities: caps });
    assert.equal(self.error?.code, 'INVALID_MESSAGE', code(self));
    assert.match(self.error!.message, /own producer/);

    const elsewhere = await RawSocket.open(region.wsUrl);
    await elsewhere.request('join', { token: await region.mintToken({ room: 'another-room', identity: 'dave' }) });
    const t = await elsewhere.request('createWebRtcTransport', { direction: 'recv' });
    const foreign = await elsewhere.request('consume', {
      transportId: t.data!['transportId'],
      producerId: [...alice.room.producers.keys()][0],
      rtpCapabilities: caps,
    });
    assert.equal(foreign.error?.code, 'NOT_FOUND', code(foreign));
    assert.match(foreign.error!.message, /room another-room/, "the media node's room does not hold it");
    elsewhere.close();

    // Bob has 2 transports; the gateway allows PEER_MEDIA_LIMITS.transports.
    for (let i = 2; i < PEER_MEDIA_LIMITS.transports; i++) assert.equal(code(await bob.request('createWebRtcTransport', { direction: 'recv' })), 'ok');
    const oneTooMany = await bob.request('createWebRtcTransport', { direction: 'recv' });
    assert.equal(oneTooMany.error?.code, 'CAPACITY', code(oneTooMany));
    assert.equal(oneTooMany.error?.message, `at most ${PEER_MEDIA_LIMITS.transports} transports per peer`);
    assert.equal(bob.closed, undefined);
    await aliceStillFlows();
  });
});
