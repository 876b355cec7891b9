/**
 * A region that has seen many sessions is left exactly as a fresh one once its rooms are
 * empty: no KV key or delete marker, no room subscription or grace timer on the gateways, no
 * router or transport on the media node. Every way out is exercised: leave, a grace period
 * running out, a resume on the other gateway followed by leave, and a refused join.
 */
import { Heartbeat, buckets, subjects } from '@strata/protocol';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../helpers/processes.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

describe('nothing is left behind once the rooms are empty', { timeout: 120_000 }, () => {
  let region: Region;
  const beats = new Map<string, { kind: string; details: Record<string, unknown> }>();

  before(async () => {
    region = await startRegion({
      gateways: 2,
      env: { SIGNALING_RESUME_GRACE: '1s', MEDIA_ROOM_IDLE_TIMEOUT: '1s' },
    });
    region.bus.subscribe(Heartbeat, subjects.heartbeats(region.region), (b) => void beats.set(b.id, { kind: b.kind, details: b.load.details }));
  });

  after(async () => {
    await region?.stop();
  });

  async function streamMessages(bucket: string): Promise<number> {
    const jsm = await region.bus.nc.jetstreamManager();
    return (await jsm.streams.info(`KV_${bucket}`)).state.messages;
  }

  async function session(gateway: number, room: string, identity: string): Promise<{ socket: RawSocket; data: Record<string, unknown> }> {
    const socket = await RawSocket.open(region.gateways[gateway]!.wsUrl);
    const joined = await socket.request('join', { token: await region.mintToken({ room, identity }) });
    assert.equal(joined.ok, true, JSON.stringify(joined));
    for (const direction of ['send', 'recv']) assert.equal((await socket.request('createWebRtcTransport', { direction })).ok, true);
    return { socket, data: joined.data! };
  }

  it('counts every key, subscription, timer, router and transport back to zero', async () => {
    for (let round = 0; round < 5; round++) {
      const peers = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => session(i % 2, `churn-${round}-${i % 3}`, `u${i}`)));
      // Two leave, two drop their sockets and never return, two resume on the other gateway and then leave.
      for (const p of peers.slice(0, 2)) assert.equal((await p.socket.request('leave')).ok, true);
      for (const p of peers.slice(2, 4)) p.socket.terminate();
      for (const [i, p] of peers.slice(4).entries()) {
        p.socket.terminate();
        const again = await RawSocket.open(region.gateways[(i + 1) % 2]!.wsUrl);
        const r = await again.request('resume', { resumeToken: p.data['resumeToken'] as string });
        assert.equal(r.ok, true, JSON.stringify(r));
        assert.equal((await again.request('leave')).ok, true);
      }
    }
    // A refused join leaves nothing either.
    const bad = await RawSocket.open(region.wsUrl);
    assert.equal((await bad.request('join', { token: 'garbage' })).error?.code, 'UNAUTHORIZED');
    bad.close();

    await waitFor(
      'empty KV buckets',
      async () => ((await streamMessages(buckets.peers)) === 0 && (await streamMessages(buckets.rooms)) === 0 ? true : undefined),
      10_000,
    ).catch(async (err: unknown) => {
      throw new Error(`${String(err)}: peers ${await streamMessages(buckets.peers)}, rooms ${await streamMessages(buckets.rooms)} messages left`);
    });
    // Fresh heartbeats, sent after the grace periods and the rooms' idle timeout ran out.
    beats.clear();
    const quiet = (d: { kind: string; details: Record<string, unknown> }) =>
      d.kind === 'signaling'
        ? d.details['sessions'] === 0 && d.details['graceTimers'] === 0 && d.details['rooms'] === 0 && d.details['roomSubscriptions'] === 0
        : d.kind === 'media'
          ? d.details['routers'] === 0 && d.details['transports'] === 0 && d.details['producers'] === 0 && d.details['consumers'] === 0
          : true;
    await waitFor(
      'every service to report nothing held',
      () => (beats.size >= region.processes.length && [...beats.values()].every(quiet) ? true : undefined),
      15_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify([...beats])}`);
    });
  });
});
