/**
 * The gateway's WebSocket protocol against a real region (nats-server, gateway, media node as
 * processes): joining, room notifications, and every kind of bad input answered with its error
 * code while other peers in the room carry on.
 */
import { mintJoinToken } from '@strata/auth';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

describe('signaling protocol', { timeout: 120_000 }, () => {
  let region: Region;
  let alice: RawSocket;
  let alicePeerId: string;

  before(async () => {
    region = await startRegion({ env: { SIGNALING_RATE_LIMIT: '20', SIGNALING_RATE_BURST: '40', SIGNALING_RESUME_GRACE: '2s' } });
    alice = await RawSocket.open(region.wsUrl);
    const r = await alice.request('join', { token: await region.mintToken({ room: 'proto', identity: 'alice', name: 'Alice' }) });
    assert.ok(r.ok, JSON.stringify(r));
    alicePeerId = r.data!['peerId'] as string;
  });

  after(async () => {
    alice?.close();
    await region?.stop();
  });

  it('joins with a token and tells the room', async () => {
    const bob = await RawSocket.open(region.wsUrl);
    const r = await bob.request('join', { token: await region.mintToken({ room: 'proto', identity: 'bob' }) });
    assert.equal(r.ok, true);
    const d = r.data!;
    assert.match(String(d['resumeToken']), /^test\.proto\.p_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{40,}$/, 'names the peer record and carries a secret');
    assert.equal(d['roomId'], 'proto');
    assert.ok((d['rtpCapabilities'] as { codecs: { mimeType: string }[] }).codecs.some((c) => c.mimeType === 'audio/opus'));
    assert.deepEqual(
      (d['peers'] as { peerId: string }[]).map((p) => p.peerId),
      [alicePeerId],
    );
    const joined = await alice.notification('peerJoined', (x) => x['peerId'] === d['peerId']);
    assert.equal(joined.data['identity'], 'bob');
    const t = await bob.request('createWebRtcTransport', { direction: 'recv' });
    assert.equal(t.ok, true);
    assert.ok(((t.data!['iceCandidates'] as unknown[]) ?? []).length > 0);
    assert.equal((await bob.request('leave')).ok, true);
    const left = await alice.notification('peerLeft', (x) => x['peerId'] === d['peerId']);
    assert.equal(left.data['reason'], 'leave');
  });

  it('refuses bad tokens with UNAUTHORIZED', async () => {
    const s = await RawSocket.open(region.wsUrl);
    const expired = await s.request('join', { token: await region.mintToken({ room: 'proto', identity: 'x', ttlSeconds: -30 }) });
    assert.equal(expired.error?.code, 'UNAUTHORIZED');
    assert.match(expired.error!.message, /expired/);
    const forged = await s.request('join', { token: await mintJoinToken('not-the-region-secret-0000', { room: 'proto', identity: 'x' }) });
    assert.equal(forged.error?.code, 'UNAUTHORIZED');
    const garbage = await s.request('join', { token: 'abc' });
    assert.equal(garbage.error?.code, 'UNAUTHORIZED');
    const resume = await s.request('resume', { resumeToken: 'never-issued' });
    assert.equal(resume.error?.code, 'UNAUTHORIZED');
    const early = await s.request('createWebRtcTransport', { direction: 'send' });
    assert.equal(early.error?.code, 'UNAUTHORIZED');
    s.close();
  });

  it('answers malformed, mistyped, unknown and oversized frames with their codes', async () => {
    const s = await RawSocket.open(region.wsUrl);
    await s.request('join', { token: await region.mintToken({ room: 'proto', identity: 'mallory' }) });
    const before = s.responses.length;
    s.sendRaw('{"id": 1, "method": ');
    s.sendRaw(JSON.stringify({ id: 'seven', method: 'join' }));
    s.sendRaw(JSON.stringify({ id: 77, method: 'fly', data: {} }));
    s.sendRaw(JSON.stringify({ id: 78, method: 'createWebRtcTransport', data: { direction: 'sideways' } }));
    s.sendRaw(JSON.stringify({ id: 79, method: 'consume', data: { transportId: 'nope', producerId: 'nope', rtpCapabilities: {} } }));
    s.sendRaw(JSON.stringify({ id: 80, method: 'join', data: { token: 'x' } }));
    s.sendRaw(JSON.stringify({ id: 81, method: 'getRouterRtpCapabilities', data: { padding: 'x'.repeat(100_000) } }));
    s.sendRaw(Buffer.from([1, 2, 3]), true);
    const got = await s.waitFor(() => (s.responses.length >= before + 8 ? s.responses.slice(before) : undefined));
    const codes = got.map((r) => `${r.id}:${r.error?.code}`);
    assert.deepEqual(codes, [
      'null:BAD_REQUEST',
      'null:INVALID_MESSAGE',
      '77:UNKNOWN_METHOD',
      '78:INVALID_MESSAGE',
      '79:NOT_FOUND',
      '80:CONFLICT',
      'null:TOO_LARGE',
      'null:BAD_REQUEST',
    ]);
    for (const r of got) assert.ok(r.error!.message.length > 0);
    const t = await s.request('createWebRtcTransport', { direction: 'recv' });
    const unknownProducer = await s.request('consume', {
      transportId: t.data!['transportId'] as string,
      producerId: 'no-such-producer',
      rtpCapabilities: { codecs: [] },
    });
    assert.equal(unknownProducer.error?.code, 'NOT_FOUND');
    const notMine = await s.request('pauseProducer', { producerId: 'someone-elses' });
    assert.equal(notMine.error?.code, 'NOT_FOUND');
    assert.equal(s.closed, undefined, 'bad frames do not cost the socket');
    s.close();

    // Far past the limit, the frame is not even read: uWS drops the connection (1006 as the
    // client sees it), and nobody else notices.
    const huge = await RawSocket.open(region.wsUrl);
    huge.sendRaw(JSON.stringify({ id: 1, method: 'join', data: { token: 'x'.repeat(2 * 1024 * 1024) } }));
    await huge.waitFor(() => huge.closed);
    assert.ok([1006, 1009].includes(huge.closed!.code), `closed with ${huge.closed?.code}`);
    assert.equal((await alice.request('getRouterRtpCapabilities')).ok, true);
  });

  it('keeps sessions for resume, and removes them after the grace period', async () => {
    const s = await RawSocket.open(region.wsUrl);
    const j = await s.request('join', { token: await region.mintToken({ room: 'proto', identity: 'carol' }) });
    const peerId = j.data!['peerId'] as string;
    const t = await s.request('createWebRtcTransport', { direction: 'send' });
    s.terminate();
    const again = await RawSocket.open(region.gateways[0]!.wsUrl);
    const r = await again.request('resume', { resumeToken: j.data!['resumeToken'] as string });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.data!['peerId'], peerId);
    const transports = r.data!['transports'] as { transportId: string; iceParameters: { usernameFragment: string } }[];
    assert.deepEqual(
      transports.map((x) => x.transportId),
      [t.data!['transportId']],
    );
    assert.notEqual(
      transports[0]!.iceParameters.usernameFragment,
      (t.data!['iceParameters'] as { usernameFragment: string }).usernameFragment,
      'ICE restarted',
    );
    const reused = await (await RawSocket.open(region.wsUrl)).request('resume', { resumeToken: j.data!['resumeToken'] as string });
    assert.equal(reused.error?.code, 'UNAUTHORIZED', 'a resume token works once');
    assert.equal((await again.request('leave')).ok, true);

    // Dropped and never back: removed once the grace period is over, and the room is told.
    const dave = await RawSocket.open(region.wsUrl);
    const dj = await dave.request('join', { token: await region.mintToken({ room: 'proto', identity: 'dave' }) });
    const davePeer = dj.data!['peerId'] as string;
    dave.terminate();
    const droppedAt = Date.now();
    const left = await alice.notification('peerLeft', (x) => x['peerId'] === davePeer, 10_000);
    assert.equal(left.data['reason'], 'timeout');
    assert.ok(Date.now() - droppedAt >= 1500, 'not before the grace period');
    const late = await (await RawSocket.open(region.wsUrl)).request('resume', { resumeToken: dj.data!['resumeToken'] as string });
    assert.equal(late.error?.code, 'UNAUTHORIZED');
  });
});
