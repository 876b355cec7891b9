/**
 * One media node as a real process, driven over NATS like a gateway drives it: plain RTP in and
 * out, paused consumers, capacity, active-speaker events, consumer events and bad input.
 */
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  ActiveSpeakerEvent,
  Health,
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaEvent,
  MediaPeerClose,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaProducerAction,
  MediaRoomOpen,
  MediaRoomPeers,
  MediaTransportClose,
  MediaTransportConnect,
  MediaTransportRestartIce,
  MediaTransportStats,
  subjects,
  type EventOf,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
  type StrataError,
} from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../helpers/logger.js';
import { spawnService, untilHealthy, waitFor, type ServiceProcess } from '../helpers/processes.js';
import { AUDIO_LEVEL_EXT_ID, startAudioSender, startUdpSink } from '../helpers/rtp.js';

const REGION = 'mtest';
const NODE = 'media-x';
const ROOM = 'speakers';
const IDLE_TIMEOUT_MS = 3000;

function audioParams(ssrc: number) {
  return {
    codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {} }],
    encodings: [{ ssrc }],
    headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_EXT_ID }],
  };
}

describe('media node over NATS', { timeout: 90_000 }, () => {
  let nats: NatsServer;
  let bus: Bus;
  let media: ServiceProcess;
  const speakers: EventOf<typeof ActiveSpeakerEvent>[] = [];
  const mediaEvents: EventOf<typeof MediaEvent>[] = [];
  const call = <D extends RpcDef>(def: D, req: RequestOf<D>): Promise<ResponseOf<D>> => bus.request(def, subjects.media(REGION, NODE, def.name), req);

  before(async () => {
    nats = await startNatsServer();
    bus = await Bus.connect({ servers: nats.url, name: 'media-test', logger: memoryLogger().log });
    bus.subscribe(ActiveSpeakerEvent, subjects.activeSpeaker(REGION, ROOM), (e) => void speakers.push(e));
    bus.subscribe(MediaEvent, subjects.roomMedia(REGION, ROOM), (e) => void mediaEvents.push(e));
    media = spawnService('media', {
      NATS_URL: nats.url,
      STRATA_REGION: REGION,
      STRATA_NODE_ID: NODE,
      HTTP_PORT: '0',
      MEDIA_NUM_WORKERS: '1',
      MEDIA_MAX_CONSUMERS: '3',
      MEDIA_ROOM_IDLE_TIMEOUT: `${IDLE_TIMEOUT_MS}ms`,
    });
    await untilHealthy(bus, media, REGION, NODE);
  });

  after(async () => {
    await media?.stop();
    await bus?.drain();
    await nats?.stop();
  });

  it('forwards plain RTP, elects the loud producer as active speaker, enforces capacity', async () => {
    const { rtpCapabilities } = await call(MediaRoomOpen, { roomId: ROOM });
    const inA = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'a', comedia: true });
    const inB = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'b', comedia: true });
    const { producerId: prodA } = await call(MediaProduce, {
      roomId: ROOM,
      peerId: 'a',
      transportId: inA.transportId,
      kind: 'audio',
      rtpParameters: audioParams(1111),
    });
    const { producerId: prodB } = await call(MediaProduce, {
      roomId: ROOM,
      peerId: 'b',
      transportId: inB.transportId,
      kind: 'audio',
      rtpParameters: audioParams(2222),
    });
    let loud = 'a';
    // The dominant-speaker algorithm tracks each speaker's noise floor, so a constant level reads
    // as background: speech is bursts of loud frames between quiet ones.
    const speech = (t: number) => (Math.floor(t / 200) % 3 === 2 ? 100 : 5 + Math.floor(Math.random() * 20));
    const level = (peer: string) => () => (loud === peer ? speech(Date.now()) : 127);
    const senders = [startAudioSender(inA.ip, inA.port, 1111, level('a')), startAudioSender(inB.ip, inB.port, 2222, level('b'))];
    try {
      await waitFor('a as active speaker', () => (speakers.some((s) => s.producerId === prodA && s.peerId === 'a') ? true : undefined), 15_000);
      loud = 'b';
      await waitFor('b as active speaker', () => (speakers.some((s) => s.producerId === prodB && s.peerId === 'b') ? true : undefined), 15_000);
      assert.ok(speakers.every((s) => s.nodeId === NODE && s.roomId === ROOM));

      const sinks = await Promise.all([0, 1, 2].map(() => startUdpSink()));
      const consumerIds: string[] = [];
      for (const [i, sink] of sinks.entries()) {
        const out = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: `c${i}`, comedia: false });
        await call(MediaPlainTransportConnect, { roomId: ROOM, peerId: `c${i}`, transportId: out.transportId, ip: '127.0.0.1', port: sink.port });
        const c = await call(MediaConsume, { roomId: ROOM, peerId: `c${i}`, transportId: out.transportId, producerId: prodA, rtpCapabilities });
        assert.equal(c.peerId, 'a', 'consumer info names the producing peer');
        consumerIds.push(c.consumerId);
      }
      // Consumers start paused: resume one, and once its sink has RTP the other two, fed by the
      // same producer for longer, must still have none.
      await call(MediaConsumerAction, { roomId: ROOM, peerId: 'c0', consumerId: consumerIds[0]!, action: 'resume' });
      await waitFor('RTP at the resumed consumer', () => (sinks[0]!.packets() > 20 ? true : undefined), 10_000);
      assert.deepEqual(
        sinks.slice(1).map((x) => x.packets()),
        [0, 0],
        'paused consumers send nothing',
      );
      for (const [i, id] of consumerIds.entries())
        if (i > 0) await call(MediaConsumerAction, { roomId: ROOM, peerId: `c${i}`, consumerId: id, action: 'resume' });
      await waitFor('RTP at every sink', () => (sinks.every((s) => s.packets() > 20) ? true : undefined), 10_000);

      const extra = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'c9', comedia: false });
      await assert.rejects(
        call(MediaConsume, { roomId: ROOM, peerId: 'c9', transportId: extra.transportId, producerId: prodB, rtpCapabilities }),
        (e: StrataError) => e.code === 'CAPACITY',
      );

      await call(MediaProducerAction, { roomId: ROOM, peerId: 'a', producerId: prodA, action: 'close' });
      await waitFor('consumerClosed events', () =>
        mediaEvents.filter((e) => e.type === 'consumerClosed' && e.producerId === prodA).length === 3 ? true : undefined,
      );
      for (const s of sinks) s.close();
    } finally {
      for (const s of senders) s.stop();
    }
  });

  it('answers bad media input with precise codes and keeps serving', async () => {
    const { rtpCapabilities } = await call(MediaRoomOpen, { roomId: ROOM });
    const t = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'z', comedia: true });
    await assert.rejects(
      call(MediaProduce, {
        roomId: ROOM,
        peerId: 'z',
        transportId: t.transportId,
        kind: 'video',
        rtpParameters: { codecs: [{ mimeType: 'video/H265', payloadType: 96, clockRate: 90000 }] },
      }),
      (e: StrataError) => e.code === 'INVALID_MESSAGE',
    );
    await assert.rejects(
      call(MediaConsume, { roomId: ROOM, peerId: 'z', transportId: 'missing', producerId: 'missing', rtpCapabilities }),
      (e: StrataError) => e.code === 'NOT_FOUND',
    );
    await assert.rejects(
      call(MediaProduce, { roomId: ROOM, peerId: 'not-z', transportId: t.transportId, kind: 'audio', rtpParameters: audioParams(3333) }),
      (e: StrataError) => e.code === 'FORBIDDEN',
      "a peer cannot use another peer's transport",
    );
    await assert.rejects(
      call(MediaProducerAction, { roomId: 'never-opened', peerId: 'z', producerId: 'x', action: 'pause' }),
      (e: StrataError) => e.code === 'NOT_FOUND',
    );
    const h = await bus.request(Health, subjects.health(REGION, 'media', NODE), {});
    assert.equal(h.status, 'ok');
  });

  it("checks every operation's peer: another peer's real transport, producer or consumer is FORBIDDEN and left alone", async () => {
    const { rtpCapabilities } = await call(MediaRoomOpen, { roomId: ROOM });
    const inA = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'owner', comedia: true });
    const { producerId } = await call(MediaProduce, {
      roomId: ROOM,
      peerId: 'owner',
      transportId: inA.transportId,
      kind: 'audio',
      rtpParameters: audioParams(4444),
    });
    const sink = await startUdpSink();
    const out = await call(MediaPlainTransportCreate, { roomId: ROOM, peerId: 'viewer', comedia: false });
    await call(MediaPlainTransportConnect, { roomId: ROOM, peerId: 'viewer', transportId: out.transportId, ip: '127.0.0.1', port: sink.port });
    const { consumerId } = await call(MediaConsume, { roomId: ROOM, peerId: 'viewer', transportId: out.transportId, producerId, rtpCapabilities });
    await call(MediaConsumerAction, { roomId: ROOM, peerId: 'viewer', consumerId, action: 'resume' });
    const sender = startAudioSender(inA.ip, inA.port, 4444, () => 50);
    try {
      await waitFor('RTP at the viewer', () => (sink.packets() > 10 ? true : undefined), 10_000);
      await assert.rejects(
        call(MediaConsume, { roomId: ROOM, peerId: 'owner', transportId: inA.transportId, producerId, rtpCapabilities }),
        (e: StrataError) => e.code === 'INVALID_MESSAGE' && /own producer/.test(e.message),
      );
      const R = { roomId: ROOM, peerId: 'intruder' };
      const dtlsParameters = { fingerprints: [{ algorithm: 'sha-256' as const, value: Array(32).fill('AB').join(':') }] };
      const attempts: [string, () => Promise<unknown>][] = [
        ['producer pause', () => call(MediaProducerAction, { ...R, producerId, action: 'pause' })],
        ['producer close', () => call(MediaProducerAction, { ...R, producerId, action: 'close' })],
        ['consumer pause', () => call(MediaConsumerAction, { ...R, consumerId, action: 'pause' })],
        ['consumer close', () => call(MediaConsumerAction, { ...R, consumerId, action: 'close' })],
        ['consumer layers', () => call(MediaConsumerLayers, { ...R, consumerId, spatialLayer: 0 })],
        ['transport connect', () => call(MediaTransportConnect, { ...R, transportId: out.transportId, dtlsParameters })],
        ['plain connect', () => call(MediaPlainTransportConnect, { ...R, transportId: out.transportId, ip: '127.0.0.1', port: 9 })],
        ['transport stats', () => call(MediaTransportStats, { ...R, transportId: inA.transportId })],
        ['restart ICE', () => call(MediaTransportRestartIce, { ...R, transportId: inA.transportId })],
        ['transport close', () => call(MediaTransportClose, { ...R, transportId: inA.transportId })],
      ];
      for (const [what, attempt] of attempts) {
        await assert.rejects(attempt(), (e: StrataError) => e.code === 'FORBIDDEN' && /is not peer intruder's/.test(e.message), what);
      }
      // Nothing of it happened: the owner's RTP still reaches the viewer.
      const before = sink.packets();
      await waitFor('RTP still flowing', () => (sink.packets() > before + 10 ? true : undefined), 10_000);
      assert.equal((await call(MediaTransportStats, { roomId: ROOM, peerId: 'owner', transportId: inA.transportId })).stats.length, 1);
    } finally {
      sender.stop();
      sink.close();
    }
  });

  it('closes a room once it has had no transport for the idle timeout, not before', async () => {
    const rooms = async (): Promise<number> => (await bus.request(Health, subjects.health(REGION, 'media', NODE), {})).checks['rooms'] as number;
    assert.equal(await rooms(), 1);
    // The idle timer starts when the last transport closes, which is after t0.
    const t0 = Date.now();
    for (const peerId of ['a', 'b', 'c0', 'c1', 'c2', 'c9', 'z', 'owner', 'viewer']) await call(MediaPeerClose, { roomId: ROOM, peerId });
    const seen: { at: number; rooms: number }[] = [];
    await waitFor(
      'room closed',
      async () => {
        const n = await rooms();
        seen.push({ at: Date.now() - t0, rooms: n });
        return n === 0 ? true : undefined;
      },
      IDLE_TIMEOUT_MS + 10_000,
      100,
    );
    const closedAt = seen.at(-1)!.at;
    assert.ok(seen[0]!.rooms === 1, `the room outlives its last transport (${JSON.stringify(seen.slice(0, 3))})`);
    assert.ok(closedAt >= IDLE_TIMEOUT_MS, `closed ${closedAt} ms after its transports, not before the ${IDLE_TIMEOUT_MS} ms idle timeout`);
  });

  it("is the room's roster: room.open admits and lists the members with their producers and the peer's own media, peer.close counts who is left", async () => {
    const room = 'roster';
    assert.deepEqual((await call(MediaRoomPeers, { roomId: room })).peers, [], 'room.peers does not open a room');
    const a = await call(MediaRoomOpen, { roomId: room, peer: { peerId: 'ra', identity: 'alice', name: 'Alice' } });
    assert.deepEqual(a.peers, [{ peerId: 'ra', identity: 'alice', name: 'Alice', producers: [] }]);
    assert.deepEqual(a.self, { transports: [], producers: [], consumers: [] });
    const t = await call(MediaPlainTransportCreate, { roomId: room, peerId: 'ra', comedia: true });
    const p = await call(MediaProduce, {
      roomId: room,
      peerId: 'ra',
      transportId: t.transportId,
      kind: 'audio',
      rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 777 }] },
      source: 'microphone',
    });
    const b = await call(MediaRoomOpen, { roomId: room, peer: { peerId: 'rb', identity: 'bob' } });
    assert.deepEqual(
      b.peers.find((x) => x.peerId === 'ra'),
      { peerId: 'ra', identity: 'alice', name: 'Alice', producers: [{ producerId: p.producerId, kind: 'audio', source: 'microphone', paused: false }] },
    );
    // A resume admits alice again: same roster, and her own media as the node holds it (plain transports are not a client's).
    const again = await call(MediaRoomOpen, { roomId: room, peer: { peerId: 'ra', identity: 'alice', name: 'Alice' } });
    assert.equal(again.peers.length, 2);
    assert.deepEqual(
      again.self?.producers.map((x) => x.producerId),
      [p.producerId],
    );
    assert.deepEqual(again.self?.transports, []);
    assert.deepEqual((await call(MediaPeerClose, { roomId: room, peerId: 'ra' })).peersLeft, 1);
    assert.deepEqual(
      (await call(MediaRoomPeers, { roomId: room })).peers.map((x) => x.peerId),
      ['rb'],
    );
    assert.deepEqual(await call(MediaPeerClose, { roomId: room, peerId: 'rb' }), { closedTransports: 0, peersLeft: 0 });
  });
});
