import { Type } from '@sinclair/typebox';
import { Bus, MemoryKv, type KvBucket } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { StrataError } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../../../test/helpers/logger.js';

const Item = Type.Object({ name: Type.String(), count: Type.Integer() }, { additionalProperties: false });
type Item = { name: string; count: number };

/** One script of compare-and-set moves; what each step answered, revisions included. */
async function script(kv: KvBucket<Item>): Promise<unknown[]> {
  const out: unknown[] = [];
  const r1 = await kv.create('r.a', { name: 'x', count: 1 });
  out.push(r1, await kv.create('r.a', { name: 'y', count: 1 }));
  const [c1, c2] = await Promise.all([kv.create('r.b', { name: 'b1', count: 1 }), kv.create('r.b', { name: 'b2', count: 1 })]);
  out.push([c1, c2].filter((r) => r === null).length, (await kv.get('r.b'))?.value.name === (c1 === null ? 'b2' : 'b1'));
  const r2 = await kv.update('r.a', { name: 'x', count: 2 }, r1!);
  out.push(r2, await kv.update('r.a', { name: 'x', count: 3 }, r1!), (await kv.get('r.a'))?.value);
  out.push(await kv.update('r.none', { name: 'n', count: 0 }, 1));
  out.push(await kv.erase('r.a', r1!), (await kv.get('r.a'))?.value, await kv.erase('r.a', r2!), await kv.get('r.a'));
  out.push(await kv.create('r.a', { name: 'again', count: 1 }));
  out.push(await kv.put('s.c.d', { name: 'deep', count: 1 }));
  out.push((await kv.keys('r.*')).sort(), (await kv.keys('>')).sort(), (await kv.keys('s.>')).sort(), (await kv.keys('s.*')).sort());
  const byKey = (a: { key: string }, b: { key: string }) => a.key.localeCompare(b.key);
  out.push((await kv.list('r.*')).sort(byKey), (await kv.list('s.>')).sort(byKey), await kv.list('t.*'));
  out.push(await kv.erase('s.c.d'), await kv.get('s.c.d'), await kv.keys('s.>'), await kv.list('s.>'));
  await assert.rejects(kv.put('r.z', { name: 'z' } as unknown as Item), (err: StrataError) => err.code === 'INVALID_MESSAGE');
  return out;
}

describe('MemoryKv keeps the rules of a JetStream bucket', () => {
  let nats: NatsServer;
  let bus: Bus;

  before(async () => {
    nats = await startNatsServer();
    bus = await Bus.connect({ servers: nats.url, name: 'memory-kv-test', logger: memoryLogger().log });
  });

  after(async () => {
    await bus.drain();
    await nats.stop();
  });

  it('answers the same compare-and-set script as TypedKv on a real nats-server, revision for revision', async () => {
    const real = await script(await bus.kv('memory-kv-parity', Item));
    const memory = await script(new MemoryKv<Item>({ schema: Item }));
    assert.deepEqual(memory, real);
    // The script really raced: the second create, the stale update and the stale erase lost.
    assert.equal(real[1], null);
    assert.equal(real[2], 1);
    assert.equal(real[5], null);
  });

  it('interleaves operations started together: two read-then-create writers both read absent', async () => {
    const kv = new MemoryKv<Item>();
    const writer = async (name: string) => ((await kv.get('k')) === null ? kv.create('k', { name, count: 1 }) : null);
    const results = await Promise.all([writer('a'), writer('b')]);
    assert.equal(results.filter((r) => r !== null).length, 1, 'both read absent; compare-and-set lets one win');
    assert.equal(kv.size, 1);
  });
});
