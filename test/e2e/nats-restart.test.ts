/**
 * A nats-server restarted mid-call: the peer records and placements are in memory buckets
 * (`memoryBuckets`), so they are gone (a wiped store does the same to every bucket). The call must go on, the
 * gateway must make the buckets again and write its sessions and legs back, and what needs
 * them afterwards must work: a newcomer joins the same media, a dropped socket resumes,
 * leaves erase what was written again.
 */
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { buckets } from '@strata/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodePeer, joinAs, type Totals } from '../helpers/node-peer.js';
import { waitFor } from '../helpers/processes.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'nats-restart-1';

describe('a nats-server restarted mid-call, its memory buckets lost', { timeout: 120_000 }, () => {
  let region: Region;
  let nats: NatsServer;
  const peers: NodePeer[] = [];
  const join = (name: string): Promise<NodePeer> => joinAs(region, ROOM, name, peers);
  const storeDir = mkdtempSync(joinPath(tmpdir(), 'strata-nats-restart-'));
  const natsOn = (port: number): Promise<NatsServer> => startNatsServer({ port, storeDir });
  /**
   * The keys a KV bucket's stream holds, read without making the bucket (the test must not do
   * the gateway's work): undefined while the stream does not exist.
   */
  const keysOf = async (bucket: string): Promise<string[] | undefined> => {
    const prefix = `$KV.${bucket}.`;
    try {
      const jsm = await region.bus.nc.jetstreamManager();
      const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
      return Object.keys(info.state.subjects ?? {})
        .map((s) => s.slice(prefix.length))
        .sort();
    } catch (err) {
      // Missing, or this test's own connection still coming back (a timeout, no responders): ask again.
      if (/stream not found|TIMEOUT|503/i.test(String(err)) || ['TIMEOUT', '503'].includes(String((err as { code?: unknown }).code))) return undefined;
      throw err;
    }
  };
  const grows = async (what: string, read: () => Totals[], by: number): Promise<void> => {
    const start = read().map((t) => t.packets);
    await waitFor(what, () => (read().every((t, i) => t.packets - start[i]! >= by) ? true : undefined), 15_000, 50);
  };
  const videoFrom = (p: NodePeer, from: NodePeer) => p.receivedFrom(from.peerId, 'video');

  before(async () => {
    nats = await natsOn(0);
    region = await startRegion({ nats, env: { SIGNALING_RESUME_GRACE: '5s' } });
  });

  after(async () => {
    await Promise.allSettled(peers.map((p) => p.leave()));
    await region?.stop();
    await nats?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('the call goes on, the gateway writes its sessions and legs again, and a newcomer, a resume and the leaves all work', async () => {
    const alice = await join('alice');
    const bob = await join('bob');
    await grows('video both ways', () => [videoFrom(alice, bob), videoFrom(bob, alice)], 10);
    const recordKeys = [`${region.region}.${ROOM}.${alice.peerId}`, `${region.region}.${ROOM}.${bob.peerId}`].sort();
    assert.deepEqual(await keysOf(buckets.peers), recordKeys);
    assert.deepEqual(await keysOf(buckets.rooms), [`${region.region}.${ROOM}`]);

    // The same address and store: the memory buckets are gone.
    await nats.stop();
    nats = await natsOn(nats.port);

    // The gateway notices on reconnect, makes the buckets again and writes back what it holds.
    await waitFor('the records written again', async () => ((await keysOf(buckets.peers))?.join() === recordKeys.join() ? true : undefined), 20_000, 200);
    await waitFor('the placement written again', async () => ((await keysOf(buckets.rooms))?.length === 1 ? true : undefined), 20_000, 200);
    await grows('video both ways after the restart', () => [videoFrom(alice, bob), videoFrom(bob, alice)], 10);

    // A newcomer finds the room where it is: same media, both peers listed, their video received.
    const carol = await join('carol');
    assert.deepEqual([...carol.room.peers.keys()].sort(), [alice.peerId, bob.peerId].sort());
    await grows('carol receives alice and bob', () => [videoFrom(carol, alice), videoFrom(carol, bob)], 10);
    await grows('alice receives carol', () => [videoFrom(alice, carol)], 10);

    // A dropped socket resumes from the record written again.
    const resumed = alice.room.next('resumed');
    alice.signaling.dropConnectionForTest();
    await Promise.race([resumed, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no resume: ${alice.events.join(', ')}`)), 10_000))]);
    await grows('bob receives alice after her resume', () => [videoFrom(bob, alice)], 10);
    assert.ok(!bob.events.some((e) => e.startsWith(`peerLeft:${alice.peerId}`)), `alice never left for bob: ${bob.events.join(', ')}`);

    // Leaves erase what was written again: nothing is left once the room is empty.
    for (const p of peers.splice(0)) await p.leave();
    await waitFor('no record left', async () => ((await keysOf(buckets.peers))?.length === 0 ? true : undefined), 10_000, 100);
    await waitFor('no placement left', async () => ((await keysOf(buckets.rooms))?.length === 0 ? true : undefined), 10_000, 100);
  });
});
