import { RoomClient, SignalingClient, VP8_SIMULCAST_ENCODINGS, type RemoteConsumer } from '@strata/client';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import { FakeDevice, type FakeTrack, type FakeTransport } from './fake-device.js';
import { FakeGateway, GatewayError, joinResponse, waitUntil } from './fake-gateway.js';

const bob = {
  peerId: 'p2',
  identity: 'bob',
  name: 'Bob',
  producers: [
    { producerId: 'bob-a', kind: 'audio' as const, source: 'microphone' as const, paused: false },
    { producerId: 'bob-v', kind: 'video' as const, source: 'camera' as const, paused: false },
  ],
};
const ice = (u: string) => ({ usernameFragment: u, password: 'pw' });

describe('RoomClient with a scripted gateway and a fake device', () => {
  let gw: FakeGateway;
  let device: FakeDevice;
  let room: RoomClient<FakeTrack>;
  /** producerId → peerId, as the media node would know it. */
  const owners = new Map<string, string>();

  beforeEach(async () => {
    gw = await FakeGateway.start();
    owners.clear();
    for (const p of bob.producers) owners.set(p.producerId, bob.peerId);
    gw.handlers.set('join', () => joinResponse({ rtpCapabilities: { codecs: [{ mimeType: 'video/VP8', clockRate: 90000 }] }, peers: [bob] }));
    gw.handlers.set('createWebRtcTransport', (d) => ({
      transportId: `${String(d['direction'])}-1`,
      iceParameters: ice('u0'),
      iceCandidates: [{ ip: '127.0.0.1', port: 40000, protocol: 'udp' }],
      dtlsParameters: { role: 'auto', fingerprints: [{ algorithm: 'sha-256', value: 'BB' }] },
    }));
    gw.handlers.set('connectWebRtcTransport', () => ({}));
    gw.handlers.set('produce', (d) => ({ producerId: `mine-${String(d['kind'])}` }));
    gw.handlers.set('consume', (d) => {
      const producerId = String(d['producerId']);
      const peerId = owners.get(producerId);
      if (!peerId) throw new GatewayError('NOT_FOUND', `no producer ${producerId}`);
      return {
        consumerId: `c-${producerId}`,
        producerId,
        peerId,
        kind: producerId.endsWith('-a') ? 'audio' : 'video',
        rtpParameters: { codecs: [] },
        type: 'simulcast',
        producerPaused: false,
      };
    });
    for (const m of ['resumeConsumer', 'closeConsumer', 'leave', 'setConsumerPreferredLayers', 'closeProducer']) gw.handlers.set(m, () => ({}));
    device = new FakeDevice();
    const signaling = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 2000, reconnect: { initialDelayMs: 20, maxDelayMs: 50 } });
    room = new RoomClient({ signaling, device, token: 'tok', name: 'Alice' });
  });

  afterEach(async () => {
    await room.leave();
    await gw.stop();
  });

  const transport = (dir: 'send' | 'recv'): FakeTransport => device.transports.find((t) => t.direction === dir)!;

  it('joins: loads the device, opens both transports and consumes what the room already has', async () => {
    const consumed: RemoteConsumer<FakeTrack>[] = [];
    room.on('consumer', (c) => consumed.push(c));
    const joined = await room.join();
    assert.equal(joined.peerId, 'p1');
    assert.deepEqual(device.loadedWith, { codecs: [{ mimeType: 'video/VP8', clockRate: 90000 }] });
    assert.deepEqual(
      device.transports.map((t) => [t.direction, t.id]),
      [
        ['send', 'send-1'],
        ['recv', 'recv-1'],
      ],
    );
    assert.equal(transport('recv').options.iceCandidates.length, 1);
    await waitUntil('two consumers', () => consumed.length === 2);
    assert.deepEqual(consumed.map((c) => [c.peerId, c.kind, c.source]).sort(), [
      ['p2', 'audio', 'microphone'],
      ['p2', 'video', 'camera'],
    ]);
    assert.equal(consumed[0]?.track.id, `track-${consumed[0]?.consumerId}`);
    // Each consumer is created on the server, then in the device, then resumed; recv connects once.
    const m = gw.methods();
    assert.equal(m.filter((x) => x === 'connectWebRtcTransport').length, 1);
    for (const id of ['c-bob-a', 'c-bob-v']) {
      const consumeAt = gw.frames.findIndex((f) => f.method === 'consume' && f.data['producerId'] === id.slice(2));
      const resumeAt = gw.frames.findIndex((f) => f.method === 'resumeConsumer' && f.data['consumerId'] === id);
      assert.ok(consumeAt >= 0 && resumeAt > consumeAt, `${id}: consume then resumeConsumer`);
    }
    assert.equal(gw.frames.find((f) => f.method === 'consume')?.data['transportId'], 'recv-1');
    assert.deepEqual(room.peers.get('p2')?.name, 'Bob');
  });

  it('gives the transports the TURN servers of the chosen transports only, and the relay policy when asked', async () => {
    await room.leave();
    const iceServers = [{ urls: ['turn:t:3478?transport=udp', 'turn:t:3478?transport=tcp', 'turns:t:5349?transport=tcp'], username: 'u', credential: 'c' }];
    gw.handlers.set('join', () => joinResponse({ iceServers }));
    const signaling = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 2000 });
    device = new FakeDevice();
    room = new RoomClient({ signaling, device, token: 'tok', turnTransports: ['tcp'], iceTransportPolicy: 'relay' });
    await room.join();
    for (const dir of ['send', 'recv'] as const) {
      assert.deepEqual(transport(dir).options.iceServers, [{ urls: ['turn:t:3478?transport=tcp'], username: 'u', credential: 'c' }]);
      assert.equal(transport(dir).options.iceTransportPolicy, 'relay');
    }
  });

  it('publishes with the source and encodings, answering the transport with the server id', async () => {
    await room.join();
    const video = await room.publish({ kind: 'video', id: 'cam' }, { source: 'camera', encodings: VP8_SIMULCAST_ENCODINGS });
    const audio = await room.publish({ kind: 'audio', id: 'mic' }, { source: 'microphone' });
    assert.equal(video.producerId, 'mine-video');
    assert.equal(audio.producerId, 'mine-audio');
    const produce = gw.frames.filter((f) => f.method === 'produce');
    assert.deepEqual(
      produce.map((f) => [f.data['transportId'], f.data['kind'], f.data['source']]),
      [
        ['send-1', 'video', 'camera'],
        ['send-1', 'audio', 'microphone'],
      ],
    );
    const rtp = produce[0]?.data['rtpParameters'] as { encodings: unknown[] };
    assert.equal(rtp.encodings.length, 3);
    assert.equal(room.producers.size, 2);
  });

  it('follows the room: new producers are consumed, closed ones and leaving peers are cleaned up', async () => {
    const closed: string[] = [];
    const left: string[] = [];
    room.on('consumerClosed', (c, reason) => closed.push(`${c.consumerId}:${reason}`));
    room.on('peerLeft', (p, reason) => left.push(`${p.peerId}:${reason}`));
    await room.join();
    await waitUntil('bob consumed', () => room.consumers.size === 2);

    owners.set('carol-v', 'p3');
    gw.notify('peerJoined', { peerId: 'p3', identity: 'carol', name: 'Carol' });
    gw.notify('newProducer', { peerId: 'p3', producer: { producerId: 'carol-v', kind: 'video', source: 'camera', paused: false } });
    await waitUntil('carol consumed', () => room.consumers.has('c-carol-v'));
    assert.equal(room.consumers.get('c-carol-v')?.source, 'camera');

    gw.notify('consumerLayersChanged', { consumerId: 'c-carol-v', spatialLayer: 2, temporalLayer: 1 });
    gw.notify('activeSpeaker', { peerId: 'p3', producerId: 'carol-a' });
    await waitUntil('layers', () => room.consumers.get('c-carol-v')?.layers?.spatialLayer === 2);
    assert.equal(room.activeSpeaker?.peerId, 'p3');
    await room.setPreferredLayers('c-carol-v', 0, 1);
    assert.deepEqual(gw.frames.at(-1)?.data, { consumerId: 'c-carol-v', spatialLayer: 0, temporalLayer: 1 });

    gw.notify('producerClosed', { peerId: 'p2', producerId: 'bob-v' });
    await waitUntil('bob video closed', () => !room.consumers.has('c-bob-v'));
    assert.ok(transport('recv').consumers.find((c) => c.id === 'c-bob-v')?.closed);
    assert.deepEqual([...room.peers.get('p2')!.producers.keys()], ['bob-a']);

    gw.notify('peerLeft', { peerId: 'p3', reason: 'leave' });
    await waitUntil('carol gone', () => !room.peers.has('p3'));
    assert.equal(room.consumers.has('c-carol-v'), false);
    assert.equal(room.activeSpeaker, undefined);
    assert.deepEqual(left, ['p3:leave']);
    assert.deepEqual(closed.sort(), ['c-bob-v:producer closed', 'c-carol-v:peer left (leave)']);
  });

  it('follows the view: the speakers’ media only, paused when they leave it, resumed within the linger time, closed after', async () => {
    // Bob, Carol and Dave publish audio and video; one tile and K = 1.
    const others = ['p3', 'p4'].map((peerId) => ({
      peerId,
      identity: peerId,
      producers: (['a', 'v'] as const).map((k) => ({ producerId: `${peerId}-${k}`, kind: k === 'a' ? ('audio' as const) : ('video' as const), paused: false })),
    }));
    for (const p of others) for (const x of p.producers) owners.set(x.producerId, p.peerId);
    gw.handlers.set('join', () => joinResponse({ rtpCapabilities: { codecs: [] }, peers: [bob, ...others], speakers: { k: 1, audio: ['p3'], order: ['p3'] } }));
    for (const m of ['pauseConsumer']) gw.handlers.set(m, () => ({}));
    const signaling = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 2000 });
    const viewed = new RoomClient({ signaling, device, token: 'tok', videoSlots: 1, viewLingerMs: 300 });
    const asked = (method: string) => gw.frames.filter((f) => f.method === method).map((f) => String(f.data['consumerId'] ?? f.data['producerId']));
    try {
      await viewed.join();
      await waitUntil('carol consumed', () => viewed.consumers.size === 2);
      assert.deepEqual([...viewed.view].sort(), ['p3-a', 'p3-v']);
      assert.deepEqual(asked('consume').sort(), ['p3-a', 'p3-v'], 'nobody else is consumed');

      // Dave takes over: his media comes in, Carol's is paused, not closed.
      gw.notify('speakers', { k: 1, audio: ['p4'], order: ['p4', 'p3'] });
      await waitUntil('dave consumed', () => viewed.consumers.has('c-p4-a') && viewed.consumers.has('c-p4-v'));
      await waitUntil('carol paused', () => asked('pauseConsumer').length === 2);
      assert.equal(viewed.consumers.get('c-p3-v')?.inView, false);
      // Carol is back within the linger time: resumed, no new consumer.
      gw.notify('speakers', { k: 1, audio: ['p3'], order: ['p3', 'p4'] });
      await waitUntil('carol resumed', () => viewed.consumers.get('c-p3-v')?.inView === true);
      assert.equal(asked('consume').filter((id) => id.startsWith('p3')).length, 2, 'no second consume of a returning speaker');
      // Dave stays out past the linger time: closed on the gateway too.
      await waitUntil('dave closed', () => !viewed.consumers.has('c-p4-v') && asked('closeConsumer').includes('c-p4-v'), 3000);
      // A pinned peer's video stays in view whatever the ranking.
      viewed.pin('p2');
      await waitUntil('bob pinned', () => viewed.consumers.has('c-bob-v'));
      assert.ok(!viewed.view.has('bob-a'), 'a pin is for video; audio follows the ranking');
    } finally {
      await viewed.leave();
    }
  });

  it('does not keep a consumer whose producer closed while the consume was in flight', async () => {
    await room.join();
    await waitUntil('bob consumed', () => room.consumers.size === 2);
    owners.set('slow-v', 'p2');
    gw.delays.set('consume', 100);
    gw.notify('newProducer', { peerId: 'p2', producer: { producerId: 'slow-v', kind: 'video', paused: false } });
    await waitUntil('consume sent', () => gw.frames.some((f) => f.method === 'consume' && f.data['producerId'] === 'slow-v'));
    gw.notify('producerClosed', { peerId: 'p2', producerId: 'slow-v' });
    await waitUntil('closeConsumer sent', () => gw.frames.some((f) => f.method === 'closeConsumer' && f.data['consumerId'] === 'c-slow-v'));
    assert.equal(room.consumers.has('c-slow-v'), false);
  });

  it('after a resume: restarts ICE with the new parameters and reconciles what changed meanwhile', async () => {
    await room.join();
    await room.publish({ kind: 'audio', id: 'mic' }, { source: 'microphone' });
    await waitUntil('bob consumed', () => room.consumers.size === 2);
    const left: string[] = [];
    room.on('peerLeft', (p, reason) => left.push(`${p.peerId}:${reason}`));

    // While we were away: bob left, dave joined with a producer, our audio producer survived.
    const dave = { peerId: 'p4', identity: 'dave', producers: [{ producerId: 'dave-a', kind: 'audio' as const, paused: false }] };
    owners.set('dave-a', 'p4');
    gw.handlers.set('resume', () => ({
      ...joinResponse({ resumeToken: 'resume-2', peers: [dave] }),
      transports: [
        { transportId: 'send-1', direction: 'send', iceParameters: ice('u-send') },
        { transportId: 'recv-1', direction: 'recv', iceParameters: ice('u-recv') },
      ],
      producers: [{ producerId: 'mine-audio', kind: 'audio', source: 'microphone', paused: false }],
      consumers: [],
    }));
    const resumed = room.next('resumed');
    room.signaling.dropConnectionForTest();
    await resumed;
    assert.deepEqual(transport('send').restarts, [ice('u-send')]);
    assert.deepEqual(transport('recv').restarts, [ice('u-recv')]);
    assert.deepEqual(room.iceRestarts, { send: 1, recv: 1 });
    assert.deepEqual(left, ['p2:left while disconnected']);
    await waitUntil('dave consumed', () => room.consumers.has('c-dave-a'));
    assert.deepEqual([...room.consumers.keys()], ['c-dave-a']);
    assert.ok(room.producers.has('mine-audio'));
    assert.equal(room.signaling.state, 'connected');
  });

  it('leave: tells the gateway, closes transports and the signaling client', async () => {
    await room.join();
    const closed = room.next('closed');
    await room.leave();
    const [reason] = await closed;
    assert.equal(reason, 'leave');
    assert.ok(gw.methods().includes('leave'));
    assert.ok(device.transports.every((t) => t.closed));
    assert.equal(room.signaling.state, 'closed');
    assert.equal(room.consumers.size, 0);
  });

  it('leave while reconnecting waits for the resume and then leaves properly', async () => {
    gw.handlers.set('resume', () => ({ ...joinResponse(), transports: [], producers: [], consumers: [] }));
    gw.delays.set('resume', 100);
    await room.join();
    room.signaling.dropConnectionForTest();
    await waitUntil('reconnecting', () => room.signaling.state === 'reconnecting');
    await room.leave();
    assert.deepEqual(
      gw.frames.filter((f) => f.conn === 1).map((f) => f.method),
      ['resume', 'leave'],
    );
    assert.equal(room.signaling.state, 'closed');
  });

  it('closes everything when the session cannot be resumed', async () => {
    gw.handlers.set('resume', () => {
      throw new GatewayError('UNAUTHORIZED', 'the session has ended');
    });
    await room.join();
    const closed = room.next('closed');
    room.signaling.dropConnectionForTest();
    const [reason, error] = await closed;
    assert.equal(reason, 'connection lost');
    assert.match(String(error?.message), /session has ended/);
    assert.ok(room.closed);
    assert.ok(device.transports.every((t) => t.closed));
  });
});
