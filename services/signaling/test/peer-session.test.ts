import { MemoryKv } from '@strata/bus';
import { PeerRecord } from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerSession, type SessionDeps } from '../src/peer-session.js';
import { PeerStore } from '../src/peer-store.js';

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
  const kv = new MemoryKv<PeerRecord>({ schema: PeerRecord });
  const store = new PeerStore(kv);
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
    assert.equal(kv.peek(KEY)?.value.connected, true);
    assert.equal(kv.peek(KEY)?.revision, session.revision);
    assert.deepEqual(lost, []);
  });

  it('loses to a takeover: its write fails, the new holder keeps the record, and the session is given up as moved', async () => {
    const { kv, session, lost } = await setup();
    const taken = kv.peek(KEY)!;
    await kv.update(KEY, { ...taken.value, gatewayId: 'g2', resumeHash: 'b'.repeat(64) }, taken.revision);
    session.record = { ...session.record, connected: false, disconnectedAt: 9 };
    assert.equal(await session.persist(), false);
    assert.equal(kv.peek(KEY)?.value.gatewayId, 'g2');
    assert.equal(kv.peek(KEY)?.value.connected, true, 'the stale socket-lost mark did not land');
    assert.deepEqual(lost, ['moved']);
  });

  it('is given up as ended when another gateway claimed it for removal (hash cleared) or erased it', async () => {
    const { kv, session, lost } = await setup();
    const e = kv.peek(KEY)!;
    await kv.update(KEY, { ...e.value, gatewayId: 'g3', resumeHash: '' }, e.revision);
    assert.equal(await session.persist(), false);
    const again = await setup();
    await again.kv.erase(KEY);
    assert.equal(await again.session.persist(), false);
    assert.deepEqual([...lost, ...again.lost], ['ended', 'ended']);
  });

  it('keeps a session a sweep wrongly marked disconnected (same gateway, same hash): its own view wins', async () => {
    const { kv, session, lost } = await setup();
    const e = kv.peek(KEY)!;
    await kv.update(KEY, { ...e.value, connected: false, disconnectedAt: 3 }, e.revision);
    assert.equal(await session.persist(), true);
    assert.equal(kv.peek(KEY)?.value.connected, true);
    assert.deepEqual(lost, []);
  });

  it('writes nothing once ended', async () => {
    const { kv, session } = await setup();
    const before = kv.peek(KEY)!.revision;
    session.ended = true;
    assert.equal(await session.persist(), false);
    assert.equal(kv.peek(KEY)!.revision, before);
  });
});
