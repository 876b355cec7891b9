// The STUN/TURN server: configuration and the dispatch of each received message.
// Ported from node-turn 0.0.6 lib/server.js (MIT, Atlantis Software).
import { networkInterfaces } from 'node:os';
import { Authentication, type AuthMech } from './authentication.js';
import type { Allocation } from './allocation.js';
import { CLASS, DEBUG_LEVEL, METHOD, type DebugLevelName } from './constants.js';
import type { Message, MessageContext } from './message.js';
import { allocate } from './methods/allocate.js';
import { channelBind } from './methods/channel-bind.js';
import { createPermission } from './methods/create-permission.js';
import { refresh } from './methods/refresh.js';
import { send } from './methods/send.js';
import { Network } from './network.js';

export interface ServerOptions {
  /** IPs to listen on; default: every address of every interface (node cannot tell a datagram's destination on 0.0.0.0). */
  listeningIps?: string[];
  listeningPort?: number;
  /** local IPs relays bind to, used in turn; empty: the IP the request came to */
  relayIps?: string[];
  /** the address advertised for a relay: one for all, or per relay IP (with a "default" key) */
  externalIps?: string | Record<string, string> | null;
  minPort?: number;
  maxPort?: number;
  /** seconds */
  maxAllocateLifetime?: number;
  /** seconds */
  defaultAllocateLifetime?: number;
  authMech?: AuthMech;
  realm?: string;
  /** static users: username -> password */
  credentials?: Record<string, string>;
  /** looked up when `credentials` has no such user: for passwords derived from the username (TURN REST credentials) */
  passwordFor?: (username: string) => string | undefined;
  software?: string;
  debugLevel?: DebugLevelName;
  log?: (msg: string) => void;
  /** replaces the level-filtered logging to `log` */
  debug?: (level: DebugLevelName, msg: unknown) => void;
}

export class Server implements MessageContext {
  readonly software: string;
  readonly listeningIps: string[];
  readonly relayIps: string[];
  readonly externalIps: string | Record<string, string> | null;
  readonly listeningPort: number;
  readonly minPort: number;
  readonly maxPort: number;
  readonly maxAllocateLifetime: number;
  readonly defaultAllocateLifetime: number;
  readonly authMech: AuthMech;
  readonly realm: string;
  readonly credentials: Record<string, string>;
  readonly allocations: Record<string, Allocation> = {};
  readonly authentication: Authentication;
  readonly network: Network;
  private readonly lookup: ((username: string) => string | undefined) | undefined;
  private readonly log: (msg: string) => void;
  private readonly debugLevel: number;
  private readonly debugFn: ((level: DebugLevelName, msg: unknown) => void) | undefined;
  private lastRelayIp = -1;

  constructor(config: ServerOptions = {}) {
    this.software = config.software ?? 'node-turn';
    this.listeningIps = config.listeningIps ?? allInterfaceAddresses();
    this.relayIps = config.relayIps ?? [];
    this.externalIps = config.externalIps ?? null;
    this.listeningPort = config.listeningPort ?? 3478;
    this.minPort = config.minPort ?? 49152;
    this.maxPort = config.maxPort ?? 65535;
    this.maxAllocateLifetime = config.maxAllocateLifetime ?? 3600;
    this.defaultAllocateLifetime = config.defaultAllocateLifetime ?? 600;
    this.authMech = config.authMech ?? 'none';
    this.realm = config.realm ?? 'atlantis-software.net';
    this.credentials = { ...(config.credentials ?? {}) };
    this.lookup = config.passwordFor;
    // eslint-disable-next-line no-console
    this.log = config.log ?? ((m) => console.log(m));
    this.debugFn = config.debug;
    this.debugLevel = DEBUG_LEVEL[config.debugLevel ?? 'FATAL'];
    this.authentication = new Authentication(this);
    this.network = new Network(this);
  }

  debug(level: DebugLevelName, msg: unknown): void {
    if (this.debugFn) return this.debugFn(level, msg);
    if (DEBUG_LEVEL[level] >= this.debugLevel) this.log(String(msg));
  }

  passwordFor(username: string): string | undefined {
    return Object.hasOwn(this.credentials, username) ? this.credentials[username] : this.lookup?.(username);
  }

  addUser(username: string, password: string): void {
    this.credentials[username] = password;
  }

  removeUser(username: string): void {
    delete this.credentials[username];
  }

  /** Resolves once every listener is bound. */
  start(): Promise<void> {
    return this.network.start();
  }

  stop(): void {
    this.network.stop();
    for (const a of Object.values(this.allocations)) a.destroy();
  }

  /** The relay IP for a new allocation: the configured ones in turn, else the address the request came to. */
  nextRelayIp(msg: Message): string {
    if (this.relayIps.length === 0) return msg.transport.dst.address;
    this.lastRelayIp = (this.lastRelayIp + 1) % this.relayIps.length;
    return this.relayIps[this.lastRelayIp] ?? msg.transport.dst.address;
  }

  checkQuota(_username: string | undefined): boolean {
    return true;
  }

  /** One parsed message from a client. */
  handle(msg: Message): void {
    this.debug('DEBUG', `Receiving ${msg}`);
    if (msg.getAttribute('fingerprint') === false) return msg.reply().discard();

    // Binding needs no authentication.
    if (msg.class === CLASS.REQUEST && msg.method === METHOD.BINDING) {
      const reply = msg.reply();
      reply.addAttribute('xor-mapped-address', msg.transport.src);
      return reply.resolve();
    }

    // Every other message belongs to the allocation of its 5-tuple (RFC 8656 section 2.2).
    if (msg.class !== CLASS.REQUEST || msg.method !== METHOD.ALLOCATE) {
      const allocation = this.allocations[msg.transport.get5Tuple()];
      if (!allocation) {
        const reply = msg.reply();
        if (msg.class === CLASS.INDICATION) return reply.discard();
        return reply.reject(437, 'Allocation Mismatch');
      }
      msg.allocation = allocation;
    }

    // Indications cannot be authenticated.
    if (msg.class === CLASS.INDICATION) {
      if (msg.method === METHOD.SEND) send(this, msg);
      return;
    }
    if (msg.class !== CLASS.REQUEST) return;

    const reply = this.authentication.auth(msg);
    if (!reply) return;
    switch (msg.method) {
      case METHOD.ALLOCATE:
        allocate(this, msg, reply).catch((err: unknown) => {
          this.debug('ERROR', err);
          reply.reject(500, 'Server Error');
        });
        return;
      case METHOD.REFRESH:
        return refresh(this, msg, reply);
      case METHOD.CREATE_PERMISSION:
        return createPermission(this, msg, reply);
      case METHOD.CHANNEL_BIND:
        return channelBind(this, msg, reply);
      default:
        return reply.reject(400, 'Bad Request');
    }
  }
}

function allInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const n of list ?? []) if (!(n.family === 'IPv6' && n.address.startsWith('fe80:'))) out.push(n.address);
  }
  return out;
}
