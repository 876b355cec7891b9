// What the TURN service's tests need beyond @strata/node-turn/testing: credentials minted with the service's
// secret, its server options on loopback, and servers and clients that are closed after each test.
import { UdpClient, UdpPeer, type Credentials } from '@strata/node-turn/testing';
import { createLogger } from '@strata/telemetry';
import { afterEach } from 'node:test';
import { mintCredential } from '../src/credentials.js';
import { TurnServer, type TurnServerOptions } from '../src/turn-server.js';

export const SECRET = 'auth-test-secret';
export const REALM = 'auth-realm';

/** A TurnServer on loopback: any free UDP port, loopback peers allowed. */
export function serverOptions(overrides: Partial<TurnServerOptions> = {}): TurnServerOptions {
  return {
    listenIp: '127.0.0.1',
    port: 0,
    udp: true,
    relayIp: '127.0.0.1',
    externalIp: '127.0.0.1',
    minPort: 46000,
    maxPort: 46999,
    realm: REALM,
    secret: SECRET,
    nonceLifetimeMs: 600_000,
    maxAllocationsPerIdentity: 0,
    maxAllocationsPerIp: 0,
    bandwidthBytesPerSecond: 0,
    allowLoopbackPeers: true,
    allowPrivatePeers: false,
    ...overrides,
  };
}

export const mint = (secret: string, identity: string, ttlSeconds = 600, nowSeconds?: number): Credentials => {
  const c = mintCredential(secret, identity, ttlSeconds, nowSeconds);
  return { username: c.username, password: c.credential };
};

/**
 * For a describe block: starting servers (with `serverOptions(overrides)`), clients and peers, each closed
 * after the test that opened it.
 */
export function perTest(nodeId: string) {
  const log = createLogger({ service: 'test', region: 't', nodeId, level: 'silent' });
  const open: { close(): void }[] = [];
  afterEach(() => {
    for (const o of open.splice(0)) o.close();
  });
  return {
    start: async (overrides: Partial<TurnServerOptions> = {}): Promise<TurnServer> => {
      const server = new TurnServer(serverOptions(overrides), log);
      await server.start();
      open.push({ close: () => server.stop() });
      return server;
    },
    client: async (server: TurnServer): Promise<UdpClient> => {
      const c = await UdpClient.open(server.ports.udp ?? 0);
      open.push(c);
      return c;
    },
    peer: async (): Promise<UdpPeer> => {
      const p = await UdpPeer.open();
      open.push(p);
      return p;
    },
  };
}
