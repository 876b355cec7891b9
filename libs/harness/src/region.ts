import { mintJoinToken, type MintOptions } from '@strata/auth';
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { Heartbeat, subjects, type EventOf, type ServiceKind } from '@strata/protocol';
import { randomBytes } from 'node:crypto';
import { memoryLogger } from './logger.js';
import { spawnService, waitFor, type ServiceProcess } from './processes.js';

export interface RegionOptions {
  region?: string;
  /** Which services to run; default signaling + media. `media` may be repeated via mediaNodes. */
  services?: ServiceKind[];
  mediaNodes?: number;
  gateways?: number;
  /** How many recorders, when `services` has recorder (default 1). */
  recorders?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** nats-server's HTTP monitoring on a free port (`natsMonitorUrl`); on by default. */
  natsMonitor?: boolean;
  /** Services run from `dist/` (see SpawnOptions.compiled). */
  compiled?: boolean;
  /**
   * A nats-server another region runs on, shared as regions share one subject space (region first in
   * every subject); stop() leaves it running. Default: a nats-server of its own.
   */
  nats?: NatsServer;
}

export interface Region {
  region: string;
  natsUrl: string;
  /** nats-server's monitoring endpoints (`/subsz`, `/connz`, `/jsz`), unless turned off. */
  natsMonitorUrl: string | undefined;
  nats: NatsServer;
  /** HTTP base of the first gateway (demo page, /dev/token, /healthz). */
  httpUrl: string;
  /** WebSocket URL of the first gateway. */
  wsUrl: string;
  gateways: { id: string; httpUrl: string; wsUrl: string; proc: ServiceProcess }[];
  processes: ServiceProcess[];
  bus: Bus;
  jwtSecret: string;
  mintToken(opts: MintOptions): Promise<string>;
  /** The latest heartbeat of each node of the region, by node id (kept up to date). */
  heartbeats: ReadonlyMap<string, EventOf<typeof Heartbeat>>;
  stop(): Promise<void>;
}

/**
 * A real region for end-to-end tests: nats-server plus service processes started from their
 * entry points, ready once every one of them has sent a heartbeat.
 */
export async function startRegion(opts: RegionOptions = {}): Promise<Region> {
  const region = opts.region ?? 'test';
  const jwtSecret = randomBytes(24).toString('hex');
  const ownNats = opts.nats === undefined;
  const nats: NatsServer = opts.nats ?? (await startNatsServer(opts.natsMonitor === false ? {} : { monitorPort: 0 }));
  const bus = await Bus.connect({ servers: nats.url, name: 'region-test', logger: memoryLogger().log });
  const beats = new Map<string, EventOf<typeof Heartbeat>>();
  bus.subscribe(Heartbeat, subjects.heartbeats(region), (b) => void beats.set(b.id, b));

  const kinds = opts.services ?? ['signaling', 'media'];
  const env = {
    NATS_URL: nats.url,
    STRATA_REGION: region,
    HTTP_PORT: '0',
    HEARTBEAT_INTERVAL: '500ms',
    SIGNALING_JWT_SECRET: jwtSecret,
    SIGNALING_DEV_TOKENS: 'true',
    MEDIA_NUM_WORKERS: '1',
    TURN_PORT: '0',
    // 5349, the default, would be taken by the first region on the machine.
    TURN_TLS_PORT: '0',
    ...opts.env,
  };
  const processes: ServiceProcess[] = [];
  const ids: string[] = [];
  for (const kind of kinds) {
    const count = kind === 'media' ? (opts.mediaNodes ?? 1) : kind === 'signaling' ? (opts.gateways ?? 1) : kind === 'recorder' ? (opts.recorders ?? 1) : 1;
    for (let i = 1; i <= count; i++) {
      const id = `${kind}-${i}`;
      ids.push(id);
      processes.push(spawnService(kind, { ...env, STRATA_NODE_ID: id }, { compiled: opts.compiled ?? false }));
    }
  }

  const stop = async (): Promise<void> => {
    await Promise.all(processes.map((p) => p.stop(5000)));
    await bus.drain().catch(() => undefined);
    if (ownNats) await nats.stop();
  };

  try {
    await waitFor(
      `heartbeats from ${ids.join(', ')}`,
      () => {
        for (const p of processes) if (!p.running()) throw new Error(`${p.kind} exited early:\n${p.output()}`);
        return ids.every((id) => beats.has(id)) ? true : undefined;
      },
      60_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const gateways = processes
    .filter((p) => p.kind === 'signaling')
    .map((proc, i) => {
      const b = beats.get(`signaling-${i + 1}`) as EventOf<typeof Heartbeat>;
      return { id: b.id, httpUrl: b.endpoints['http'] as string, wsUrl: b.endpoints['ws'] as string, proc };
    });
  return {
    region,
    natsUrl: nats.url,
    natsMonitorUrl: nats.monitorUrl,
    nats,
    httpUrl: gateways[0]?.httpUrl ?? '',
    wsUrl: gateways[0]?.wsUrl ?? '',
    gateways,
    processes,
    bus,
    jwtSecret,
    mintToken: (o) => mintJoinToken(jwtSecret, o),
    heartbeats: beats,
    stop,
  };
}
