import { Type } from '@sinclair/typebox';
import { Bus, TypedKv } from '@strata/bus';
import { freePort, startNatsServer, type NatsServer } from '@strata/nats-server';
import { StrataError, buckets, defineEvent, defineRpc } from '@strata/protocol';
import { startTelemetry, type Telemetry } from '@strata/telemetry';
import { trace } from '@opentelemetry/api';
import { StorageType, type Msg } from 'nats';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../../../test/helpers/logger.js';

const Add = defineRpc('test.add', Type.Object({ a: Type.Integer(), b: Type.Integer() }, { additionalProperties: false }), Type.Object({ sum: Type.Integer() }));
const Ping = defineEvent('test.ping', Type.Object({ n: Type.Integer() }, { additionalProperties: false }));
/** Polls `probe` until it holds; fails after `timeoutMs`. */
async function until(what: string, probe: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const Item = Type.Object({ name: Type.String(), count: Type.Integer() }, { additionalProperties: false });

describe('bus against a real nats-server', () => {
  let nats: NatsServer;
  let server: Bus;
  let client: Bus;
  let telemetry: Telemetry;
  const serverLog = memoryLogger();

  before(async () => {
    telemetry = startTelemetry({ serviceName: 'bus-test', version: '0', region: 'test', nodeId: 'n1' });
    nats = await startNatsServer();
    server = await Bus.connect({ servers: nats.url, name: 'server', logger: serverLog.log });
    client = await Bus.connect({ servers: nats.url, name: 'client', logger: memoryLogger().log, requestTimeoutMs: 1000 });
    server.serve(Add, 'test.add', ({ a, b }) => {
      if (a < 0) throw new StrataError('FORBIDDEN', 'negative numbers are not allowed');
      if (a === 13) throw new Error('unlucky');
      if (a === 99) return { sum: 'not a number' } as unknown as { sum: number };
      if (a === 1000) throw new StrataError('CAPACITY', 'too big for this adder');
      return { sum: a + b };
    });
    await server.nc.flush();
  });

  after(async () => {
    await client.drain();
    await server.drain();
    await nats.stop();
    await telemetry.shutdown();
  });

  it('answers a valid request', async () => {
    assert.deepEqual(await client.request(Add, 'test.add', { a: 2, b: 3 }), { sum: 5 });
  });

  it('refuses to send a request that violates the schema', async () => {
    await assert.rejects(client.request(Add, 'test.add', { a: 'x' } as unknown as { a: number; b: number }), (e: StrataError) => e.code === 'INVALID_MESSAGE');
  });

  it('replies INVALID_MESSAGE to a schema-violating payload and BAD_REQUEST to malformed JSON', async () => {
    const bad = await client.nc.request('test.add', new TextEncoder().encode('{"a":1,"b":"two"}'), { timeout: 1000 });
    const r1 = JSON.parse(new TextDecoder().decode(bad.data)) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(r1.ok, false);
    assert.equal(r1.error.code, 'INVALID_MESSAGE');
    assert.match(r1.error.message, /\/b/);
    const junk = await client.nc.request('test.add', new TextEncoder().encode('{not json'), { timeout: 1000 });
    const r2 = JSON.parse(new TextDecoder().decode(junk.data)) as { ok: boolean; error: { code: string } };
    assert.equal(r2.error.code, 'BAD_REQUEST');
    const bytes = await client.nc.request('test.add', new Uint8Array([0xff, 0xfe, 0x00]), { timeout: 1000 });
    assert.equal((JSON.parse(new TextDecoder().decode(bytes.data)) as { error: { code: string } }).error.code, 'BAD_REQUEST');
    // Nested 5000 deep in a field the schema does not look at: refused before anything recurses.
    const deep = await client.nc.request('test.add', new TextEncoder().encode(`{"a":1,"b":2,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`), { timeout: 1000 });
    const r3 = JSON.parse(new TextDecoder().decode(deep.data)) as { error: { code: string; message: string } };
    assert.equal(r3.error.code, 'INVALID_MESSAGE');
    assert.match(r3.error.message, /nested deeper than 32/);
    // still serving, and the failures were logged
    assert.deepEqual(await client.request(Add, 'test.add', { a: 1, b: 1 }), { sum: 2 });
    assert.ok(serverLog.lines().some((l) => l['code'] === 'INVALID_MESSAGE'));
  });

  it('carries handler errors as codes: StrataError keeps its code, anything else is INTERNAL', async () => {
    await assert.rejects(client.request(Add, 'test.add', { a: -1, b: 0 }), (e: StrataError) => e.code === 'FORBIDDEN' && /negative/.test(e.message));
    await assert.rejects(client.request(Add, 'test.add', { a: 13, b: 0 }), (e: StrataError) => e.code === 'INTERNAL');
    await assert.rejects(client.request(Add, 'test.add', { a: 99, b: 0 }), (e: StrataError) => e.code === 'INTERNAL' && /invalid response/.test(e.message));
  });

  it('logs a refusal at warn, a fault of ours at error, and CAPACITY (the caller tries elsewhere) at info', async () => {
    await assert.rejects(client.request(Add, 'test.add', { a: 1000, b: 0 }), (e: StrataError) => e.code === 'CAPACITY');
    const levelOf = (code: string) => serverLog.lines().find((l) => l['code'] === code)?.['level'];
    assert.equal(levelOf('CAPACITY'), 30);
    assert.equal(levelOf('FORBIDDEN'), 40);
    assert.equal(levelOf('INTERNAL'), 50);
  });

  it('maps no responder to UNAVAILABLE and silence to TIMEOUT', async () => {
    await assert.rejects(client.request(Add, 'test.nobody', { a: 1, b: 1 }), (e: StrataError) => e.code === 'UNAVAILABLE');
    const mute = server.nc.subscribe('test.mute', { callback: () => undefined });
    await server.nc.flush();
    await assert.rejects(client.request(Add, 'test.mute', { a: 1, b: 1 }, { timeoutMs: 200 }), (e: StrataError) => e.code === 'TIMEOUT');
    mute.unsubscribe();
  });

  it('drops a reply that comes after its timeout, keeps serving, and fails what waits when the connection closes', async () => {
    const held: Msg[] = [];
    const late = server.nc.subscribe('test.late', { callback: (_err, m) => void held.push(m) });
    await server.nc.flush();
    await assert.rejects(client.request(Add, 'test.late', { a: 1, b: 1 }, { timeoutMs: 100 }), (e: StrataError) => e.code === 'TIMEOUT');
    held[0]!.respond(new TextEncoder().encode('{"ok":true,"data":{"sum":99}}')); // nobody waits for it any more
    server.serve(Add, 'test.add2', ({ a, b }) => ({ sum: a + b }));
    await server.nc.flush();
    assert.deepEqual(await client.request(Add, 'test.add2', { a: 2, b: 3 }), { sum: 5 }, 'the late reply went nowhere');
    const other = await Bus.connect({ servers: nats.url, name: 'closing', logger: memoryLogger().log });
    const waiting = other.request(Add, 'test.late', { a: 1, b: 1 }, { timeoutMs: 10_000 });
    await other.nc.flush();
    await other.nc.close();
    await assert.rejects(waiting, (e: StrataError) => e.code === 'UNAVAILABLE' && /closed/.test(e.message));
    late.unsubscribe();
  });

  it('delivers valid events and drops invalid ones without stopping the subscription', async () => {
    const got: number[] = [];
    const sub = server.subscribe(Ping, 'test.ping', ({ n }) => {
      if (n === 2) throw new Error('handler bug');
      got.push(n);
    });
    await server.nc.flush();
    client.publish(Ping, 'test.ping', { n: 1 });
    client.nc.publish('test.ping', new TextEncoder().encode('{"n":"x"}'));
    client.nc.publish('test.ping', new TextEncoder().encode('garbage'));
    client.nc.publish('test.ping', new TextEncoder().encode(`{"n":5,"x":${'['.repeat(5000)}${']'.repeat(5000)}}`));
    client.publish(Ping, 'test.ping', { n: 2 });
    client.publish(Ping, 'test.ping', { n: 3 });
    // One publisher, one subscription: delivery is in order, so once 4 is in, the rest were handled.
    client.publish(Ping, 'test.ping', { n: 4 });
    await until('the last event', () => got.includes(4));
    assert.deepEqual(got, [1, 3, 4]);
    assert.ok(
      serverLog.lines().some((l) => l['level'] === 40 && /dropped unreadable test.ping event: payload is nested deeper than 32/.test(String(l['msg']))),
    );
    assert.throws(
      () => client.publish(Ping, 'test.ping', { n: 1.5 }),
      (e: StrataError) => e.code === 'INVALID_MESSAGE',
    );
    sub.unsubscribe();
  });

  it('delivers each message to one member of a queue group', async () => {
    const counts = [0, 0];
    let done = false;
    const subs = [0, 1].map((i) => server.subscribe(Ping, 'test.q', () => void counts[i]!++, { queue: 'workers' }));
    subs.push(server.subscribe(Ping, 'test.q.done', () => void (done = true)));
    await server.nc.flush();
    for (let n = 0; n < 50; n++) client.publish(Ping, 'test.q', { n });
    // Published after the 50 on the same connection, delivered after them on the same one.
    client.publish(Ping, 'test.q.done', { n: 0 });
    await until('the end marker', () => done);
    assert.equal(counts[0]! + counts[1]!, 50, `each message once: ${counts.join(' + ')}`);
    for (const s of subs) s.unsubscribe();
  });

  it('carries the trace context in NATS headers', async () => {
    let seen: string | undefined;
    const Echo = defineRpc('test.echo', Type.Object({}), Type.Object({ traceId: Type.String() }));
    server.serve(Echo, 'test.echo', () => ({ traceId: (seen = trace.getActiveSpan()?.spanContext().traceId ?? '') }));
    await server.nc.flush();
    const tracer = trace.getTracer('test');
    const clientTrace = await tracer.startActiveSpan('root', async (span) => {
      await client.request(Echo, 'test.echo', {});
      span.end();
      return span.spanContext().traceId;
    });
    assert.ok(seen && /^[0-9a-f]{32}$/.test(seen) && seen !== '00000000000000000000000000000000');
    assert.equal(seen, clientTrace);
  });

  it('keeps typed KV values with compare-and-set', async () => {
    const kv = await client.kv('test-items', Item);
    assert.notEqual(await kv.create('a.b', { name: 'x', count: 1 }), null);
    assert.equal(await kv.create('a.b', { name: 'y', count: 2 }), null, 'second create loses');
    const e = await kv.get('a.b');
    assert.deepEqual(e?.value, { name: 'x', count: 1 });
    assert.notEqual(await kv.update('a.b', { name: 'x', count: 2 }, e!.revision), null);
    assert.equal(await kv.update('a.b', { name: 'x', count: 3 }, e!.revision), null, 'stale revision loses');
    await assert.rejects(kv.put('a.c', { name: 'z' } as unknown as { name: string; count: number }), (err: StrataError) => err.code === 'INVALID_MESSAGE');
    await kv.raw.put('a.bad', new TextEncoder().encode('{"name":1}'));
    assert.equal(await kv.get('a.bad'), null, 'an invalid stored value reads as absent');
    assert.deepEqual((await kv.keys('a.*')).sort(), ['a.b', 'a.bad']);
    const cur = await kv.get('a.b');
    assert.equal(await kv.erase('a.b', e!.revision), false, 'a stale revision erases only older history; the newer value stays');
    assert.deepEqual((await kv.get('a.b'))?.value, { name: 'x', count: 2 });
    assert.equal(await kv.erase('a.b', cur!.revision), true);
    assert.equal(await kv.get('a.b'), null);
    assert.equal(await kv.erase('a.b', cur!.revision), true, 'erased already: still gone');
    assert.equal(await kv.erase('a.bad'), true);
    // Erased keys leave no delete marker behind: the stream is empty again, and create works anew.
    const info = await (await client.nc.jetstreamManager()).streams.info(kv.stream);
    assert.equal(info.state.messages, 0);
    assert.notEqual(await kv.create('a.b', { name: 'again', count: 1 }), null);
  });

  it('erases one revision of a bucket that keeps several only with the older history, not the newer value', async () => {
    // A history-1 bucket erases by the revision's sequence (one message per key); one that keeps more must not.
    const kv = await client.kv('test-history', Item, { history: 3 });
    const r1 = await kv.create('h.k', { name: 'one', count: 1 });
    assert.ok(r1);
    const r2 = await kv.update('h.k', { name: 'two', count: 2 }, r1);
    assert.ok(r2);
    const r3 = await kv.update('h.k', { name: 'three', count: 3 }, r2);
    assert.ok(r3);
    assert.equal(await kv.erase('h.k', r2), false, 'the value written after r2 stays');
    assert.deepEqual((await kv.get('h.k'))?.value, { name: 'three', count: 3 });
    const jsm = await client.nc.jetstreamManager();
    assert.equal((await jsm.streams.info(kv.stream)).state.messages, 1, 'r1 and r2 are gone');
    assert.equal(await kv.erase('h.k', r3), true);
    assert.equal((await jsm.streams.info(kv.stream)).state.messages, 0);
  });

  it('lists keys and entries while other keys are written and erased: every listing ends and holds the key that stays', async () => {
    // A listing built on an ordered consumer waits for a message saying nothing is pending; when the
    // messages it was created for are erased before delivery, that message never comes. Writes and
    // erases from another connection race 2,000 listings here; one such listing in a few hundred hung.
    const writer = await server.kv('test-race', Item);
    const reader = await client.kv('test-race', Item);
    await writer.put('r.stays', { name: 'stays', count: 0 });
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing; i++) {
        const key = `r.k${i % 3}`;
        const rev = await writer.put(key, { name: key, count: i });
        if (i % 2) await writer.erase(key, rev);
      }
    })();
    const hung = Symbol('hung');
    const bounded = <T>(p: Promise<T>): Promise<T | typeof hung> =>
      Promise.race([p, new Promise<typeof hung>((resolve) => setTimeout(resolve, 5000, hung).unref())]);
    try {
      for (let n = 0; n < 2000; n++) {
        const [keys, entries] = await Promise.all([bounded(reader.keys('r.*')), bounded(reader.list('r.*'))]);
        assert.notEqual(keys, hung, `listing ${n} of keys never ended`);
        assert.notEqual(entries, hung, `listing ${n} of entries never ended`);
        assert.ok((keys as string[]).includes('r.stays'), `listing ${n}: ${String(keys)}`);
        assert.deepEqual((entries as { key: string; value: { name: string } }[]).find((e) => e.key === 'r.stays')?.value.name, 'stays');
      }
    } finally {
      writing = false;
      await writes;
    }
  });

  it('asks again while a clustered JetStream has no meta leader (503, err_code 10008), and only then', async () => {
    const real = await server.kv('test-election', Item);
    await real.put('e.one', { name: 'one', count: 1 });
    const jsm = await server.nc.jetstreamManager();
    // The answer a clustered nats-server gives while its meta group elects a leader, as nats.js raises it.
    const unavailable = (): Error =>
      Object.assign(new Error('503'), { code: '503', api_error: { code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' } });
    let failuresLeft = 0;
    let calls = 0;
    const electing = new Proxy(jsm.streams, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'info' || typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls++;
          if (failuresLeft-- > 0) return Promise.reject(unavailable());
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const flakyJsm = new Proxy(jsm, { get: (t, p, r) => (p === 'streams' ? electing : Reflect.get(t, p, r)) });
    const kvLog = memoryLogger();
    const patient = new TypedKv(real.raw, 'test-election', Item, kvLog.log, flakyJsm, 1, 2000);
    failuresLeft = 3;
    assert.deepEqual(
      (await patient.list('e.*')).map((e) => e.key),
      ['e.one'],
    );
    assert.equal(calls, 4, 'three 503s, then the answer');
    assert.equal(kvLog.lines().filter((l) => /no meta leader/.test(String(l['msg']))).length, 3);
    // The wait is bounded: an election that outlasts it reaches the caller as the server's error.
    const hasty = new TypedKv(real.raw, 'test-election', Item, kvLog.log, flakyJsm, 1, 250);
    failuresLeft = 1000;
    await assert.rejects(hasty.keys('e.*'), (err: { api_error?: { err_code?: number } }) => err.api_error?.err_code === 10008);
    // Any other failure is not an election: a missing stream is said at once.
    failuresLeft = 0;
    calls = 0;
    const missing = new TypedKv(real.raw, 'test-no-such-bucket', Item, kvLog.log, flakyJsm, 1, 2000);
    await assert.rejects(missing.list(), /stream not found/);
    assert.equal(calls, 1);
  });

  it('counts a stream whose last sequence went back as another generation (a clustered memory stream restarted everywhere)', async () => {
    const real = await client.kv('test-generation', Item);
    const jsm = await client.nc.jetstreamManager();
    // The stream as such a restart leaves it: the same creation time, its sequence from 0 again.
    let lastSeqOverride: number | undefined;
    const streams = new Proxy(jsm.streams, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'info' || typeof v !== 'function') return v;
        return async (...args: unknown[]) => {
          const info = (await (v as (...a: unknown[]) => Promise<{ state: { last_seq: number } }>).apply(target, args)) as { state: { last_seq: number } };
          return lastSeqOverride === undefined ? info : { ...info, state: { ...info.state, last_seq: lastSeqOverride } };
        };
      },
    });
    const restarted = new Proxy(jsm, { get: (t, p, r) => (p === 'streams' ? streams : Reflect.get(t, p, r)) });
    const kv = new TypedKv(real.raw, 'test-generation', Item, memoryLogger().log, restarted);
    await kv.put('a', { name: 'a', count: 1 });
    await kv.put('b', { name: 'b', count: 1 });
    const first = await kv.generation();
    assert.equal(await kv.generation(), first);
    lastSeqOverride = 0;
    const second = await kv.generation();
    assert.notEqual(second, first, 'the sequence went back: messages were lost');
    assert.equal(await kv.generation(), second, 'once: the sequence it went back to is the new floor');
  });

  it('drains: in-flight requests finish, then the connection closes', async () => {
    const slow = await Bus.connect({ servers: nats.url, name: 'slow', logger: memoryLogger().log });
    let started = false;
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    slow.serve(Add, 'test.slow', async ({ a, b }) => {
      started = true;
      await released;
      return { sum: a + b };
    });
    await slow.nc.flush();
    const pending = client.request(Add, 'test.slow', { a: 1, b: 2 });
    await until('the handler to start', () => started);
    let drained = false;
    const draining = slow.drain().then(() => (drained = true));
    await slow.nc.flush().catch(() => undefined);
    assert.equal(drained, false, 'drain waits for the handler in flight');
    release();
    await draining;
    assert.deepEqual(await pending, { sum: 3 });
    assert.ok(slow.nc.isClosed());
  });
});

