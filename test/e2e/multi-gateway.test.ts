/**
 * No room state lives only in one gateway: two gateways serve one room, a session dropped on
 * one is resumed on the other, and a gateway that shuts down leaves its sessions resumable.
 */
import { legsOf as legsOfRoom, peersOf } from '@strata/harness';
import { Heartbeat, PeerRecord, RoomPlacement, buckets, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/processes.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

const MAX_CONSUMERS = 10;
const AUDIO = { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }] };

describe('several gateways, one region', { timeout: 120_000 }, () => {
  let region: Region;

  const nodesOfPeers = (roomId: string) => peersOf(region, roomId);
  const legsOf = (roomId: string) => legsOfRoom(region, roomId);

  before(async () => {
    // A small consumer capacity, so a few consumers make a node measurably loaded (least-loaded check).
    region = await startRegion({
      gateways: 3,
      mediaNodes: 2,
      env: { SIGNALING_RESUME_GRACE: '2s', SIGNALING_SWEEP_INTERVAL: '500ms', MEDIA_MAX_CONSUMERS: String(MAX_CONSUMERS) },
    });
  });

  after(async () => {
    await region?.stop();
  });

  it('peers on different gateways see each other, their producers and their departures', async () => {
    const [g1, g2] = region.gateways;
    const a = await RawSocket.open(g1!.wsUrl);
    const b = await RawSocket.open(g2!.wsUrl);
    const ja = await a.request('join', { token: await region.mintToken({ room: 'shared', identity: 'a' }) });
    const jb = await b.request('join', { token: await region.mintToken({ room: 'shared', identity: 'b' }) });
    assert.ok(ja.ok && jb.ok);
    const peerA = ja.data!['peerId'] as string;
    const peerB = jb.data!['peerId'] as string;
    assert.deepEqual(
      (jb.data!['peers'] as { peerId: string }[]).map((p) => p.peerId),
      [peerA],
      'b (gateway 2) lists a (gateway 1)',
    );
    await a.notification('peerJoined', (d) => d['peerId'] === peerB);
    const legs = await legsOf('shared');
    assert.equal(legs?.length, 1);
    assert.deepEqual([...(await nodesOfPeers('shared')).values()], [legs![0], legs![0]], 'both peers on the room’s one leg');
    const kv = await region.bus.kv(buckets.rooms, RoomPlacement);

    const tb = await b.request('createWebRtcTransport', { direction: 'send' });
    const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }] };
    const pb = await b.request('produce', { transportId: tb.data!['transportId'] as string, kind: 'audio', rtpParameters, source: 'microphone' });
    assert.equal(pb.ok, true, JSON.stringify(pb));
    const np = await a.notification('newProducer', (d) => d['peerId'] === peerB);
    assert.deepEqual(np.data['producer'], { producerId: pb.data!['producerId'], kind: 'audio', source: 'microphone', paused: false });
    const ta = await a.request('createWebRtcTransport', { direction: 'recv' });
    const ca = await a.request('consume', {
      transportId: ta.data!['transportId'] as string,
      producerId: pb.data!['producerId'] as string,
      rtpCapabilities: ja.data!['rtpCapabilities'] as Record<string, unknown>,
    });
    assert.equal(ca.ok, true, JSON.stringify(ca));
    assert.equal(ca.data!['peerId'], peerB);
    assert.equal((await b.request('leave')).ok, true);
    const left = await a.notification('peerLeft', (d) => d['peerId'] === peerB);
    assert.equal(left.data['reason'], 'leave');
    await a.notification('consumerClosed', (d) => d['consumerId'] === ca.data!['consumerId']);
    assert.equal((await a.request('leave')).ok, true);
    assert.equal(await kv.get(`${region.region}.shared`), null, 'the last one out releases the placement');
  });

  it('two gateways opening a room at once agree on one leg', async () => {
    // Each round, once both gateways have the same view of the nodes, gateway 1 first opens a
    // room of its own: it counts that leg against its node
    // until the node's next heartbeat, gateway 2 does not know of it yet. Then both gateways
    // open one room at once: gateway 1 would choose the other node, gateway 2 the same one.
    // Only the compare-and-set on the placement keeps the room on one leg with both peers.
    const [g1, g2] = region.gateways;
    const sockets: RawSocket[] = [];
    const open = async (url: string, room: string, identity: string) => {
      const s = await RawSocket.open(url);
      sockets.push(s);
      return s.request('join', { token: await region.mintToken({ room, identity }) });
    };
    const media = ['media-1', 'media-2'];
    for (let round = 0; round < 6; round++) {
      // Fresh beats from both nodes: both gateways now see the same loads, with nothing pending.
      const since = Date.now();
      await waitFor('fresh media heartbeats', () => (media.every((n) => (region.heartbeats.get(n)?.ts ?? 0) > since) ? true : undefined));
      assert.equal((await open(g1!.wsUrl, `skew-${round}`, 'skew')).ok, true);
      const both = await Promise.all([open(g1!.wsUrl, `race-${round}`, 'one'), open(g2!.wsUrl, `race-${round}`, 'two')]);
      assert.ok(
        both.every((j) => j.ok),
        JSON.stringify(both),
      );
    }
    for (let round = 0; round < 6; round++) {
      const room = `race-${round}`;
      const legs = await legsOf(room);
      assert.equal(legs?.length, 1, `${room}: one leg, not ${JSON.stringify(legs)}`);
      assert.deepEqual([...(await nodesOfPeers(room)).values()], [legs![0], legs![0]], `${room}: both peers on its leg`);
    }
    await Promise.all(sockets.map(async (s) => assert.equal((await s.request('leave')).ok, true)));
    for (let round = 0; round < 6; round++) assert.equal(await legsOf(`race-${round}`), undefined, 'the last one out erases the placement');
  });

  it('places new rooms on the least-loaded media node', async () => {
    // Load one node with consumers (its score is consumers / MEDIA_MAX_CONSUMERS), then open rooms:
    // every one must go to the other node. A random choice would pass one time in 2^6.
    const [g1, g2] = region.gateways;
    const pub = await RawSocket.open(g1!.wsUrl);
    const jp = await pub.request('join', { token: await region.mintToken({ room: 'heavy', identity: 'pub' }) });
    const tp = await pub.request('createWebRtcTransport', { direction: 'send' });
    const p = await pub.request('produce', {
      transportId: tp.data!['transportId'] as string,
      kind: 'audio',
      rtpParameters: { ...AUDIO, encodings: [{ ssrc: 777 }] },
    });
    assert.equal(p.ok, true, JSON.stringify(p));
    const subs: RawSocket[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await RawSocket.open(g2!.wsUrl);
      await s.request('join', { token: await region.mintToken({ room: 'heavy', identity: `sub${i}` }) });
      const t = await s.request('createWebRtcTransport', { direction: 'recv' });
      const c = await s.request('consume', {
        transportId: t.data!['transportId'] as string,
        producerId: p.data!['producerId'] as string,
        rtpCapabilities: jp.data!['rtpCapabilities'] as Record<string, unknown>,
      });
      assert.equal(c.ok, true, JSON.stringify(c));
      subs.push(s);
    }
    const [heavy] = (await legsOf('heavy'))!;
    const other = ['media-1', 'media-2'].find((n) => n !== heavy)!;
    // Two beats reporting the load, so every gateway (which hears the same beats) has one.
    const seen = new Set<number>();
    await waitFor(`${heavy} to report its consumers`, () => {
      const b = region.heartbeats.get(heavy!);
      if (b && b.load.score >= 3 / MAX_CONSUMERS - 1e-9) seen.add(b.ts);
      return seen.size >= 2 ? true : undefined;
    });
    const sockets: RawSocket[] = [];
    for (let i = 0; i < 6; i++) {
      const s = await RawSocket.open(region.gateways[i % 2]!.wsUrl);
      assert.equal((await s.request('join', { token: await region.mintToken({ room: `spread-${i}`, identity: 'p' }) })).ok, true);
      sockets.push(s);
    }
    const placed = await Promise.all([0, 1, 2, 3, 4, 5].map(async (i) => (await legsOf(`spread-${i}`))?.join()));
    assert.deepEqual(placed, Array(6).fill(other), `every new room on ${other}, the idle node, not on ${heavy} (3 of ${MAX_CONSUMERS} consumers)`);
    for (const s of [...sockets, ...subs, pub]) assert.equal((await s.request('leave')).ok, true);
  });

  it('a session dropped on one gateway resumes on the other', async () => {
    const [g1, g2] = region.gateways;
    const watcher = await RawSocket.open(g2!.wsUrl);
    await watcher.request('join', { token: await region.mintToken({ room: 'hop', identity: 'watcher' }) });
    const c = await RawSocket.open(g1!.wsUrl);
    const jc = await c.request('join', { token: await region.mintToken({ room: 'hop', identity: 'c' }) });
    const t = await c.request('createWebRtcTransport', { direction: 'send' });
    const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 5151 }] };
    const p = await c.request('produce', { transportId: t.data!['transportId'] as string, kind: 'audio', rtpParameters, source: 'microphone' });
    assert.equal(p.ok, true, JSON.stringify(p));
    c.terminate();
    const c2 = await RawSocket.open(g2!.wsUrl);
    const r = await c2.request('resume', { resumeToken: jc.data!['resumeToken'] as string });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.data!['peerId'], jc.data!['peerId']);
    assert.deepEqual(
      (r.data!['transports'] as { transportId: string }[]).map((x) => x.transportId),
      [t.data!['transportId']],
    );
    // What the media node holds, told to a gateway that never saw the session before.
    assert.deepEqual(r.data!['producers'], [{ producerId: p.data!['producerId'], kind: 'audio', source: 'microphone', paused: false }]);
    // The resumed session is fully usable on its new gateway.
    const stats = await c2.request('getTransportStats', { transportId: t.data!['transportId'] as string });
    assert.equal(stats.ok, true);
    assert.ok(!watcher.notifications.some((n) => n.notification === 'peerLeft'), 'nobody was told c left');
    assert.equal((await c2.request('leave')).ok, true);
    await watcher.notification('peerLeft', (d) => d['peerId'] === jc.data!['peerId']);
    watcher.close();
  });

  it('a resume on another gateway while the old socket is still open takes the session over for good', async () => {
    const [g1, g2] = region.gateways;
    const beats = new Map<string, Record<string, unknown>>();
    const sub = region.bus.subscribe(Heartbeat, subjects.heartbeats(region.region, 'signaling'), (b) => void beats.set(b.id, b.load.details));
    const watcher = await RawSocket.open(g2!.wsUrl);
    await watcher.request('join', { token: await region.mintToken({ room: 'steal', identity: 'watcher' }) });
    const c = await RawSocket.open(g1!.wsUrl);
    const jc = await c.request('join', { token: await region.mintToken({ room: 'steal', identity: 'c' }) });
    const peerId = jc.data!['peerId'] as string;
    const c2 = await RawSocket.open(g2!.wsUrl);
    const r = await c2.request('resume', { resumeToken: jc.data!['resumeToken'] as string });
    assert.equal(r.ok, true, JSON.stringify(r));
    // The old gateway is told and lets go: its socket closes with 4001 and it holds nothing.
    await c.waitFor(() => c.closed);
    assert.equal(c.closed?.code, 4001);
    // A fresh heartbeat of gateway 1 (sent after the takeover) reports no session and no timer.
    beats.delete(g1!.id);
    await waitFor(`gateway 1 to let go (${JSON.stringify(beats.get(g1!.id))})`, () =>
      beats.get(g1!.id)?.['sessions'] === 0 && beats.get(g1!.id)?.['graceTimers'] === 0 ? true : undefined,
    );
    // Past the grace period the peer is still in the room, on its new gateway, and usable.
    await new Promise((res) => setTimeout(res, 2500));
    assert.ok(!watcher.notifications.some((n) => n.notification === 'peerLeft'), 'nobody was told c left');
    const kv = await region.bus.kv(buckets.peers, PeerRecord);
    const rec = await kv.get(`${region.region}.steal.${peerId}`);
    assert.equal(rec?.value.gatewayId, g2!.id);
    assert.equal(rec?.value.connected, true);
    assert.equal((await c2.request('getRouterRtpCapabilities')).ok, true);
    // The token the old socket had is spent; the new one works.
    const stale = await (await RawSocket.open(g1!.wsUrl)).request('resume', { resumeToken: jc.data!['resumeToken'] as string });
    assert.equal(stale.error?.code, 'UNAUTHORIZED');
    assert.equal((await c2.request('leave')).ok, true);
    await watcher.notification('peerLeft', (d) => d['peerId'] === peerId);
    watcher.close();
    sub.unsubscribe();
  });

  it('a gateway shutting down closes sockets with 1001 and its sessions resume elsewhere, or expire', async () => {
    const [g1, g2] = region.gateways;
    const watcher = await RawSocket.open(g2!.wsUrl);
    await watcher.request('join', { token: await region.mintToken({ room: 'failover', identity: 'watcher' }) });
    const d = await RawSocket.open(g1!.wsUrl);
    const jd = await d.request('join', { token: await region.mintToken({ room: 'failover', identity: 'd' }) });
    const e = await RawSocket.open(g1!.wsUrl);
    const je = await e.request('join', { token: await region.mintToken({ room: 'failover', identity: 'e' }) });
    const r = await g1!.proc.stop(10_000);
    assert.deepEqual(r, { code: 0, signal: null });
    await d.waitFor(() => d.closed);
    assert.equal(d.closed?.code, 1001);
    const d2 = await RawSocket.open(g2!.wsUrl);
    const resumed = await d2.request('resume', { resumeToken: jd.data!['resumeToken'] as string });
    assert.equal(resumed.ok, true, JSON.stringify(resumed));
    // e never comes back: a surviving gateway expires it once the grace period is over.
    const left = await watcher.notification('peerLeft', (x) => x['peerId'] === je.data!['peerId'], 20_000);
    assert.equal(left.data['reason'], 'timeout');
    assert.ok(!watcher.notifications.some((n) => n.notification === 'peerLeft' && n.data['peerId'] === jd.data!['peerId']), 'd, resumed, stays');
    d2.close();
  });

  it('the sessions of a crashed gateway expire through the others', async () => {
    const [, g2, g3] = region.gateways;
    const watcher = await RawSocket.open(g2!.wsUrl);
    await watcher.request('join', { token: await region.mintToken({ room: 'crash', identity: 'watcher' }) });
    const f = await RawSocket.open(g3!.wsUrl);
    const jf = await f.request('join', { token: await region.mintToken({ room: 'crash', identity: 'f' }) });
    await g3!.proc.kill9();
    const left = await watcher.notification('peerLeft', (x) => x['peerId'] === jf.data!['peerId'], 20_000);
    assert.equal(left.data['reason'], 'timeout');
    watcher.close();
  });
});
