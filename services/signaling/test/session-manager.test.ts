import { mintJoinToken } from '@strata/auth';
import { MemoryKv, type KvBucket } from '@strata/bus';
import { MediaRoomOpen, PeerRecord, RoomPlacement, StrataError, type RoomEvent } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLogger } from '../../../test/helpers/logger.js';
import { MediaDirectory } from '../src/media-directory.js';
import { PeerStore } from '../src/peer-store.js';
import { PlacementStore } from '../src/placement-store.js';
import { RoomHub, type RoomBus } from '../src/room-hub.js';
import { RoomPlacer } from '../src/room-placer.js';
import { SessionManager } from '../src/session-manager.js';
import { FakeMedia, mediaBeat } from './fake-media.js';

const GRACE = 30_000;

function peer(peerId: string, roomId: string, nodeId: string, gatewayId: string): PeerRecord {
  return {
    peerId,
    roomId,
    region: 't',
    identity: peerId,
    grants: { publish: true, subscribe: true, record: false, admin: false },
    nodeId,
    gatewayId,
    resumeHash: 'a'.repeat(64),
    connected: true,
    joinedAt: 1,
  };
}

const placement = (roomId: string, ...nodes: string[]): RoomPlacement => ({
  roomId,
  region: 't',
  nodes: nodes.map((nodeId) => ({ nodeId, region: 't', since: 1 })),
  createdAt: 1,
});

const SECRET = 'x'.repeat(16);

/** A gateway's session manager over the given KV buckets and media nodes, with one live media node and no TURN. */
function gatewayOver(o: {
  peers: KvBucket<PeerRecord>;
  rooms: KvBucket<RoomPlacement>;
  media: FakeMedia;
  liveNode: string;
  gatewayId: string;
  graceMs: number;
}) {
  const directory = new MediaDirectory(1500, Date.now() - 60_000);
  directory.observe(mediaBeat(o.liveNode));
  const published: RoomEvent[] = [];
  const roomBus = { subscribe: () => ({ unsubscribe: () => undefined }), publish: (_d: unknown, _s: string, e: RoomEvent) => void published.push(e) };
  const hub = new RoomHub(roomBus as unknown as RoomBus, 't');
  const logger = memoryLogger();
  const placer = new RoomPlacer(o.media, new PlacementStore(o.rooms, 't'), directory, { legSize: 0 }, logger.log);
  const turn = { request: () => Promise.reject(new StrataError('UNAVAILABLE', 'no TURN here')) };
  const manager = new SessionManager(
    turn,
    o.media,
    new PeerStore(o.peers),
    placer,
    hub,
    { region: 't', gatewayId: o.gatewayId, jwtSecret: SECRET, graceMs: o.graceMs, turn: false },
    logger.log,
  );
  return { manager, published, logger };
}

/** A gateway's session manager over KV and media nodes in memory, after its predecessor (g-old) crashed. */
async function setup() {
  const peersKv = new MemoryKv<PeerRecord>({ schema: PeerRecord });
  const roomsKv = new MemoryKv<RoomPlacement>({ schema: RoomPlacement });
  const media = new FakeMedia();
  media.dead.add('m-old'); // asked anyway, it would answer as a dead node does: no responder
  const { manager, published, logger } = gatewayOver({ peers: peersKv, rooms: roomsKv, media, liveNode: 'm-live', gatewayId: 'g-new', graceMs: GRACE });
  // Room r was on m-old, a media node that died with the gateway; room s is on a node still alive.
  for (const p of [peer('p1', 'r', 'm-old', 'g-old'), peer('p2', 'r', 'm-old', 'g-old'), peer('p3', 's', 'm-live', 'g-old')])
    await peersKv.create(`t.${p.roomId}.${p.peerId}`, p);
  await roomsKv.create('t.r', placement('r', 'm-old'));
  await roomsKv.create('t.s', placement('s', 'm-live'));
  await media.node('m-live').request(MediaRoomOpen, { roomId: 's', peer: { peerId: 'p3', identity: 'p3' } });
  media.requests.length = 0;
  return { peersKv, roomsKv, media, published, manager, logger };
}

