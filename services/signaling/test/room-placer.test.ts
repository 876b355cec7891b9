import { MemoryKv } from '@strata/bus';
import { MediaPeerClose, MediaRoomOpen, RoomPlacement, StrataError, type RequestOf } from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaDirectory } from '../src/media-directory.js';
import { PlacementStore } from '../src/placement-store.js';
import { RoomPlacer } from '../src/room-placer.js';
import { FakeMedia, latencies, mediaBeat, nextTurn, turns } from './fake-media.js';

const log = createLogger({ service: 'test', region: 't', nodeId: 'g1', level: 'silent' });
const ROOM = 'r';
const KEY = 't.r';

interface Setup {
  /** Live nodes and their load scores. */
  nodes?: Record<string, number>;
  legSize?: number;
  /** Seeds random latencies (1-4 turns) of every KV operation and media request; without, each takes one turn. */
  seed?: number;
}

function setup({ nodes = { a: 0, b: 0, c: 0 }, legSize = 0, seed }: Setup = {}) {
  const kv = new MemoryKv<RoomPlacement>({ schema: RoomPlacement, ...(seed ? { pause: latencies(seed) } : {}) });
  const media = new FakeMedia(seed ? latencies(seed * 7919) : undefined);
  // Listening for long enough that a node without a heartbeat is known to be gone.
  const directory = new MediaDirectory(1500, Date.now() - 60_000);
  for (const [id, score] of Object.entries(nodes)) directory.observe(mediaBeat(id, score));
  const store = new PlacementStore(kv, 't');
  const placer = new RoomPlacer(media, store, directory, { legSize, firstNodeWaitMs: 0 }, log);
  /** A join as the session manager does it: placed, then its leg confirmed. */
  const join = async (peerId: string) => {
    const a = await placer.join(ROOM, { peerId, identity: peerId });
    await placer.confirm(ROOM, a.nodeId);
    return a.nodeId;
  };
  const legs = () => kv.peek(KEY)?.value.nodes.map((n) => n.nodeId) ?? [];
  return { kv, media, directory, store, placer, join, legs };
}

/** Starts `f` after `n` turns of the event loop: how a race is shifted through its interleavings. */
async function after<T>(n: number, f: () => Promise<T>): Promise<T> {
  await turns(n);
  return f();
}

/** Runs of a race: each with its own latencies and its own head start for the second party. */
const RUNS = Array.from({ length: 300 }, (_, i) => ({ seed: i + 1, shift: i % 25 }));

