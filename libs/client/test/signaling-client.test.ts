import { SignalingClient, SignalingError, backoffDelay, type ConnectionState } from '@strata/client';
import type { WsNotificationData } from '@strata/protocol';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import { FakeGateway, GatewayError, joinResponse, waitUntil } from './fake-gateway.js';

/** Drops the socket and waits for the client to give the session up: how long that took. */
async function dropUntilSessionLost(c: SignalingClient): Promise<number> {
  const closed = c.next('closed');
  const droppedAt = Date.now();
  c.dropConnectionForTest();
  const [err] = await closed;
  assert.equal(err?.code, 'TIMEOUT');
  assert.match(err?.message ?? '', /session lost/);
  return Date.now() - droppedAt;
}

describe('SignalingClient against a ws server', () => {
  let gw: FakeGateway;
  let client: SignalingClient;
  let states: ConnectionState[];

  beforeEach(async () => {
    gw = await FakeGateway.start();
    gw.handlers.set('join', () => joinResponse());
    client = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 1000, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    states = [];
    client.on('state', (s) => states.push(s));
  });

  afterEach(async () => {
    client.close();
    await gw.stop();
  });

  it('sends requests with increasing ids and matches out-of-order responses', async () => {
    gw.handlers.set('getRouterRtpCapabilities', () => ({ rtpCapabilities: { codecs: [{ mimeType: 'audio/opus' }] } }));
    gw.handlers.set('restartIce', (d) => ({ iceParameters: { usernameFragment: String(d['transportId']), password: 'x' } }));
    gw.delays.set('restartIce', 100);
    await client.connect();
    await client.join({ token: 't' });
    const [slow, fast] = await Promise.all([client.request('restartIce', { transportId: 'tr-9' }), client.request('getRouterRtpCapabilities', {})]);
    assert.equal(slow.iceParameters.usernameFragment, 'tr-9');
    assert.equal(fast.rtpCapabilities.codecs?.[0]?.['mimeType'], 'audio/opus');
    const ids = gw.frames.map((f) => f.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual(gw.frames[0], { id: ids[0], method: 'join', data: { token: 't' }, conn: 0 });
  });

  it('rejects with the code and message of the error envelope', async () => {
    gw.handlers.set('produce', () => {
      throw new GatewayError('FORBIDDEN', 'no publish grant');
    });
    await client.connect();
    await client.join({ token: 't' });
    const err = await client.request('produce', { transportId: 'x', kind: 'audio', rtpParameters: { codecs: [] } }).catch((e: unknown) => e);
    assert.ok(err instanceof SignalingError);
    assert.equal(err.code, 'FORBIDDEN');
    assert.match(err.message, /no publish grant/);
    assert.equal(err.method, 'produce');
  });

  it('times out a request the gateway answers too late, and ignores the late answer', async () => {
    gw.handlers.set('restartIce', () => ({ iceParameters: { usernameFragment: 'late', password: 'x' } }));
    gw.handlers.set('getRouterRtpCapabilities', () => ({ rtpCapabilities: { codecs: [{ mimeType: 'audio/opus' }] } }));
    gw.delays.set('restartIce', 300);
    await client.connect();
    await client.join({ token: 't' });
    const errors: SignalingError[] = [];
    client.on('protocolError', (e) => errors.push(e));
    const t0 = Date.now();
    await assert.rejects(client.request('restartIce', { transportId: 'tr-1' }, { timeoutMs: 150 }), (e: SignalingError) => e.code === 'TIMEOUT');
    assert.ok(Date.now() - t0 >= 140, 'not before its timeout');
    const late = gw.frames.find((f) => f.method === 'restartIce')!;
    await waitUntil('the late answer sent', () => gw.answers.some((a) => a.id === late.id));
    // Frames on one socket arrive in order: once this answer is in, the late one was read before it.
    const caps = await client.request('getRouterRtpCapabilities', {});
    assert.equal(caps.rtpCapabilities.codecs?.[0]?.['mimeType'], 'audio/opus', 'the next request gets its own answer');
    assert.ok(gw.answers.findIndex((a) => a.id === late.id) < gw.answers.findIndex((a) => a.method === 'getRouterRtpCapabilities'));
    assert.deepEqual(errors, [], 'a late answer is not a protocol error');
    assert.equal(client.state, 'connected', 'a timeout does not close the connection');
  });

  it('emits typed notifications', async () => {
    await client.connect();
    await client.join({ token: 't' });
    const got: WsNotificationData<'newProducer'>[] = [];
    const any: string[] = [];
    client.onNotification('newProducer', (d) => got.push(d));
    client.on('notification', (m) => any.push(m.notification));
    gw.notify('peerJoined', { peerId: 'p2', identity: 'bob' });
    gw.notify('newProducer', { peerId: 'p2', producer: { producerId: 'pr1', kind: 'video', source: 'camera', paused: false } });
    await waitUntil('two notifications', () => any.length === 2);
    assert.deepEqual(any, ['peerJoined', 'newProducer']);
    assert.equal(got[0]?.producer.producerId, 'pr1');
  });

  it('reports an unparseable frame as a protocol error and keeps going', async () => {
    await client.connect();
    const errors: SignalingError[] = [];
    client.on('protocolError', (e) => errors.push(e));
    gw.current?.send('{nope');
    gw.current?.send(JSON.stringify({ id: null, ok: false, error: { code: 'BAD_REQUEST', message: 'frame is not JSON' } }));
    await waitUntil('protocol errors', () => errors.length === 2);
    assert.equal(errors[1]?.code, 'BAD_REQUEST');
    await client.join({ token: 't' });
  });

  it('resumes after an abrupt drop: resume is the first request, then requests flow again', async () => {
    let n = 0;
    gw.handlers.set('resume', (d) => {
      n++;
      assert.equal(d['resumeToken'], `resume-${n}`);
      return {
        ...joinResponse({ resumeToken: `resume-${n + 1}` }),
        transports: [{ transportId: 'send-1', direction: 'send', iceParameters: { usernameFragment: `u${n}`, password: 'p' } }],
        producers: [],
        consumers: [],
      };
    });
    gw.handlers.set('leave', () => ({}));
    await client.connect();
    await client.join({ token: 't' });
    const resumed = client.next('resumed');
    client.dropConnectionForTest();
    const [res] = await resumed;
    assert.equal(res.transports[0]?.iceParameters.usernameFragment, 'u1');
    assert.equal(client.state, 'connected');
    assert.equal(client.reconnects, 1);
    const second = gw.frames.filter((f) => f.conn === 1);
    assert.equal(second[0]?.method, 'resume', 'resume is the first request on the new socket');

    // A second drop presents the token the resume handed out.
    const again = client.next('resumed');
    gw.current?.terminate(); // this time the gateway side drops
    await again;
    assert.equal(gw.frames.filter((f) => f.conn === 2)[0]?.data['resumeToken'], 'resume-2');
    await client.request('leave', {});
    assert.deepEqual(states, ['connecting', 'connected', 'reconnecting', 'connected', 'reconnecting', 'connected']);
  });

  it('holds requests made while reconnecting until the session is back', async () => {
    gw.handlers.set('resume', () => ({ ...joinResponse(), transports: [], producers: [], consumers: [] }));
    gw.handlers.set('getRouterRtpCapabilities', () => ({ rtpCapabilities: { codecs: [] } }));
    gw.delays.set('resume', 150);
    await client.connect();
    await client.join({ token: 't' });
    client.dropConnectionForTest();
    await waitUntil('reconnecting', () => client.state === 'reconnecting');
    const caps = await client.request('getRouterRtpCapabilities', {});
    assert.deepEqual(caps.rtpCapabilities.codecs, []);
    const methods = gw.frames.filter((f) => f.conn === 1).map((f) => f.method);
    assert.deepEqual(methods, ['resume', 'getRouterRtpCapabilities']);
  });

  it('rejects requests in flight when the socket drops', async () => {
    gw.handlers.set('resume', () => ({ ...joinResponse(), transports: [], producers: [], consumers: [] }));
    gw.delays.set('restartIce', Infinity);
    await client.connect();
    await client.join({ token: 't' });
    const inflight = client.request('restartIce', { transportId: 'x' });
    await waitUntil('request sent', () => gw.methods().includes('restartIce'));
    client.dropConnectionForTest();
    await assert.rejects(inflight, (e: SignalingError) => e.code === 'UNAVAILABLE');
    await client.next('resumed');
  });

  it('closes with the error when the gateway refuses the resume', async () => {
    gw.handlers.set('resume', () => {
      throw new GatewayError('UNAUTHORIZED', 'unknown resume token');
    });
    await client.connect();
    await client.join({ token: 't' });
    const closed = client.next('closed');
    client.dropConnectionForTest();
    const [err] = await closed;
    assert.equal(err?.code, 'UNAUTHORIZED');
    assert.equal(client.state, 'closed');
    await assert.rejects(client.request('leave', {}), (e: SignalingError) => e.code === 'UNAVAILABLE');
  });

  it('keeps retrying while the gateway refuses to resume, and gives up when the grace period ends', async () => {
    const graceMs = 600;
    // A long request timeout: giving up must follow the grace period, not the request timeout.
    const c = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 30_000, reconnect: { initialDelayMs: 20, maxDelayMs: 100, jitter: 0 } });
    try {
      gw.handlers.set('join', () => joinResponse({ resumeGraceMs: graceMs }));
      gw.handlers.set('resume', () => {
        throw new GatewayError('UNAVAILABLE', 'media node unreachable'); // worth another try
      });
      await c.connect();
      await c.join({ token: 't' });
      const elapsed = await dropUntilSessionLost(c);
      const resumes = gw.frames.filter((f) => f.method === 'resume');
      assert.ok(resumes.length >= 3, `several attempts, got ${resumes.length}`);
      // The last attempt may have ended at the deadline before its socket opened or before the gateway read its frame.
      assert.ok(
        c.resumeAttempts - resumes.length <= 1 && c.resumeAttempts >= resumes.length,
        `one resume per attempt: ${c.resumeAttempts} / ${resumes.length}`,
      );
      assert.deepEqual(
        resumes.map((f) => f.conn),
        resumes.map((_, i) => i + 1),
        'each attempt on its own socket, resume first',
      );
      assert.ok(elapsed >= graceMs - 20, `not before the grace period (gave up after ${elapsed} ms)`);
      assert.ok(elapsed < 30_000, 'not after a request timeout');
    } finally {
      c.close();
    }
  });

  it('bounds a resume the gateway never answers by the remaining grace, not the request timeout', async () => {
    const graceMs = 500;
    const c = new SignalingClient({ url: gw.url, WebSocket, requestTimeoutMs: 30_000, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
    try {
      gw.handlers.set('join', () => joinResponse({ resumeGraceMs: graceMs }));
      gw.delays.set('resume', Infinity); // the gateway accepts sockets but never answers
      await c.connect();
      await c.join({ token: 't' });
      const elapsed = await dropUntilSessionLost(c);
      assert.equal(gw.frames.filter((f) => f.method === 'resume').length, 1, 'one attempt, waiting for the rest of the grace period');
      assert.ok(elapsed >= graceMs - 20, `not before the grace period (gave up after ${elapsed} ms)`);
      assert.ok(elapsed < 30_000, 'not after the request timeout');
      assert.equal(c.state, 'closed');
    } finally {
      c.close();
    }
  });

  it('does not reconnect after dropConnectionForTest({ reconnect: false })', async () => {
    await client.connect();
    await client.join({ token: 't' });
    const closed = client.next('closed');
    client.dropConnectionForTest({ reconnect: false });
    await closed;
    // The reconnect loop enters `reconnecting` synchronously, and nothing leaves `closed`.
    assert.deepEqual(states, ['connecting', 'connected', 'closed']);
    assert.equal(gw.connections.length, 1);
  });

  it('does not fight for a session resumed on another socket (close 4001)', async () => {
    await client.connect();
    await client.join({ token: 't' });
    const closed = client.next('closed');
    gw.current?.close(4001, 'session resumed on another socket');
    const [err] = await closed;
    assert.match(err?.message ?? '', /4001/);
    assert.deepEqual(states, ['connecting', 'connected', 'closed']);
    assert.equal(gw.connections.length, 1);
  });

  it('closes (does not resume) when the socket drops before join', async () => {
    await client.connect();
    const closed = client.next('closed');
    gw.current?.terminate();
    const [err] = await closed;
    assert.equal(err?.code, 'UNAVAILABLE');
    assert.equal(gw.connections.length, 1);
  });

  it('fails connect() when nothing listens', async () => {
    const c = new SignalingClient({ url: 'ws://127.0.0.1:1/rtc', WebSocket, connectTimeoutMs: 1000 });
    await assert.rejects(c.connect(), (e: SignalingError) => e.code === 'UNAVAILABLE');
    assert.equal(c.state, 'closed');
  });
});

describe('backoffDelay', () => {
  it('grows by the factor up to the maximum, jitter only shortening it', () => {
    const noJitter = { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 };
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, noJitter)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(
      backoffDelay(2, { initialDelayMs: 100, jitter: 0.5 }, () => 1),
      200,
    );
    assert.equal(
      backoffDelay(2, { initialDelayMs: 100, jitter: 0.5 }, () => 0),
      400,
    );
  });
});
