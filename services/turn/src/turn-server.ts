import type { Logger } from '@strata/telemetry';
import { createRequire } from 'node:module';
import { lookupEphemeral } from './credentials.js';

// node-turn is CommonJS without types; this is the part of it we use.
interface NodeTurnServer {
  start(): void;
  stop(): void;
  allocations: Record<string, unknown>;
  authentification: { credentials: Record<string, string | undefined> };
}
type NodeTurnCtor = new (config: Record<string, unknown>) => NodeTurnServer;
const NodeTurn = createRequire(import.meta.url)('node-turn') as NodeTurnCtor;

export interface TurnServerOptions {
  listenIp: string;
  port: number;
  relayIp: string;
  externalIp: string;
  minPort: number;
  maxPort: number;
  realm: string;
  secret: string;
}

/**
 * node-turn with ephemeral REST credentials. node-turn looks passwords up in a plain object;
 * we put a Proxy there that derives the password from the username and the shared secret,
 * so no user list has to be kept in sync across TURN nodes.
 */
export class TurnServer {
  private readonly server: NodeTurnServer;

  constructor(
    private readonly opts: TurnServerOptions,
    log: Logger,
  ) {
    const child = log.child({ component: 'node-turn' });
    this.server = new NodeTurn({
      listeningIps: [opts.listenIp],
      listeningPort: opts.port,
      relayIps: [opts.relayIp],
      externalIps: opts.externalIp === opts.relayIp ? null : { [opts.relayIp]: opts.externalIp },
      minPort: opts.minPort,
      maxPort: opts.maxPort,
      authMech: 'long-term',
      realm: opts.realm,
      debugLevel: 'ERROR',
      log: (...args: unknown[]) => child.info(args.map(String).join(' ')),
      debug: (level: string, msg: unknown) => child.debug({ level }, String(msg)),
    });
    const secret = opts.secret;
    this.server.authentification.credentials = new Proxy({} as Record<string, string | undefined>, {
      get: (_t, key) => (typeof key === 'string' ? lookupEphemeral(secret, key) : undefined),
      has: (_t, key) => typeof key === 'string' && lookupEphemeral(secret, key) !== undefined,
      set: () => true, // static users are not supported: every credential is ephemeral
      deleteProperty: () => true,
    });
  }

  start(): void {
    this.server.start();
  }

  get allocationCount(): number {
    return Object.keys(this.server.allocations).length;
  }

  stop(): void {
    this.server.stop();
  }
}
