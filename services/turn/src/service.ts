import { ConfigError } from '@strata/config';
import { TurnCredentials, subjects } from '@strata/protocol';
import type { ServiceDefinition } from '@strata/service';
import { turnConfig } from './config.js';
import { mintCredential } from './credentials.js';
import { turnLoad } from './load.js';
import { TurnServer } from './turn-server.js';

export const turnService: ServiceDefinition<typeof turnConfig> = {
  kind: 'turn',
  version: '0.1.0',
  config: turnConfig,
  async start({ config, log, bus, region }) {
    if (config.TURN_SECRET === 'strata-dev-secret') log.warn('TURN_SECRET is the development default: set a real secret outside local development');
    if (config.TURN_MIN_PORT > config.TURN_MAX_PORT) throw new ConfigError(['TURN_MIN_PORT: above TURN_MAX_PORT']);
    const relayIp = config.TURN_RELAY_IP || config.TURN_LISTEN_IP;
    const announced = config.TURN_ANNOUNCED_ADDRESS || config.TURN_LISTEN_IP;
    const server = new TurnServer(
      {
        listenIp: config.TURN_LISTEN_IP,
        port: config.TURN_PORT,
        relayIp,
        externalIp: config.TURN_ANNOUNCED_ADDRESS || relayIp,
        minPort: config.TURN_MIN_PORT,
        maxPort: config.TURN_MAX_PORT,
        realm: config.TURN_REALM,
        secret: config.TURN_SECRET,
        allowLoopbackPeers: config.TURN_ALLOW_LOOPBACK_PEERS,
        allowPrivatePeers: config.TURN_ALLOW_PRIVATE_PEERS,
      },
      log,
    );
    await server.start();
    const urls = [`turn:${announced}:${config.TURN_PORT}?transport=udp`];

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
      endpoints: () => ({ turn: urls[0] as string }),
      load: (sample) => turnLoad(server.allocationCount, { min: config.TURN_MIN_PORT, max: config.TURN_MAX_PORT }, sample),
      health: () => ({ allocations: server.allocationCount }),
      async close() {
        sub.unsubscribe();
        server.stop();
      },
    };
  },
};
