/**
 * SRTP on the media node's plain transports (what links between nodes need), over NATS with a
 * real media node: keys handed out and checked, and SRTP-protected RTP in through one transport
 * and out, protected again with the other transport's key, through another, for every suite
 * mediasoup offers. Encryption on our side is @strata/harness's SrtpSession, which checks
 * authentication tags: a packet only counts when it authenticates under the expected key.
 */
import { Bus } from '@strata/bus';
import { SrtpSession, randomSrtpParameters, rtpPayload } from '@strata/harness';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  Health,
  MediaConsume,
  MediaConsumerAction,
  MediaPeerClose,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaRoomOpen,
  MediaTransportStats,
  SRTP_CRYPTO_SUITES,
  SRTP_KEY_LENGTHS,
  subjects,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
  type SrtpCryptoSuite,
  type StrataError,
} from '@strata/protocol';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../helpers/logger.js';
import { spawnService, untilHealthy, waitFor, type ServiceProcess } from '../helpers/processes.js';
import { rtpPacket } from '../helpers/rtp.js';

const REGION = 'stest';
const NODE = 'media-srtp';
const ROOM = 'srtp';

const opus = (ssrc: number) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
  encodings: [{ ssrc }],
});

/** A consumer's far end: every packet must authenticate under the consumer transport's key. */
async function srtpSink(): Promise<{
  port: number;
  setKey(s: SrtpSession): void;
  ok: () => number;
  failed: () => number;
  payloads: Buffer[];
  raw: Buffer[];
  close(): void;
}> {
  const socket = createSocket('udp4');
  let session: SrtpSession | undefined;
  let ok = 0;
  let failed = 0;
  const payloads: Buffer[] = [];
  const raw: Buffer[] = [];
  socket.on('message', (m) => {
    const b = m[1] ?? 0;
    if (b >= 192 && b <= 223) return; // SRTCP (sender reports): not what this test checks
    if (raw.length < 50) raw.push(m);
    const rtp = session?.unprotect(m);
    if (!rtp) {
      failed++;
      return;
    }
    ok++;
    if (payloads.length < 50) payloads.push(rtpPayload(rtp));
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return {
    port: socket.address().port,
    setKey: (s) => (session = s),
    ok: () => ok,
    failed: () => failed,
    payloads,
    raw,
    close: () => socket.close(),
  };
}

/** Sends SRTP-protected Opus-like RTP every 20 ms; each payload names its sequence number. */
function srtpSender(host: string, port: number, ssrc: number, session: SrtpSession): { stop(): void; sent: Map<string, number>; socket: Socket } {
  const socket = createSocket('udp4');
  const sent = new Map<string, number>();
  let seq = 0;
  const timer = setInterval(() => {
    const payload = Buffer.alloc(48, 0x5a);
    payload.writeUInt32BE(ssrc, 0);
    payload.writeUInt32BE(seq, 4);
    sent.set(payload.toString('hex'), seq);
    socket.send(session.protect(rtpPacket({ pt: 100, seq: seq++, ts: seq * 960, ssrc, payload })), port, host);
  }, 20);
  return {
    sent,
    socket,
    stop() {
      clearInterval(timer);
      socket.close();
    },
  };
}

describe('SRTP on plain transports', { timeout: 90_000 }, () => {
  let nats: NatsServer;
  let bus: Bus;
  let media: ServiceProcess;
  const call = <D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> => bus.request(def, subjects.media(REGION, NODE, def.name), req);
  /** Straight onto NATS, past the client-side schema check of Bus.request: what the node itself answers. */
  const raw = async (op: string, req: unknown): Promise<{ ok: boolean; error?: { code: string; message: string } }> => {
    const msg = await bus.nc.request(subjects.media(REGION, NODE, op), new TextEncoder().encode(JSON.stringify(req)), { timeout: 5000 });
    return JSON.parse(new TextDecoder().decode(msg.data)) as { ok: boolean; error?: { code: string; message: string } };
  };

  before(async () => {
    nats = await startNatsServer();
    bus = await Bus.connect({ servers: nats.url, name: 'srtp-test', logger: memoryLogger().log });
    media = spawnService('media', { NATS_URL: nats.url, STRATA_REGION: REGION, STRATA_NODE_ID: NODE, HTTP_PORT: '0', MEDIA_NUM_WORKERS: '1' });
    await untilHealthy(bus, media, REGION, NODE);
    await call(MediaRoomOpen, { roomId: ROOM });
  });

  after(async () => {
    await media?.stop();
    await bus?.drain();
    await nats?.stop();
  });

  it("hands out the transport's key and refuses a connect with a missing, misplaced or wrong-length key", async () => {
    const plain = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'k', comedia: true });
    assert.equal(plain.srtpParameters, undefined, 'no SRTP unless asked for');
    const t = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'k', comedia: false, enableSrtp: true });
    assert.equal(t.srtpParameters?.cryptoSuite, 'AES_CM_128_HMAC_SHA1_80', "mediasoup's default suite");
    assert.equal(Buffer.from(t.srtpParameters.keyBase64, 'base64').length, 30);
    const gcm = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'k', comedia: true, enableSrtp: true, srtpCryptoSuite: 'AEAD_AES_256_GCM' });
    assert.equal(gcm.srtpParameters?.cryptoSuite, 'AEAD_AES_256_GCM');
    assert.equal(Buffer.from(gcm.srtpParameters.keyBase64, 'base64').length, 44);

    const at = { roomId: ROOM, peerId: 'k', transportId: t.transportId, ip: '127.0.0.1', port: 9 };
    const key = (suite: SrtpCryptoSuite, bytes: number) => ({ cryptoSuite: suite, keyBase64: Buffer.alloc(bytes, 7).toString('base64') });
    const refused: [string, string, unknown, RegExp][] = [
      [
        'a key one byte short',
        'plain.connect',
        { ...at, srtpParameters: key('AES_CM_128_HMAC_SHA1_80', 29) },
        /srtpParameters: expected .*30 bytes for AES_CM_128_HMAC_SHA1_80/,
      ],
      ['a key one byte long', 'plain.connect', { ...at, srtpParameters: key('AES_CM_128_HMAC_SHA1_32', 31) }, /srtpParameters: expected/],
      ["another suite's length", 'plain.connect', { ...at, srtpParameters: key('AEAD_AES_256_GCM', 30) }, /44 bytes for AEAD_AES_256_GCM/],
      [
        'a key that is not Base64',
        'plain.connect',
        { ...at, srtpParameters: { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: '!'.repeat(40) } },
        /srtpParameters/,
      ],
      ['an unknown suite', 'plain.connect', { ...at, srtpParameters: { ...key('AES_CM_128_HMAC_SHA1_80', 30), cryptoSuite: 'NULL' } }, /srtpParameters/],
      ['no key for an SRTP transport', 'plain.connect', at, /has SRTP: plain.connect needs srtpParameters/],
      [
        'a key for a plain-RTP transport',
        'plain.connect',
        { ...at, transportId: plain.transportId, srtpParameters: key('AES_CM_128_HMAC_SHA1_80', 30) },
        /has no SRTP/,
      ],
      [
        'no address for a transport that is not comedia',
        'plain.connect',
        { roomId: ROOM, peerId: 'k', transportId: t.transportId, srtpParameters: key('AES_CM_128_HMAC_SHA1_80', 30) },
        /needs ip and port/,
      ],
      ['a suite without enableSrtp', 'plain.create', { roomId: ROOM, peerId: 'k', srtpCryptoSuite: 'AEAD_AES_128_GCM' }, /needs enableSrtp/],
      [
        'an unknown suite at create',
        'plain.create',
        { roomId: ROOM, peerId: 'k', enableSrtp: true, srtpCryptoSuite: 'AES_256_CM' },
        /srtpCryptoSuite: expected AEAD_AES_256_GCM, /,
      ],
    ];
    for (const [what, op, req, message] of refused) {
      const r = await raw(op, req);
      assert.equal(r.ok, false, what);
      assert.equal(r.error?.code, 'INVALID_MESSAGE', `${what}: ${JSON.stringify(r.error)}`);
      assert.match(r.error?.message ?? '', message, what);
    }
    // None of that used up the transport's one connect().
    const ok = await call(MediaPlainTransportConnect, { ...at, srtpParameters: randomSrtpParameters('AES_CM_128_HMAC_SHA1_80') });
    assert.deepEqual(ok.srtpParameters, t.srtpParameters, 'same suite: the key handed out at create stays');
    const h = await bus.request(Health, subjects.health(REGION, 'media', NODE), {});
    assert.equal(h.status, 'ok');
    await call(MediaPeerClose, { roomId: ROOM, peerId: 'k' });
  });

  for (const [i, suite] of SRTP_CRYPTO_SUITES.entries()) {
    it(`carries SRTP in and out with ${suite}`, async () => {
      const ssrc = 5000 + i;
      const sender = `s${i}`;
      const viewer = `v${i}`;
      const { rtpCapabilities } = await call(MediaRoomOpen, { roomId: ROOM });
      // In: comedia, so connect names only the key our sender encrypts with.
      const ingest = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: sender, comedia: true, enableSrtp: true, srtpCryptoSuite: suite });
      assert.equal(ingest.srtpParameters?.cryptoSuite, suite);
      const sendKey = randomSrtpParameters(suite);
      await call(MediaPlainTransportConnect, { roomId: ROOM, peerId: sender, transportId: ingest.transportId, srtpParameters: sendKey });
      const { producerId } = await call(MediaProduce, {
        roomId: ROOM,
        peerId: sender,
        transportId: ingest.transportId,
        kind: 'audio',
        rtpParameters: opus(ssrc),
      });

      // Out: created with the default suite and connected with `suite`: mediasoup switches to the
      // far side's suite, so the key to decrypt with is the one plain.connect answers.
      const sink = await srtpSink();
      const out = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: viewer, comedia: false, enableSrtp: true });
      const connected = await call(MediaPlainTransportConnect, {
        roomId: ROOM,
        peerId: viewer,
        transportId: out.transportId,
        ip: '127.0.0.1',
        port: sink.port,
        srtpParameters: randomSrtpParameters(suite),
      });
      const outKey = connected.srtpParameters;
      assert.ok(outKey, 'an SRTP transport answers its key on connect');
      assert.equal(outKey.cryptoSuite, suite);
      assert.equal(Buffer.from(outKey.keyBase64, 'base64').length, SRTP_KEY_LENGTHS[suite]);
      if (suite !== 'AES_CM_128_HMAC_SHA1_80') assert.notDeepEqual(outKey, out.srtpParameters, 'a new suite, a new key');
      sink.setKey(new SrtpSession(outKey));
      const c = await call(MediaConsume, { roomId: ROOM, peerId: viewer, transportId: out.transportId, producerId, rtpCapabilities });
      await call(MediaConsumerAction, { roomId: ROOM, peerId: viewer, consumerId: c.consumerId, action: 'resume' });

      const tx = srtpSender('127.0.0.1', ingest.port, ssrc, new SrtpSession(sendKey));
      try {
        await waitFor(`30 authenticated ${suite} packets at the consumer's end`, () => (sink.ok() >= 30 ? true : undefined), 15_000);
        assert.equal(sink.failed(), 0, 'every packet from the consumer authenticates under its transport key');
        // What comes out is what went in, decrypted: each payload is one the sender sent.
        for (const p of sink.payloads) assert.ok(tx.sent.has(p.toString('hex')), `payload ${p.toString('hex').slice(0, 16)}… was sent`);
        // And it was encrypted on the wire: no raw packet carries a sent payload in the clear.
        for (const r of sink.raw) assert.ok(!tx.sent.has(rtpPayload(r).subarray(0, 48).toString('hex')), 'a packet in the clear');
        // mediasoup's own counters agree that bytes went through both transports.
        const inStats = (await call(MediaTransportStats, { roomId: ROOM, peerId: sender, transportId: ingest.transportId })).stats[0] ?? {};
        const outStats = (await call(MediaTransportStats, { roomId: ROOM, peerId: viewer, transportId: out.transportId })).stats[0] ?? {};
        assert.ok(Number(inStats['rtpBytesReceived']) > 0, `ingest rtpBytesReceived ${String(inStats['rtpBytesReceived'])}`);
        assert.ok(Number(outStats['rtpBytesSent']) > 0, `consumer transport rtpBytesSent ${String(outStats['rtpBytesSent'])}`);
      } finally {
        tx.stop();
        sink.close();
        await call(MediaPeerClose, { roomId: ROOM, peerId: sender });
        await call(MediaPeerClose, { roomId: ROOM, peerId: viewer });
      }
    });
  }
});