describe('SessionManager and media nodes that are gone', () => {
  it('removes the records of peers on a gone node without asking it: one log line each, no stack trace', async () => {
    const { peersKv, roomsKv, media, published, manager, logger } = await setup();
    const removed = await manager.sweepIfDue(['g-new']);
    assert.equal(removed, 2, 'p1 and p2 go at once: their media went with their node, nothing is left to resume');
    assert.deepEqual(media.requestsTo('m-old'), [], 'nothing was asked of the gone node');
    assert.equal(peersKv.peek('t.r.p1'), null);
    assert.equal(peersKv.peek('t.r.p2'), null);
    assert.equal(roomsKv.peek('t.r'), null, 'the gone leg was the room’s last: the placement is erased');
    assert.deepEqual(
      published.filter((e) => e.type === 'peerLeft').map((e) => e.peerId),
      ['p1', 'p2'],
    );
    const lines = logger.lines();
    for (const p of ['p1', 'p2']) {
      const mine = lines.filter((l) => l['peerId'] === p && /peer left/.test(String(l['msg'])));
      assert.equal(mine.length, 1, `one line for ${p}: ${JSON.stringify(mine)}`);
      assert.equal(mine[0]!['level'], 30);
      assert.equal(mine[0]!['nodeId'], 'm-old');
    }
    assert.deepEqual(
      lines.filter((l) => l['err'] !== undefined || Number(l['level']) >= 40),
      [],
      'no warning, no error, no stack',
    );
    // p3's node is alive: the usual grace period, then it is removed through its node.
    assert.equal(peersKv.peek('t.s.p3')?.value.connected, false);
    assert.equal(await manager.sweepIfDue(['g-new'], Date.now() + GRACE + 1), 1);
    assert.deepEqual(media.requestsTo('m-live'), ['peer.close', 'peer.close'], 'closed, then asked again after its leg was released');
    assert.equal(peersKv.size, 0);
    assert.equal(roomsKv.size, 0);
  });
});

describe('SessionManager and a NATS that lost or refuses its KV state', () => {
  /** A gateway over KV in memory whose writes can be refused, as while NATS is down; two peers joined to room r, one to room s. */
  async function joined(graceMs = GRACE) {
    const peersKv = new MemoryKv<PeerRecord>({ schema: PeerRecord });
    const roomsKv = new MemoryKv<RoomPlacement>({ schema: RoomPlacement });
    const down = { on: false };
    const refusing = new Proxy(peersKv, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => (down.on ? Promise.reject(new Error('503')) : (v as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const media = new FakeMedia();
    const { manager, logger } = gatewayOver({ peers: refusing, rooms: roomsKv, media, liveNode: 'm1', gatewayId: 'g1', graceMs });
    await manager.start();
    const closed: number[] = [];
    const socket = { notify: () => undefined, close: (code: number) => void closed.push(code) };
    const sessions = [];
    for (const [room, identity] of [
      ['r', 'a'],
      ['r', 'b'],
      ['s', 'c'],
    ] as const)
      sessions.push((await manager.join({ token: await mintJoinToken(SECRET, { room, identity }) }, socket)).session);
    return { peersKv, roomsKv, down, manager, sessions, closed, logger, media };
  }

  it('writes every record and leg again once the buckets are another generation, and leaves the sessions alone', async () => {
    const { peersKv, roomsKv, manager, sessions, closed } = await joined();
    peersKv.wipe();
    roomsKv.wipe();
    await manager.storeGeneration();
    await waitUntil(() => peersKv.size === 3 && roomsKv.size === 2);
    for (const s of sessions) assert.equal(peersKv.peek(`t.${s.roomId}.${s.peerId}`)?.revision, s.revision);
    assert.deepEqual(
      roomsKv.peek('t.r')?.value.nodes.map((n) => n.nodeId),
      ['m1'],
    );
    assert.deepEqual(closed, [], 'no socket was closed');
    // A write after it lands on the revision written again.
    manager.socketLost(sessions[0]!);
    await sessions[0]!.settled();
    assert.equal(peersKv.peek(`t.r.${sessions[0]!.peerId}`)?.value.connected, false);
  });

  it('tries a removal NATS did not take again until it lands: no session held for ever, one warning', async () => {
    const { peersKv, down, manager, sessions, logger } = await joined(50);
    down.on = true;
    manager.socketLost(sessions[2]!);
    await new Promise((r) => setTimeout(r, 2600)); // the grace period, then at least two retries
    assert.equal(manager.size, 3, 'still held while NATS refuses');
    down.on = false;
    await waitUntil(() => manager.size === 2, 3000);
    assert.equal(peersKv.peek(`t.s.${sessions[2]!.peerId}`), null, 'its record erased');
    assert.equal(logger.lines().filter((l) => /session removal not recorded/.test(String(l['msg']))).length, 1);
  });
});

async function waitUntil(probe: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
