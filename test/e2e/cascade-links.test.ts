/**
 * Three media nodes as real processes holding legs of one room, driven over NATS as gateways
 * drive them: each leg's roster is the whole room's, a producer of one leg reaches a consumer
 * on another over a link that exists only while someone there consumes it, carries no bytes
 * while nobody watches, and is gone, with every mediasoup object, once the room empties.
 * What crosses the links is read from mediasoup's own stats on both ends.
 */
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaEvent,
  MediaLinkConnect,
  MediaLinkForward,
  MediaLinkStats,
  MediaPeerClose,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaProducerAction,
  MediaRoomLeg,
  MediaRoomOpen,
  MediaRoomPeers,
  SpeakerRanking,
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
import { AUDIO_LEVEL_EXT_ID, startAudioSender, startSimulcastSender, startUdpSink, startVp8Sink, VP8_PT } from '../helpers/rtp.js';

const REGION = 'ctest';
const NODES = ['leg-a', 'leg-b', 'leg-c'] as const;
type Node = (typeof NODES)[number];
const ROOM = 'cascade';
const LINGER_MS = 400;

const audioParams = (ssrc: number) => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2, parameters: {} }],
  encodings: [{ ssrc }],
  headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_EXT_ID }],
});

const LAYERS = [
  { ssrc: 7001, width: 320, height: 180, frameBytes: 150 },
  { ssrc: 7002, width: 640, height: 360, frameBytes: 500 },
  { ssrc: 7003, width: 1280, height: 720, frameBytes: 1100 },
];
const simulcastParams = () => ({
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: VP8_PT,
      clockRate: 90000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: LAYERS.map((l) => ({ ssrc: l.ssrc, scalabilityMode: 'L1T1' })),
});

