import type { TypedKv } from '@strata/bus';
import type { PeerRecord } from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerSession, type SessionDeps } from '../src/peer-session.js';
import { PeerStore } from '../src/peer-store.js';

/** A KV bucket in memory with JetStream's revision rules: one sequence for the bucket, compare-and-set on the key's last revision. */
class MemoryKv {
  private seq = 0;
  readonly entries = new Map<string, { value: PeerRecord; revision: number }>();

  async get(key: string) {
    const e = this.entries.get(key);
    return e ? { key, value: structuredClone(e.value), revision: e.revision } : null;
  }
  async create(key: string, value: PeerRecord) {
    if (this.entries.has(key)) return null;
    this.entries.set(key, { value: structuredClone(value), revision: ++this.seq });
    return this.seq;
  }
  async update(key: string, value: PeerRecord, revision: number) {
    if (this.entries.get(key)?.revision !== revision) return null;
    this.entries.set(key, { value: structuredClone(value), revision: ++this.seq });
    return this.seq;
  }
  async erase(key: string, upTo: number) {
    const e = this.entries.get(key);
    if (e && e.revision <= upTo) this.entries.delete(key);
    return !this.entries.has(key);
  }
}

const record: PeerRecord = {
  peerId: 'p1',
  roomId: 'r',
  region: 't',
  identity: 'alice',
  grants: { publish: true, subscribe: true, record: false, admin: false },
  nodeId: 'media-1',
  gatewayId: 'g1',
  resumeHash: 'a'.repeat(64),
  connected: true,
  joinedAt: 1,
};
const KEY = 't.r.p1';

async function setup() {
  const kv = new MemoryKv();
  const store = new PeerStore(kv as unknown as TypedKv<PeerRecord>);
  const revision = await store.create(record);
  const lost: string[] = [];
  const deps = {
    gatewayId: 'g1',
    store,
    log: createLogger({ service: 'test', region: 't', nodeId: 'g1', level: 'silent' }),
    lost: (_s: PeerSession, why: string) => lost.push(why),
  };
  const session = new PeerSession(deps as unknown as SessionDeps, { ...record }, revision, { transports: [], producers: [], consumers: [] });
  return { kv, store, session, lost };
}

describe('PeerSession record writes', () => {
  it('writes one after another, each on the revision the previous one produced', async () => {
    const { kv, session, lost } = await setup();
    session.record = { ...session.record, connected: false, disconnectedAt: 5 };
    const first = session.persist();
    session.record = { ...session.record, connected: true };
    const second = session.persist();
    assert.deepEqual(await Promise.all([first, second]), [true, true]);
    assert.equal(kv.entries.get(KEY)?.value.connected, true);
    assert.equal(kv.entries.get(KEY)?.revision, session.revision);
    assert.deepEqual(lost, []);
  });

  it('loses to a takeover: its write fails, the new holder keeps the record, and the session is given up as moved', async () => {
    const { kv, session, lost } = await setup();
    const taken = kv.entries.get(KEY)!;
    await kv.update(KEY, { ...taken.value, gatewayId: 'g2', resumeHash: 'b'.repeat(64) }, taken.revision);
    session.record = { ...session.record, connected: false, disconnectedAt: 9 };
    assert.equal(await session.persist(), false);
    assert.equal(kv.entries.get(KEY)?.value.gatewayId, 'g2');
    assert.equal(kv.entries.get(KEY)?.value.connected, true, 'the stale socket-lost mark did not land');
    assert.deepEqual(lost, ['moved']);
  });

  it('is given up as ended when another gateway claimed it for removal (hash cleared) or erased it', async () => {
    const { kv, session, lost } = await setup();
    const e = kv.entries.get(KEY)!;
    await kv.update(KEY, { ...e.value, gatewayId: 'g3', resumeHash: '' }, e.revision);
    assert.equal(await session.persist(), false);
    const again = await setup();
    again.kv.entries.clear();
    assert.equal(await again.session.persist(), false);
    assert.deepEqual([...lost, ...again.lost], ['ended', 'ended']);
  });

  it('keeps a session a sweep wrongly marked disconnected (same gateway, same hash): its own view wins', async () => {
    const { kv, session, lost } = await setup();
    const e = kv.entries.get(KEY)!;
    await kv.update(KEY, { ...e.value, connected: false, disconnectedAt: 3 }, e.revision);
    assert.equal(await session.persist(), true);
    assert.equal(kv.entries.get(KEY)?.value.connected, true);
    assert.deepEqual(lost, []);
  });

  it('writes nothing once ended', async () => {
    const { kv, session } = await setup();
    const before = kv.entries.get(KEY)!.revision;
    session.ended = true;
    assert.equal(await session.persist(), false);
    assert.equal(kv.entries.get(KEY)!.revision, before);
  });
});