describe('RoomPlacer', () => {
  it('opens a room on the least-loaded node and tells that leg its share', async () => {
    const { media, join, legs } = setup({ nodes: { a: 0.4, b: 0.1, c: 0.3 }, legSize: 5 });
    assert.equal(await join('p1'), 'b');
    assert.deepEqual(legs(), ['b']);
    const open = media.requests.find((r) => r.op === 'room.open')?.req as RequestOf<typeof MediaRoomOpen>;
    assert.equal(open.maxMembers, 5);
    assert.equal(open.legs, undefined, 'a first leg has no other legs to learn from');
  });

  it('two concurrent joins on a full leg open exactly one new leg, and both land on it', async () => {
    // Equal loads: each joiner, counting the leg it is about to open, would pick a different
    // node (b, then c). Only the compare-and-set on the placement keeps them on one new leg.
    const { media, join, legs } = setup({ legSize: 2 });
    await join('p1');
    await join('p2');
    assert.deepEqual(legs(), ['a']);
    const [n3, n4] = await Promise.all([join('p3'), join('p4')]);
    assert.equal(n3, n4, 'both joiners on the one new leg');
    assert.deepEqual(legs(), ['a', n3]);
    assert.deepEqual(media.nodesOf(ROOM).sort(), ['a', n3].sort());
    const opened = media.requests.filter((r) => r.op === 'room.open' && r.nodeId === n3).map((r) => r.req as RequestOf<typeof MediaRoomOpen>);
    assert.ok(
      opened.every((o) => o.legs?.join() === 'a' && o.maxMembers === 2),
      'the new leg is told the room is also on a, and its share',
    );
  });

  it('N concurrent joins with a share: no leg over its share, one leg per node, no leg more than needed', async () => {
    const { media, join, legs } = setup({ nodes: { a: 0, b: 0.01, c: 0.02, d: 0.03, e: 0.04, f: 0.05 }, legSize: 3 });
    const peers = Array.from({ length: 14 }, (_, i) => `p${i}`);
    const nodes = await Promise.all(peers.map((p) => join(p)));
    const placed = legs();
    assert.equal(new Set(placed).size, placed.length, `no node holds two legs: ${placed.join()}`);
    assert.equal(placed.length, 5, `14 members at 3 a leg need 5 legs: ${placed.join()}`);
    assert.deepEqual([...placed].sort(), media.nodesOf(ROOM).sort(), 'the placement names exactly the legs that hold members');
    for (const n of placed) assert.ok((media.peak.get(`${n}/${ROOM}`) ?? 0) <= 3, `leg ${n} never held more than 3`);
    assert.equal(
      placed.reduce((sum, n) => sum + media.members(n, ROOM).length, 0),
      14,
    );
    for (const [i, n] of nodes.entries()) assert.ok(media.members(n, ROOM).includes(`p${i}`), `p${i} is where its admission says`);
  });

  it('refuses with CAPACITY when every leg is full and every node is a leg', async () => {
    const { join } = setup({ nodes: { a: 0, b: 0 }, legSize: 1 });
    await Promise.all([join('p1'), join('p2')]);
    await assert.rejects(join('p3'), (err: StrataError) => err.code === 'CAPACITY');
  });

  it('a gateway that just started waits to hear the whole region before it refuses a join', async () => {
    const directory = new MediaDirectory(300, Date.now());
    directory.observe(mediaBeat('a'));
    const media = new FakeMedia();
    const placer = new RoomPlacer(media, new PlacementStore(new MemoryKv<RoomPlacement>(), 't'), directory, { legSize: 1, firstNodeWaitMs: 0 }, log);
    assert.equal((await placer.join(ROOM, { peerId: 'p1', identity: 'p1' })).nodeId, 'a');
    // b beats a moment later, within the first window: the second join, full on a, gets b.
    setTimeout(() => directory.observe(mediaBeat('b')), 50);
    assert.equal((await placer.join(ROOM, { peerId: 'p2', identity: 'p2' })).nodeId, 'b');
    // Warm now: a third join with every node a full leg is refused at once.
    await assert.rejects(placer.join(ROOM, { peerId: 'p3', identity: 'p3' }), (err: StrataError) => err.code === 'CAPACITY');
  });

  it('with no share, keeps a room on one leg until its node is at capacity', async () => {
    const { directory, join, legs } = setup({ nodes: { a: 0, b: 0.5 } });
    await Promise.all(['p1', 'p2', 'p3', 'p4'].map((p) => join(p)));
    assert.deepEqual(legs(), ['a']);
    directory.observe(mediaBeat('a', 1));
    assert.equal(await join('p5'), 'b');
    assert.deepEqual(legs(), ['a', 'b']);
  });

  it('spreads rooms opened together over equally loaded nodes (legs being opened count against their node)', async () => {
    const { media, placer } = setup({ nodes: { a: 0, b: 0, c: 0 } });
    const rooms = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    const nodes = await Promise.all(rooms.map(async (room) => (await placer.join(room, { peerId: `p-${room}`, identity: 'x' })).nodeId));
    const perNode = new Map<string, number>();
    for (const n of nodes) perNode.set(n, (perNode.get(n) ?? 0) + 1);
    assert.deepEqual([...perNode.values()], [2, 2, 2], JSON.stringify([...perNode]));
    assert.equal(media.requests.length, 6);
  });

  it('the last leave racing a join: whichever way they interleave, the joiner’s leg stays in the placement', async () => {
    for (const { seed, shift } of RUNS) {
      const { media, placer, join, legs, kv } = setup({ nodes: { a: 0, b: 0.5 }, seed });
      await join('p1');
      assert.deepEqual(legs(), ['a']);
      const [, node] = await Promise.all([placer.leave(ROOM, 'a', 'p1', log), after(shift, () => join('p2'))]);
      const run = `seed ${seed}, shift ${shift}`;
      assert.deepEqual(media.members(node, ROOM), ['p2'], run);
      assert.deepEqual(legs(), [node], `${run}: the joiner's leg is the room's placement`);
      // And when the joiner leaves too, nothing stays behind.
      await placer.leave(ROOM, node, 'p2', log);
      assert.equal(kv.size, 0, `${run}: the record is erased`);
    }
  });

  it('a member that comes and goes while the last leave releases the leg: nothing stays behind', async () => {
    for (const { seed, shift } of RUNS) {
      const { placer, join, kv } = setup({ nodes: { a: 0, b: 0.5 }, seed });
      await join('p1');
      await Promise.all([placer.leave(ROOM, 'a', 'p1', log), after(shift, async () => placer.leave(ROOM, await join('p2'), 'p2', log))]);
      assert.equal(kv.size, 0, `seed ${seed}, shift ${shift}: placement ${JSON.stringify(kv.peek(KEY)?.value.nodes)}`);
    }
  });

  it('the last leave of one leg racing a join onto it, beside another leg: the placement names exactly the legs with members', async () => {
    for (const { seed, shift } of RUNS) {
      const { media, placer, join, legs } = setup({ nodes: { a: 0, b: 0.5 }, legSize: 1, seed });
      await join('p1');
      await join('p2');
      assert.deepEqual(legs(), ['a', 'b']);
      await Promise.all([placer.leave(ROOM, 'a', 'p1', log), after(shift, () => join('p3'))]);
      assert.deepEqual(legs().sort(), media.nodesOf(ROOM).sort(), `seed ${seed}, shift ${shift}: placement ${legs().join()}`);
      assert.equal(media.members('a', ROOM).length + media.members('b', ROOM).length, 2);
    }
  });

  it('joins and leaves racing in one room with a share: the placement always ends naming exactly the legs with members', async () => {
    for (const { seed } of RUNS.slice(0, 100)) {
      const { media, placer, join, legs, kv } = setup({ nodes: { a: 0, b: 0.1, c: 0.2, d: 0.3 }, legSize: 2, seed });
      const first = await Promise.all(['p1', 'p2', 'p3', 'p4'].map((p) => join(p)));
      // p1 and p2 leave while p5..p7 join.
      await Promise.all([
        placer.leave(ROOM, first[0]!, 'p1', log),
        placer.leave(ROOM, first[1]!, 'p2', log),
        ...['p5', 'p6', 'p7'].map((p, i) => after(i, () => join(p))),
      ]);
      const run = `seed ${seed}: placement ${legs().join()}, members ${media.nodesOf(ROOM).join()}`;
      assert.deepEqual(legs().sort(), media.nodesOf(ROOM).sort(), run);
      for (const n of legs()) assert.ok((media.peak.get(`${n}/${ROOM}`) ?? 0) <= 2, run);
      for (const n of legs()) for (const p of media.members(n, ROOM)) await placer.leave(ROOM, n, p, log);
      assert.equal(kv.size, 0, run);
    }
  });

  it('removes a leg on a node known gone without asking it, and places the joiner elsewhere', async () => {
    const { media, directory, join, legs } = setup({ nodes: { a: 0, b: 0.5 } });
    await join('p1');
    assert.deepEqual(legs(), ['a']);
    directory.observe(mediaBeat('a', 0, 0, true)); // a drains
    const before = media.requestsTo('a').length;
    assert.equal(await join('p2'), 'b');
    assert.deepEqual(legs(), ['b']);
    assert.equal(media.requestsTo('a').length, before, 'nothing was asked of a');
  });

  it('removes a leg whose node has no responder, and places the joiner elsewhere', async () => {
    const { media, join, legs } = setup({ nodes: { a: 0, b: 0.1, c: 0.5, d: 0.6 }, legSize: 1 });
    await join('p1');
    await join('p2');
    assert.deepEqual(legs(), ['a', 'b']);
    media.dead.add('a');
    // Two joiners at once meet the dead leg; both remove it (one of them wins), neither fails.
    const nodes = await Promise.all([join('p3'), join('p4')]);
    assert.deepEqual(nodes.sort(), ['c', 'd']);
    assert.deepEqual(legs().sort(), ['b', 'c', 'd']);
  });

  it('keeps the leg of a node that is only slow, places the joiner elsewhere and closes what the slow node may have admitted', async () => {
    const { media, join, legs } = setup({ nodes: { a: 0, b: 0.5 } });
    await join('p1');
    media.stuck.add('a');
    assert.equal(await join('p2'), 'b');
    assert.deepEqual(legs(), ['a', 'b'], 'a is live (it beats): its members are still there');
    await nextTurn();
    const close = media.requests.find((r) => r.nodeId === 'a' && r.op === MediaPeerClose.name)?.req as RequestOf<typeof MediaPeerClose> | undefined;
    assert.equal(close?.peerId, 'p2');
  });

  it('a leave from a gone node asks it nothing, drops its leg and keeps the others', async () => {
    const { media, directory, placer, join, legs, kv } = setup({ nodes: { a: 0, b: 0.5 }, legSize: 1 });
    await join('p1');
    await join('p2');
    assert.deepEqual(legs(), ['a', 'b']);
    directory.observe(mediaBeat('a', 0, 0, true));
    const before = media.requestsTo('a').length;
    await placer.leave(ROOM, 'a', 'p1', log);
    assert.equal(media.requestsTo('a').length, before);
    assert.deepEqual(legs(), ['b']);
    await placer.leave(ROOM, 'b', 'p2', log);
    assert.equal(kv.size, 0);
  });

  it('a resume on a gone node fails at once with UNAVAILABLE, without asking it', async () => {
    const { media, directory, placer, join } = setup({ nodes: { a: 0 } });
    await join('p1');
    directory.observe(mediaBeat('a', 0, 0, true));
    const before = media.requests.length;
    await assert.rejects(placer.admit(ROOM, 'a', { peerId: 'p1', identity: 'p1' }), (err: StrataError) => err.code === 'UNAVAILABLE');
    assert.equal(media.requests.length, before);
  });
});