// A connect that never settles fails the test at its timeout instead of hanging the suite.
describe('the first connection of a service (waitOnFirstConnect)', { timeout: 30_000 }, () => {
  it('says in the log that NATS is not reachable yet, and connects once a server comes up', async () => {
    const port = await freePort();
    const logs = memoryLogger();
    let settled = false;
    const connecting = Bus.connect({ servers: `nats://127.0.0.1:${port}`, name: 'early', logger: logs.log, waitOnFirstConnect: true }).finally(
      () => (settled = true),
    );
    await until('a warning that NATS is not reachable', () => logs.lines().some((l) => l['msg'] === 'NATS not reachable yet; trying again'));
    assert.equal(settled, false, 'still trying while no server answers');
    const late = await startNatsServer({ port, jetstream: false });
    try {
      const connected = await connecting;
      assert.ok(!connected.nc.isClosed());
      assert.ok(logs.lines().some((l) => l['msg'] === 'connected to NATS'));
      await connected.drain();
    } finally {
      await late.stop();
    }
  });

  it('fails at once, and says why, when the server refuses the credentials', async () => {
    const secured = await startNatsServer({ jetstream: false, args: ['--user', 'media', '--pass', 'right'] });
    const logs = memoryLogger();
    try {
      await assert.rejects(
        Bus.connect({ servers: secured.url, name: 'wrong', logger: logs.log, waitOnFirstConnect: true, user: 'media', pass: 'wrong' }),
        (err: { code?: string }) => err.code === 'AUTHORIZATION_VIOLATION',
      );
      assert.ok(!logs.lines().some((l) => l['msg'] === 'NATS not reachable yet; trying again'), 'refused credentials are not tried again');
      const fatal = logs.lines().find((l) => l['msg'] === "NATS refused this service's credentials");
      assert.equal(fatal?.['user'], 'media');
      const good = await Bus.connect({
        servers: secured.url,
        name: 'right',
        logger: memoryLogger().log,
        waitOnFirstConnect: true,
        user: 'media',
        pass: 'right',
      });
      await good.drain();
    } finally {
      await secured.stop();
    }
  });
});

