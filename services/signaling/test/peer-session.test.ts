import { MemoryKv } from '@strata/bus';
import { MediaConsume, MediaProduce, MediaTransportCreate, PEER_MEDIA_LIMITS, PeerMedia, PeerRecord, StrataError, check, type RpcDef } from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MediaNodes } from '../src/media-client.js';
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
    storeGeneration: () => kv.generation(),
  };
  const session = new PeerSession(deps as unknown as SessionDeps, { ...record }, revision, { transports: [], producers: [], consumers: [] });
  session.generation = await kv.generation();
  return { kv, store, session, lost };
}

describe('PeerSession and a peer store lost with its nats-server', () => {
  it('writes its record again when the bucket is another generation: a lost bucket is not a removal', async () => {
    const { kv, session, lost } = await setup();
    kv.wipe();
    session.record = { ...session.record, connected: false, disconnectedAt: 7 };
    assert.equal(await session.persist(), true);
    assert.equal(kv.peek(KEY)?.value.disconnectedAt, 7);
    assert.equal(kv.peek(KEY)?.revision, session.revision);
    assert.equal(session.generation, await kv.generation());
    assert.deepEqual(lost, []);
  });

  it('takes a record erased in the same generation as removed elsewhere, and writes nothing', async () => {
    const { kv, session, lost } = await setup();
    await kv.erase(KEY);
    session.record = { ...session.record, connected: false };
    assert.equal(await session.persist(), false);
    assert.equal(kv.peek(KEY), null);
    assert.deepEqual(lost, ['ended']);
  });

  it('restore() writes the record once per new generation, and not over one written since', async () => {
    const { kv, session } = await setup();
    assert.equal(await session.restore(await kv.generation()), false, 'same generation: nothing to do');
    kv.wipe();
    const generation = await kv.generation();
    assert.equal(await session.restore(generation), true);
    assert.equal(kv.peek(KEY)?.revision, session.revision);
    assert.equal(await session.restore(generation), false, 'once');
    kv.wipe();
    await kv.create(KEY, { ...record, gatewayId: 'g2' });
    assert.equal(await session.restore(await kv.generation()), false, 'a record written since stays');
    assert.equal(kv.peek(KEY)?.value.gatewayId, 'g2');
  });
});

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

/** Media nodes that answer every create with a fresh id, and count what they were asked to create. */
function mediaNodes() {
  const created = { transports: 0, producers: 0, consumers: 0 };
  let n = 0;
  const request = async (def: RpcDef): Promise<unknown> => {
    const id = `id-${++n}`;
    if (def === MediaTransportCreate) return (created.transports++, { transportId: id });
    if (def === MediaProduce) return (created.producers++, { producerId: id });
    if (def === MediaConsume) return (created.consumers++, { consumerId: id });
    throw new Error(`unexpected ${def.name}`);
  };
  const media = { node: (nodeId: string) => ({ nodeId, request }) } as unknown as MediaNodes;
  return { media, created };
}

async function sessionOnNode() {
  const { store } = await setup();
  const { media, created } = mediaNodes();
  const deps = {
    gatewayId: 'g1',
    store,
    media,
    hub: { publish: () => undefined },
    log: createLogger({ service: 'test', region: 't', nodeId: 'g1', level: 'silent' }),
    lost: () => undefined,
  };
  const session = new PeerSession(deps as unknown as SessionDeps, { ...record }, 1, { transports: [], producers: [], consumers: [] });
  return { session, created };
}

const capacity = (what: string) => (e: unknown) =>
  e instanceof StrataError && e.code === 'CAPACITY' && new RegExp(`at most \\d+ ${what} per peer`).test(e.message);

describe('PeerSession per-peer limits (PEER_MEDIA_LIMITS, shared with the PeerMedia schema)', () => {
  it('creates transports up to the limit and refuses the next one without asking the node', async () => {
    const { session, created } = await sessionOnNode();
    for (let i = 0; i < PEER_MEDIA_LIMITS.transports; i++) await session.handle('createWebRtcTransport', { direction: i === 0 ? 'send' : 'recv' });
    await assert.rejects(session.handle('createWebRtcTransport', { direction: 'recv' }), capacity('transports'));
    assert.equal(created.transports, PEER_MEDIA_LIMITS.transports);
    assert.ok(check(PeerMedia, session.own).ok, 'a peer at the limit fits the schema that resumes it');
  });

  it('refuses a producer and a consumer past the limit', async () => {
    const { session, created } = await sessionOnNode();
    const send = (await session.handle('createWebRtcTransport', { direction: 'send' })).transportId;
    const recv = (await session.handle('createWebRtcTransport', { direction: 'recv' })).transportId;
    const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }] };
    const produce = () => session.handle('produce', { transportId: send, kind: 'audio', rtpParameters } as Parameters<typeof session.handle<'produce'>>[1]);
    for (let i = 0; i < PEER_MEDIA_LIMITS.producers; i++) await produce();
    await assert.rejects(produce(), capacity('producers'));
    assert.equal(created.producers, PEER_MEDIA_LIMITS.producers);

    const consume = () => session.handle('consume', { transportId: recv, producerId: 'someone-else', rtpCapabilities: {} });
    for (let i = 0; i < PEER_MEDIA_LIMITS.consumers; i++) await consume();
    await assert.rejects(consume(), capacity('consumers'));
    assert.equal(created.consumers, PEER_MEDIA_LIMITS.consumers);
    assert.ok(check(PeerMedia, session.own).ok, 'a peer at every limit fits the schema that resumes it');
  });
});
