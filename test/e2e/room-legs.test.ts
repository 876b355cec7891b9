/**
 * A room over several media nodes (legs), as real processes: the gateway spreads one room's
 * members over the nodes by the per-leg share, and cleans up records of a node that died
 * without asking it.
 */
import { legsOf, peersOf } from '@strata/harness';
import { Heartbeat, PeerRecord, RoomPlacement, buckets, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { spawnService, waitFor } from '../helpers/processes.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

describe('a room over three media nodes', { timeout: 120_000 }, () => {
  let region: Region;

  before(async () => {
    region = await startRegion({ mediaNodes: 3, env: { SIGNALING_ROOM_LEG_SIZE: '2' } });
  });

  after(async () => {
    await region?.stop();
  });

  it('six peers joining at once fill three legs of two on three nodes; a seventh is refused; all gone, nothing is left', async () => {
    const sockets = await Promise.all(Array.from({ length: 6 }, () => RawSocket.open(region.wsUrl)));
    const joined = await Promise.all(sockets.map(async (s, i) => s.request('join', { token: await region.mintToken({ room: 'big', identity: `p${i}` }) })));
    assert.ok(
      joined.every((j) => j.ok),
      JSON.stringify(joined.filter((j) => !j.ok)),
    );

    const legs = await legsOf(region, 'big');
    assert.deepEqual([...(legs ?? [])].sort(), ['media-1', 'media-2', 'media-3'], `three legs on three distinct nodes: ${JSON.stringify(legs)}`);
    const perNode = new Map<string, number>();
    for (const nodeId of (await peersOf(region, 'big')).values()) perNode.set(nodeId, (perNode.get(nodeId) ?? 0) + 1);
    assert.deepEqual([...perNode].sort(), [
      ['media-1', 2],
      ['media-2', 2],
      ['media-3', 2],
    ]);
    // The nodes' own word: each has the room open (a router), as their heartbeats count.
    const since = Date.now();
    await waitFor('a router on every node', () =>
      ['media-1', 'media-2', 'media-3'].every((n) => {
        const b = region.heartbeats.get(n);
        return b && b.ts > since && Number(b.load.details['routers']) >= 1;
      })
        ? true
        : undefined,
    );

    const seventh = await RawSocket.open(region.wsUrl);
    const refused = await seventh.request('join', { token: await region.mintToken({ room: 'big', identity: 'p6' }) });
    assert.equal(refused.error?.code, 'CAPACITY', JSON.stringify(refused));
    seventh.close();

    await Promise.all(sockets.map(async (s) => assert.equal((await s.request('leave')).ok, true)));
    assert.equal(await legsOf(region, 'big'), undefined, 'the placement is erased with its last leg');
    assert.equal((await peersOf(region, 'big')).size, 0);
    const rooms = await region.bus.kv(buckets.rooms, RoomPlacement);
    assert.deepEqual(await rooms.keys(), [], 'no placement of any room is left');
  });
});

describe('a media node and its gateway die; the next gateway cleans up', { timeout: 120_000 }, () => {
  let region: Region;

  before(async () => {
    // A share of one: one room's two peers are on two legs, one on each node.
    region = await startRegion({ mediaNodes: 2, env: { SIGNALING_ROOM_LEG_SIZE: '1', SIGNALING_RESUME_GRACE: '2s', SIGNALING_SWEEP_INTERVAL: '500ms' } });
  });

  after(async () => {
    await region?.stop();
  });

  it('removes the peer and the leg of the dead node without asking it, and the other leg through its live node', async () => {
    const a = await RawSocket.open(region.wsUrl);
    const b = await RawSocket.open(region.wsUrl);
    for (const [s, identity] of [
      [a, 'a'],
      [b, 'b'],
    ] as const)
      assert.equal((await s.request('join', { token: await region.mintToken({ room: 'fall', identity }) })).ok, true);
    const placed = await peersOf(region, 'fall');
    const legs = await legsOf(region, 'fall');
    assert.equal(legs?.length, 2);
    const [dead, alive] = legs as [string, string];
    const onDead = [...placed].find(([, n]) => n === dead)![0];
    const onAlive = [...placed].find(([, n]) => n === alive)![0];

    // Both die at once, as when `npm run dev` is killed; then a gateway starts again (its restart).
    // The region starts media-1, media-2... in that order.
    const gateway = region.processes.find((p) => p.kind === 'signaling')!;
    const node = region.processes.filter((p) => p.kind === 'media')[Number(dead.replace('media-', '')) - 1]!;
    await Promise.all([gateway.kill9(), node.kill9()]);
    // Listening on the dead node's subjects: anything asked of it would arrive here (and get no answer).
    const asked: string[] = [];
    const probe = region.bus.nc.subscribe(subjects.mediaAll(region.region, dead), { callback: (_e, m) => void asked.push(m.subject) });
    await region.bus.nc.flush();

    const next = spawnService('signaling', {
      NATS_URL: region.natsUrl,
      STRATA_REGION: region.region,
      STRATA_NODE_ID: 'signaling-next',
      HTTP_PORT: '0',
      HEARTBEAT_INTERVAL: '500ms',
      SIGNALING_JWT_SECRET: region.jwtSecret,
      SIGNALING_RESUME_GRACE: '2s',
      SIGNALING_SWEEP_INTERVAL: '500ms',
    });
    region.processes.push(next);
    const beats: string[] = [];
    const sub = region.bus.subscribe(Heartbeat, subjects.heartbeats(region.region, 'signaling'), (hb) => void beats.push(hb.id));

    await waitFor('the next gateway to remove both peers', async () => ((await peersOf(region, 'fall')).size === 0 ? true : undefined), 40_000);
    await waitFor('the placement to go', async () => ((await legsOf(region, 'fall')) === undefined ? true : undefined), 10_000);
    assert.ok(beats.includes('signaling-next'));
    assert.deepEqual(asked, [], `nothing was asked of ${dead}`);
    const out = next.output();
    assert.ok(!out.includes('no responder'), 'no request to the dead node failed');
    const lines = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const left = lines.filter((l) => l['msg'] === 'peer left; its media node is gone, so it was not asked');
    assert.deepEqual(
      left.map((l) => [l['peerId'], l['nodeId'], l['level']]),
      [[onDead, dead, 30]],
    );
    assert.ok(
      lines.some((l) => l['peerId'] === onAlive && l['msg'] === 'peer left'),
      'the peer on the live node left through it',
    );
    assert.deepEqual(
      lines.filter((l) => l['peerId'] === onDead && (l['err'] !== undefined || Number(l['level']) >= 40)),
      [],
      'no warning, no stack trace',
    );
    probe.unsubscribe();
    sub.unsubscribe();
    a.terminate();
    b.terminate();
  });
});