describe('a nats-server restarted without its JetStream state', { timeout: 30_000 }, () => {
  it('tells the bus it reconnected, and generation() makes the lost bucket again under a new generation', async () => {
    const port = await freePort();
    let nats = await startNatsServer({ port });
    const log = memoryLogger();
    const bus = await Bus.connect({ servers: nats.url, name: 'restart', logger: log.log });
    try {
      let reconnects = 0;
      const off = bus.onReconnect(() => reconnects++);
      bus.onReconnect(() => {
        throw new Error('a listener that throws');
      });
      const kv = await bus.kv('test-restart', Item);
      await kv.put('a', { name: 'a', count: 1 });
      const first = await kv.generation();
      assert.equal(await kv.generation(), first, 'the same bucket: the same generation');

      await nats.stop(); // its temporary store goes with it
      nats = await startNatsServer({ port });
      await until('the reconnect', () => reconnects === 1, 15_000);
      assert.ok(
        log.lines().some((l) => l['msg'] === 'NATS reconnect listener failed'),
        'a throwing listener is logged, and the others still ran',
      );
      const second = await kv.generation();
      assert.notEqual(second, first, 'made again: another generation');
      assert.ok(log.lines().some((l) => /KV bucket test-restart was gone from NATS: made again/.test(String(l['msg']))));
      assert.equal(await kv.get('a'), null, 'what it held is gone');
      assert.equal(typeof (await kv.create('a', { name: 'a', count: 2 })), 'number', 'and it takes writes again');
      assert.equal(await kv.generation(), second);
      off();
    } finally {
      await bus.drain();
      await nats.stop();
    }
  });

  it('keeps the churned buckets in memory: a plain restart loses them, not the file ones, and an old file bucket is named in the log', async () => {
    const port = await freePort();
    const storeDir = mkdtempSync(join(tmpdir(), 'strata-bus-storage-'));
    let nats = await startNatsServer({ port, storeDir });
    const log = memoryLogger();
    const bus = await Bus.connect({ servers: nats.url, name: 'storage', logger: log.log });
    try {
      const peers = await bus.kv(buckets.peers, Item);
      const recordings = await bus.kv(buckets.recordings, Item);
      assert.equal((await peers.raw.status()).storage, StorageType.Memory);
      assert.equal((await recordings.raw.status()).storage, StorageType.File);
      await peers.put('a', { name: 'a', count: 1 });
      await recordings.put('a', { name: 'a', count: 1 });
      const before = [await peers.generation(), await recordings.generation()];

      await nats.stop();
      nats = await startNatsServer({ port, storeDir }); // the same store
      await until('the reconnect', () => log.lines().some((l) => l['natsStatus'] === 'reconnect'), 15_000);
      assert.notEqual(await peers.generation(), before[0], 'the memory bucket was lost');
      assert.equal(await peers.get('a'), null);
      assert.equal(await recordings.generation(), before[1], 'the file bucket was not');
      assert.equal((await recordings.get('a'))?.value.count, 1);

      // A bucket someone made on file before: used as it is, and said so once.
      const jsm = await bus.nc.jetstreamManager();
      await jsm.streams.delete(`KV_${buckets.rooms}`).catch(() => undefined);
      await bus.kv(buckets.rooms, Item, { storage: 'file' });
      const other = await Bus.connect({ servers: nats.url, name: 'storage-2', logger: log.log });
      await other.kv(buckets.rooms, Item);
      await other.kv(buckets.rooms, Item);
      await other.drain();
      const warned = log.lines().filter((l) => /KV bucket strata-rooms is on file storage, not memory/.test(String(l['msg'])));
      assert.equal(warned.length, 1, 'once per bucket and connection');
    } finally {
      await bus.drain();
      await nats.stop();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});
