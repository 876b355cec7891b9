/**
 * Every region runs its own TURN beside its media nodes, and a client is handed its own region's: two
 * regions on one nats-server (one subject space, region first in every subject, as a supercluster
 * presents it), each a gateway, a media node and a TURN server with a secret of its own. A client that
 * joins through a region's gateway gets that region's TURN URLs and a credential that region's server
 * accepts (coturn's turnutils_uclient relays with it) and the other region's refuses.
 */
import { freePort, haveCommands, startTurnutilsPeer, uclient, waitFor } from '@strata/harness';
import type { ManagedProcess } from '@strata/process';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSocket } from '../helpers/raw-socket.js';
import { startRegion, type Region } from '../helpers/region.js';

const HAVE_COTURN_CLIENTS = await haveCommands('turnutils_uclient', 'turnutils_peer');

interface IceServer {
  urls: string[];
  username: string;
  credential: string;
}

describe('each region hands out its own TURN', { timeout: 120_000, skip: HAVE_COTURN_CLIENTS ? false : 'coturn clients not installed' }, () => {
  const regions = new Map<string, { region: Region; turnPort: number }>();
  let peer: ManagedProcess;
  let peerPort: number;
  const sockets: RawSocket[] = [];

  before(async () => {
    peerPort = await freePort();
    peer = await startTurnutilsPeer(peerPort);
    for (const [name, relays] of [
      ['eu', 41_000],
      ['us', 41_500],
    ] as const) {
      const turnPort = await freePort();
      const shared = regions.get('eu')?.region.nats;
      const region = await startRegion({
        region: name,
        services: ['signaling', 'media', 'turn'],
        ...(shared ? { nats: shared } : {}),
        env: {
          TURN_PORT: String(turnPort),
          TURN_TRANSPORTS: 'udp',
          TURN_MIN_PORT: String(relays),
          TURN_MAX_PORT: String(relays + 99),
          TURN_SECRET: `${name}-turn-secret`,
          TURN_ALLOW_LOOPBACK_PEERS: 'true',
        },
      });
      regions.set(name, { region, turnPort });
    }
  });

  after(async () => {
    for (const s of sockets) s.ws.close();
    await peer?.stop();
    // The region that started the shared nats-server stops last.
    for (const name of ['us', 'eu']) await regions.get(name)?.region.stop();
  });

  const joinIn = async (name: string, identity: string): Promise<IceServer[]> => {
    const { region } = regions.get(name)!;
    const s = await RawSocket.open(region.wsUrl);
    sockets.push(s);
    const r = await s.request('join', { token: await region.mintToken({ room: `${name}-room`, identity }) });
    assert.ok(r.ok, JSON.stringify(r.error));
    return r.data?.['iceServers'] as IceServer[];
  };

  for (const [home, away] of [
    ['eu', 'us'],
    ['us', 'eu'],
  ] as const) {
    it(`a client joining in ${home} gets ${home}'s TURN, whose credential relays there and is refused in ${away}`, async () => {
      const ice = await joinIn(home, `alice-${home}`);
      const { turnPort } = regions.get(home)!;
      assert.equal(ice.length, 1, JSON.stringify(ice));
      assert.deepEqual(ice[0]?.urls, [`turn:127.0.0.1:${turnPort}?transport=udp`]);
      const { username, credential } = ice[0]!;
      const args = (port: number) => [
        '-p',
        String(port),
        '-u',
        username,
        '-w',
        credential,
        '-n',
        '20',
        '-z',
        '10',
        '-c',
        '-e',
        '127.0.0.1',
        '-r',
        String(peerPort),
      ];
      const t = await uclient([...args(turnPort), '127.0.0.1']);
      assert.equal(t.lost, 0, t.output);
      assert.equal(t.received, t.sent, t.output);
      // Refused for its credential: the other region's server counts an authentication failure (401).
      const other = regions.get(away)!;
      const failures = () => Number(other.region.heartbeats.get('turn-1')?.load.details['authFailures'] ?? 0);
      const before = failures();
      await assert.rejects(uclient([...args(other.turnPort), '127.0.0.1'], 10_000), /Cannot complete Allocation/);
      await waitFor(`${away} counts the refusal`, () => (failures() > before ? true : undefined), 5_000);
    });
  }
});
