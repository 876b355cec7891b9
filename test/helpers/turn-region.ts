// A region of only the TURN service, set up for coturn's clients: the service as its own process beside
// nats-server, turnutils_peer (coturn's UDP echo) as the peer, and one credential minted over NATS as
// the gateway gets one. Shared by the e2e tests that run turnutils_uclient against the service.
import { freePort, startTurnutilsPeer } from '@strata/harness';
import type { ManagedProcess } from '@strata/process';
import { TurnCredentials, subjects } from '@strata/protocol';
import { startRegion, type Region } from './region.js';

export interface TurnRegion {
  region: Region;
  /** the UDP (and, unless moved, TCP) port */
  turnPort: number;
  peer: ManagedProcess;
  peerPort: number;
  creds: { username: string; credential: string };
  /** the URLs the service hands out with the credential */
  urls: string[];
  /** turnutils_uclient's flags for this server and peer, with the credential; the caller adds its own and the server's address */
  uclientArgs(port?: number): string[];
  stop(): Promise<void>;
}

export async function startTurnRegion(opts: { secret: string; identity: string; env?: Record<string, string> }): Promise<TurnRegion> {
  const turnPort = await freePort();
  const peerPort = await freePort();
  // A relay range of its own, away from other tests' ephemeral ports.
  const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
  const region = await startRegion({
    services: ['turn'],
    env: {
      TURN_PORT: String(turnPort),
      TURN_MIN_PORT: String(minPort),
      TURN_MAX_PORT: String(minPort + 99),
      TURN_SECRET: opts.secret,
      // uclient's peer is on 127.0.0.1, which the server refuses to relay to by default.
      TURN_ALLOW_LOOPBACK_PEERS: 'true',
      // Every uclient run uses the one credential, and allocations it leaves behind over UDP live on
      // for their lifetime: the cap per identity would refuse the later runs.
      TURN_MAX_ALLOCATIONS_PER_IDENTITY: '0',
      ...opts.env,
    },
  });
  let peer: ManagedProcess;
  try {
    peer = await startTurnutilsPeer(peerPort);
  } catch (err) {
    await region.stop();
    throw err;
  }
  const c = await region.bus.request(TurnCredentials, subjects.turnCredentials(region.region), { identity: opts.identity, ttlSeconds: 600 });
  const creds = { username: c.username, credential: c.credential };
  return {
    region,
    turnPort,
    peer,
    peerPort,
    creds,
    urls: c.urls,
    uclientArgs: (port = turnPort) => ['-p', String(port), '-u', creds.username, '-w', creds.credential, '-e', '127.0.0.1', '-r', String(peerPort)],
    stop: async () => {
      await peer.stop();
      await region.stop();
    },
  };
}