describe('cascade: legs and links between media nodes', { timeout: 120_000 }, () => {
  let nats: NatsServer;
  let bus: Bus;
  const media: ServiceProcess[] = [];
  const events: EventOf<typeof MediaEvent>[] = [];
  const rankings: EventOf<typeof SpeakerRanking>[] = [];
  const call = <D extends RpcDef>(node: Node, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> =>
    bus.request(def, subjects.media(REGION, node, def.name), req, { timeoutMs: 5000 });
  const linkStats = (node: Node) => call(node, MediaLinkStats, { roomId: ROOM }).then((r) => r.links);
  // A consumer's stats hold its outbound stream and the producer stream it reads; a producer's, its inbound streams.
  const packetsOf = (stats: Record<string, unknown>[], type = 'outbound-rtp') =>
    stats.filter((s) => s['type'] === type).reduce((n, s) => n + Number(s['packetCount'] ?? 0), 0);

  before(async () => {
    nats = await startNatsServer();
    bus = await Bus.connect({ servers: nats.url, name: 'cascade-test', logger: memoryLogger().log });
    bus.subscribe(MediaEvent, subjects.roomMedia(REGION, ROOM), (e) => void events.push(e));
    bus.subscribe(SpeakerRanking, subjects.roomRanking(REGION, ROOM), (e) => void rankings.push(e));
    for (const node of NODES) {
      media.push(
        spawnService('media', {
          NATS_URL: nats.url,
          STRATA_REGION: REGION,
          STRATA_NODE_ID: node,
          HTTP_PORT: '0',
          MEDIA_NUM_WORKERS: '1',
          MEDIA_LINK_LINGER: `${LINGER_MS}ms`,
          MEDIA_ROOM_IDLE_TIMEOUT: '1s',
          HEARTBEAT_INTERVAL: '300ms',
          // Every link encrypted, as links between regions are: the flows below cross SRTP links.
          MEDIA_LINK_SRTP: 'always',
        }),
      );
    }
    for (const [i, node] of NODES.entries()) await untilHealthy(bus, media[i]!, REGION, node);
  });

  after(async () => {
    await Promise.all(media.map((m) => m.stop()));
    await bus?.drain();
    await nats?.stop();
  });

  it('knows the whole room on every leg, forwards on demand only, and leaves nothing behind', async () => {
    // Alice on A publishes; Bob on B and Carol on C join later and learn her from A.
    const a = await call('leg-a', MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'alice', identity: 'alice' } });
    assert.deepEqual(
      a.peers.map((p) => p.peerId),
      ['alice'],
    );
    const inA = await call('leg-a', MediaPlainTransportCreate, { roomId: ROOM, peerId: 'alice', comedia: true });
    const { producerId } = await call('leg-a', MediaProduce, {
      roomId: ROOM,
      peerId: 'alice',
      transportId: inA.transportId,
      kind: 'audio',
      rtpParameters: audioParams(4242),
    });
    const sender = startAudioSender(inA.ip, inA.port, 4242, () => 30);
    const sink = await startUdpSink();
    try {
      const b = await call('leg-b', MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'bob', identity: 'bob' }, legs: ['leg-a'] });
      assert.deepEqual(b.peers.map((p) => [p.peerId, p.producers.map((x) => x.producerId)]).sort(), [
        ['alice', [producerId]],
        ['bob', []],
      ]);
      const c = await call('leg-c', MediaRoomOpen, { roomId: ROOM, peer: { peerId: 'carol', identity: 'carol' }, legs: ['leg-a', 'leg-b'] });
      assert.deepEqual(c.peers.map((p) => p.peerId).sort(), ['alice', 'bob', 'carol'], "C's roster holds A's and B's members");
      // A and B hear of Carol from C's own events.
      for (const node of ['leg-a', 'leg-b'] as const) {
        await waitFor(`${node} knows carol`, async () =>
          (await call(node, MediaRoomPeers, { roomId: ROOM })).peers.some((p) => p.peerId === 'carol') ? true : undefined,
        );
      }
      assert.deepEqual(await linkStats('leg-a'), [], 'nobody consumes yet: no link');
      // Alice speaks on A; B and C hear her levels from A and rank her first.
      for (const node of NODES) {
        await waitFor(`${node} ranks alice`, () => (rankings.some((r) => r.nodeId === node && r.audio[0] === 'alice') ? true : undefined), 10_000);
      }
      assert.deepEqual(await linkStats('leg-a'), [], 'levels cross over NATS, not as media');

      // Bob consumes Alice's producer on his own leg: A forwards it to B, and only to B.
      const out = await call('leg-b', MediaPlainTransportCreate, { roomId: ROOM, peerId: 'bob', comedia: false });
      await call('leg-b', MediaPlainTransportConnect, { roomId: ROOM, peerId: 'bob', transportId: out.transportId, ip: '127.0.0.1', port: sink.port });
      const consumer = await call('leg-b', MediaConsume, {
        roomId: ROOM,
        peerId: 'bob',
        transportId: out.transportId,
        producerId,
        rtpCapabilities: b.rtpCapabilities,
      });
      assert.equal(consumer.peerId, 'alice', 'the forwarded producer is Alice’s, under its own id');
      await call('leg-b', MediaConsumerAction, { roomId: ROOM, peerId: 'bob', consumerId: consumer.consumerId, action: 'resume' });
      await waitFor('RTP at Bob', () => (sink.packets() > 20 ? true : undefined), 10_000);

      const onA = await linkStats('leg-a');
      assert.deepEqual(
        onA.map((l) => [l.nodeId, l.sending.map((s) => s.producerId), l.receiving.length]),
        [['leg-b', [producerId], 0]],
        'A sends one stream, to B',
      );
      assert.ok(packetsOf(onA[0]!.sending[0]!.stats) > 0, "mediasoup's stats of A's link consumer count packets");
      assert.equal(onA[0]!.srtp, true, 'the link is SRTP (MEDIA_LINK_SRTP=always)');
      const onB = await linkStats('leg-b');
      assert.deepEqual(
        onB.map((l) => [l.nodeId, l.sending.length, l.receiving.map((s) => s.producerId)]),
        [['leg-a', 0, [producerId]]],
      );
      await waitFor('packets on B’s forwarded producer', async () =>
        packetsOf((await linkStats('leg-b'))[0]!.receiving[0]!.stats, 'inbound-rtp') > 0 ? true : undefined,
      );
      assert.deepEqual(await linkStats('leg-c'), [], 'C consumes nothing: no link to C');

      // Bob pauses: after the linger time A stops sending bytes, but keeps the stream set up.
      await call('leg-b', MediaConsumerAction, { roomId: ROOM, peerId: 'bob', consumerId: consumer.consumerId, action: 'pause' });
      await waitFor('A pauses the link stream', async () => ((await linkStats('leg-a'))[0]?.sending[0]?.paused ? true : undefined), 5000);
      await call('leg-b', MediaConsumerAction, { roomId: ROOM, peerId: 'bob', consumerId: consumer.consumerId, action: 'resume' });
      await waitFor('A resumes it', async () => ((await linkStats('leg-a'))[0]?.sending[0]?.paused === false ? true : undefined), 5000);

      // Alice pauses her producer: Bob's consumer on B hears it as from a local producer.
      await call('leg-a', MediaProducerAction, { roomId: ROOM, peerId: 'alice', producerId, action: 'pause' });
      await waitFor('consumerPaused from B', () =>
        events.some((e) => e.type === 'consumerPaused' && e.nodeId === 'leg-b' && e.peerId === 'bob') ? true : undefined,
      );
      await call('leg-a', MediaProducerAction, { roomId: ROOM, peerId: 'alice', producerId, action: 'resume' });
      await waitFor('consumerResumed from B', () =>
        events.some((e) => e.type === 'consumerResumed' && e.nodeId === 'leg-b' && e.peerId === 'bob') ? true : undefined,
      );

      // Bob stops consuming: after the linger time the stream is gone from both ends.
      await call('leg-b', MediaConsumerAction, { roomId: ROOM, peerId: 'bob', consumerId: consumer.consumerId, action: 'close' });
      await waitFor('stream gone on A', async () => ((await linkStats('leg-a'))[0]?.sending.length === 0 ? true : undefined), 5000);
      assert.equal((await linkStats('leg-b'))[0]?.receiving.length, 0, 'and on B');

      // Consumed again, then Alice's producer closes: Bob's consumer on B closes with it.
      const again = await call('leg-b', MediaConsume, {
        roomId: ROOM,
        peerId: 'bob',
        transportId: out.transportId,
        producerId,
        rtpCapabilities: b.rtpCapabilities,
      });
      await call('leg-a', MediaProducerAction, { roomId: ROOM, peerId: 'alice', producerId, action: 'close' });
      await waitFor('consumerClosed from B', () =>
        events.some((e) => e.type === 'consumerClosed' && e.consumerId === again.consumerId && e.nodeId === 'leg-b') ? true : undefined,
      );
      await waitFor('nothing on the links', async () => {
        const all = await Promise.all(NODES.map((n) => linkStats(n)));
        return all.every((links) => links.every((l) => l.sending.length === 0 && l.receiving.length === 0)) ? true : undefined;
      });
      await waitFor('A forgot the producer on C', async () =>
        (await call('leg-c', MediaRoomPeers, { roomId: ROOM })).peers.find((p) => p.peerId === 'alice')?.producers.length === 0 ? true : undefined,
      );
    } finally {
      sender.stop();
      sink.close();
    }

    // Everyone leaves: each leg closes once idle, the others drop it, and no link is left.
    for (const [node, peerId] of [
      ['leg-b', 'bob'],
      ['leg-c', 'carol'],
      ['leg-a', 'alice'],
    ] as const) {
      await call(node, MediaPeerClose, { roomId: ROOM, peerId });
    }
    for (const node of NODES) {
      await waitFor(`${node} closed the room`, async () => ((await call(node, MediaRoomLeg, { roomId: ROOM })).open ? undefined : true), 10_000);
    }
  });

  it('carries only the highest layer a far subscriber needs, and switches when that changes', async () => {
    const room = 'layers';
    const byteRate = async (node: Node, pick: (l: Awaited<ReturnType<typeof linkStats>>[number]) => Record<string, unknown>[] | undefined) => {
      const bytes = async () => {
        const links = (await call(node, MediaLinkStats, { roomId: room })).links;
        const stats = links.map(pick).find((x) => x !== undefined) ?? [];
        return stats.filter((st) => st['type'] === 'outbound-rtp').reduce((n, st) => n + Number(st['byteCount'] ?? 0), 0);
      };
      const b0 = await bytes();
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 1500));
      return ((await bytes()) - b0) / ((Date.now() - t0) / 1000);
    };
    await call('leg-a', MediaRoomOpen, { roomId: room, peer: { peerId: 'vic', identity: 'vic' } });
    const inA = await call('leg-a', MediaPlainTransportCreate, { roomId: room, peerId: 'vic', comedia: true });
    const { producerId } = await call('leg-a', MediaProduce, {
      roomId: room,
      peerId: 'vic',
      transportId: inA.transportId,
      kind: 'video',
      rtpParameters: simulcastParams(),
    });
    const sender = startSimulcastSender(inA.ip, inA.port, LAYERS);
    const sink = await startVp8Sink();
    try {
      const b = await call('leg-b', MediaRoomOpen, { roomId: room, peer: { peerId: 'wes', identity: 'wes' }, legs: ['leg-a'] });
      const out = await call('leg-b', MediaPlainTransportCreate, { roomId: room, peerId: 'wes', comedia: false });
      await call('leg-b', MediaPlainTransportConnect, { roomId: room, peerId: 'wes', transportId: out.transportId, ip: '127.0.0.1', port: sink.port });
      const c = await call('leg-b', MediaConsume, {
        roomId: room,
        peerId: 'wes',
        transportId: out.transportId,
        producerId,
        rtpCapabilities: b.rtpCapabilities,
        // The low layer from the start: the pull asks A for that layer only.
        preferredLayers: { spatialLayer: 0 },
      });
      await call('leg-b', MediaConsumerAction, { roomId: room, peerId: 'wes', consumerId: c.consumerId, action: 'resume' });
      await waitFor('a low key frame at Wes', () => (sink.widths().includes(320) ? true : undefined), 10_000);

      // What the producer receives on A (every layer) against what A's link sends to B.
      const sent = await byteRate('leg-a', (l) => l.sending.find((x) => x.producerId === producerId)?.stats);
      const all = LAYERS.reduce((n, l) => n + l.frameBytes * 30, 0);
      assert.ok(sent > LAYERS[0]!.frameBytes * 30 * 0.5, `the link carries the low layer (${sent.toFixed(0)} B/s)`);
      assert.ok(sent < LAYERS[1]!.frameBytes * 30 * 0.8, `and nothing above it: ${sent.toFixed(0)} B/s against ${all} B/s for all layers`);
      assert.ok(
        sink.widths().every((w) => w === 320),
        `Wes saw only low key frames: ${sink.widths().join(',')}`,
      );

      // Wes asks for the top layer: A's link switches at the next key frame, and Wes decodes 1280-wide frames.
      await call('leg-b', MediaConsumerLayers, { roomId: room, peerId: 'wes', consumerId: c.consumerId, spatialLayer: 2 });
      await waitFor('a top key frame at Wes', () => (sink.widths().includes(1280) ? true : undefined), 10_000);
      const top = await byteRate('leg-a', (l) => l.sending.find((x) => x.producerId === producerId)?.stats);
      assert.ok(top > LAYERS[2]!.frameBytes * 30 * 0.7 && top < all * 0.8, `the link carries the top layer alone (${top.toFixed(0)} B/s)`);
    } finally {
      sender.stop();
      sink.close();
    }
    await call('leg-b', MediaPeerClose, { roomId: room, peerId: 'wes' });
    await call('leg-a', MediaPeerClose, { roomId: room, peerId: 'vic' });
    for (const node of ['leg-a', 'leg-b'] as const) {
      await waitFor(`${node} closed ${room}`, async () => ((await call(node, MediaRoomLeg, { roomId: room })).open ? undefined : true), 10_000);
    }
  });

  it('drops the leg of a node killed mid-stream, with its links, and tells the consumers', async () => {
    const room = 'fault';
    bus.subscribe(MediaEvent, subjects.roomMedia(REGION, room), (e) => void events.push(e));
    await call('leg-a', MediaRoomOpen, { roomId: room, peer: { peerId: 'ann', identity: 'ann' } });
    const inA = await call('leg-a', MediaPlainTransportCreate, { roomId: room, peerId: 'ann', comedia: true });
    const { producerId } = await call('leg-a', MediaProduce, {
      roomId: room,
      peerId: 'ann',
      transportId: inA.transportId,
      kind: 'audio',
      rtpParameters: audioParams(5151),
    });
    const sender = startAudioSender(inA.ip, inA.port, 5151, () => 127);
    const sink = await startUdpSink();
    try {
      const b = await call('leg-b', MediaRoomOpen, { roomId: room, peer: { peerId: 'ben', identity: 'ben' }, legs: ['leg-a'] });
      await call('leg-c', MediaRoomOpen, { roomId: room, peer: { peerId: 'cy', identity: 'cy' }, legs: ['leg-a', 'leg-b'] });
      const out = await call('leg-b', MediaPlainTransportCreate, { roomId: room, peerId: 'ben', comedia: false });
      await call('leg-b', MediaPlainTransportConnect, { roomId: room, peerId: 'ben', transportId: out.transportId, ip: '127.0.0.1', port: sink.port });
      const c = await call('leg-b', MediaConsume, {
        roomId: room,
        peerId: 'ben',
        transportId: out.transportId,
        producerId,
        rtpCapabilities: b.rtpCapabilities,
      });
      await call('leg-b', MediaConsumerAction, { roomId: room, peerId: 'ben', consumerId: c.consumerId, action: 'resume' });
      await waitFor('RTP at Ben', () => (sink.packets() > 10 ? true : undefined), 10_000);

      await media[0]!.kill9();
      await waitFor('Ben told his consumer is gone', () =>
        events.some((e) => e.type === 'consumerClosed' && e.consumerId === c.consumerId && e.nodeId === 'leg-b') ? true : undefined,
      );
      await waitFor('no link left on B', async () => ((await call('leg-b', MediaLinkStats, { roomId: room })).links.length === 0 ? true : undefined), 10_000);
      for (const node of ['leg-b', 'leg-c'] as const) {
        await waitFor(`${node} forgot ann`, async () =>
          (await call(node, MediaRoomPeers, { roomId: room })).peers.some((p) => p.peerId === 'ann') ? undefined : true,
        );
      }
      assert.deepEqual(
        (await call('leg-c', MediaRoomPeers, { roomId: room })).peers.map((p) => p.peerId).sort(),
        ['ben', 'cy'],
        'the living legs still know each other',
      );
    } finally {
      sender.stop();
      sink.close();
    }
  });

  // Leg A was killed above: B answers these.
  it('refuses link requests that do not fit: no SRTP where it is required, a forward of an unknown producer, a room not open', async () => {
    const room = 'refusals';
    await call('leg-b', MediaRoomOpen, { roomId: room, peer: { peerId: 'rex', identity: 'rex' } });
    const plain = { ip: '127.0.0.1', port: 40999 };
    await assert.rejects(
      call('leg-b', MediaLinkConnect, { roomId: room, fromNodeId: 'leg-c', fromRegion: REGION, tuple: plain }),
      (e: StrataError) => e.code === 'CONFLICT',
    );
    await assert.rejects(
      call('leg-b', MediaLinkForward, { roomId: room, fromNodeId: 'leg-c', producerId: 'nope', paused: false }),
      (e: StrataError) => e.code === 'NOT_FOUND',
    );
    await assert.rejects(
      call('leg-b', MediaLinkConnect, { roomId: 'not-open', fromNodeId: 'leg-c', fromRegion: REGION, tuple: plain }),
      (e: StrataError) => e.code === 'NOT_FOUND',
    );
    assert.deepEqual((await call('leg-b', MediaLinkStats, { roomId: room })).links, [], 'nothing half-made is left');
    await call('leg-b', MediaPeerClose, { roomId: room, peerId: 'rex' });
  });
});
