import { Type } from '@sinclair/typebox';
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { StrataError, defineEvent, defineRpc } from '@strata/protocol';
import { startTelemetry, type Telemetry } from '@strata/telemetry';
import { trace } from '@opentelemetry/api';
import type { Msg } from 'nats';
import assert from 'node:assert/strict';
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
