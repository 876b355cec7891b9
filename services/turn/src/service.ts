import { ConfigError } from '@strata/config';
import { TurnCredentials, subjects } from '@strata/protocol';
import type { ServiceDefinition } from '@strata/service';
import { turnConfig } from './config.js';
import { mintCredential } from './credentials.js';
import { turnLoad } from './load.js';
import { turnMetrics } from './metrics.js';
import { tlsPair } from './tls.js';
import { TurnServer } from './turn-server.js';
import { turnUrls } from './urls.js';

export const turnService: ServiceDefinition<typeof turnConfig> = {
  kind: 'turn',
  version: '0.1.0',
  config: turnConfig,
  async start({ config, log, bus, region }) {
    if (config.TURN_SECRET === 'strata-dev-secret') log.warn('TURN_SECRET is the development default: set a real secret outside local development');
    if (config.TURN_SECRET_PREVIOUS !== '')
      log.info('TURN_SECRET_PREVIOUS is set: credentials made with it are still accepted; unset it once they have expired');
    if (config.TURN_MIN_PORT > config.TURN_MAX_PORT) throw new ConfigError(['TURN_MIN_PORT: above TURN_MAX_PORT']);
    const transports = config.TURN_TRANSPORTS;
    if (transports.length === 0) throw new ConfigError(['TURN_TRANSPORTS: names no transport (udp, tcp, tls)']);
    const relayIp = config.TURN_RELAY_IP || config.TURN_LISTEN_IP;
    const announced = config.TURN_ANNOUNCED_ADDRESS || config.TURN_LISTEN_IP;
    let tls: { port: number; cert: string; key: string } | undefined;
    if (transports.includes('tls')) {
      const hosts = [...new Set([announced, config.TURN_LISTEN_IP, '127.0.0.1', 'localhost'])].filter((h) => h !== '0.0.0.0' && h !== '::');
      const pair = tlsPair(config.TURN_TLS_CERT, config.TURN_TLS_KEY, hosts);
      if (pair.selfSigned)
        log.warn({ hosts }, 'TURN_TLS_CERT and TURN_TLS_KEY unset: turns: serves a self-signed certificate, which clients that check certificates refuse');
      tls = { port: config.TURN_TLS_PORT, cert: pair.cert, key: pair.key };
    }
    const server = new TurnServer(
      {
        listenIp: config.TURN_LISTEN_IP,
        port: config.TURN_PORT,
        udp: transports.includes('udp'),
        ...(transports.includes('tcp') ? { tcp: config.TURN_TCP_PORT === undefined ? {} : { port: config.TURN_TCP_PORT } } : {}),
        ...(tls ? { tls } : {}),
        relayIp,
        externalIp: config.TURN_ANNOUNCED_ADDRESS || relayIp,
        minPort: config.TURN_MIN_PORT,
        maxPort: config.TURN_MAX_PORT,
        realm: config.TURN_REALM,
        secret: config.TURN_SECRET,
        previousSecret: config.TURN_SECRET_PREVIOUS,
        nonceLifetimeMs: config.TURN_NONCE_LIFETIME,
        maxAllocationsPerIdentity: config.TURN_MAX_ALLOCATIONS_PER_IDENTITY,
        maxAllocationsPerIp: config.TURN_MAX_ALLOCATIONS_PER_IP,
        maxConnectionsPerIp: config.TURN_MAX_CONNECTIONS_PER_IP,
        streamIdleTimeoutMs: config.TURN_STREAM_IDLE_TIMEOUT,
        bandwidthBytesPerSecond: config.TURN_ALLOCATION_BANDWIDTH,
        allowLoopbackPeers: config.TURN_ALLOW_LOOPBACK_PEERS,
        allowPrivatePeers: config.TURN_ALLOW_PRIVATE_PEERS,
      },
      log,
    );
    await server.start();
    // The bound ports, not the configured ones: 0 (tests) asks the OS for a free port.
    const urls = turnUrls(announced, server.ports, transports);
    log.info({ urls }, 'TURN listening');

    // Handlers
    const sub = bus.serve(
      TurnCredentials,
      subjects.turnCredentials(region),
      ({ identity, ttlSeconds }) => {
        const ttl = ttlSeconds ?? Math.floor(config.TURN_CREDENTIAL_TTL / 1000);
        const c = mintCredential(config.TURN_SECRET, identity, ttl);
        return { urls, username: c.username, credential: c.credential, ttlSeconds: ttl, expiresAt: c.expiresAt };
      },
      { queue: subjects.queues.turn },
    );

    return {
      endpoints: () => Object.fromEntries(urls.map((u) => [u.startsWith('turns:') ? 'turns' : u.endsWith('=tcp') ? 'turnTcp' : 'turn', u])),
      load: (sample) => turnLoad(server.allocationCount, { min: config.TURN_MIN_PORT, max: config.TURN_MAX_PORT }, sample, server.stats),
      health: () => ({ allocations: server.allocationCount }),
      metrics: () => turnMetrics(server.allocationCount, server.stats),
      async close() {
        sub.unsubscribe();
        server.stop();
      },
    };
  },
};
