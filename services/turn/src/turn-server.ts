import { Server, peerPolicy, type ServerStats } from '@strata/node-turn';
import type { Logger } from '@strata/telemetry';
import { identityOf, lookupEphemeral } from './credentials.js';

export interface TurnServerOptions {
  listenIp: string;
  port: number;
  /** client transports to listen on */
  udp: boolean;
  /** TURN over TCP; `port` undefined: the UDP port */
  tcp?: { port?: number };
  /** TURN over TLS, certificate and key in PEM */
  tls?: { port: number; cert: string; key: string };
  relayIp: string;
  externalIp: string;
  minPort: number;
  maxPort: number;
  realm: string;
  /** the secret credentials are minted with */
  secret: string;
  /** the secret it replaced, still accepted during a rotation; empty or undefined: none */
  previousSecret?: string;
  /** how long a nonce is accepted, ms */
  nonceLifetimeMs: number;
  /** allocations at once per identity (the username after `expiry:`) and per client IP; 0: no cap */
  maxAllocationsPerIdentity: number;
  maxAllocationsPerIp: number;
  /** TCP and TLS connections at once per client IP; 0 or undefined: no cap */
  maxConnectionsPerIp?: number;
  /** how long a TCP or TLS connection without an allocation may go without a complete message, ms; default 30 s */
  streamIdleTimeoutMs?: number;
  /** bytes per second relayed each way per allocation; 0: no cap */
  bandwidthBytesPerSecond: number;
  allowLoopbackPeers: boolean;
  allowPrivatePeers: boolean;
}

/**
 * Our node-turn fork (libs/node-turn) with ephemeral REST credentials: the password is derived
 * from the username and the shared secret when a client authenticates, so no user list has to
 * be kept in sync across TURN nodes.
 */
export class TurnServer {
  private readonly server: Server;

  constructor(
    private readonly opts: TurnServerOptions,
    log: Logger,
  ) {
    const child = log.child({ component: 'node-turn' });
    // The current secret first: during a rotation most credentials are made with it.
    const secrets = [...new Set([opts.secret, opts.previousSecret ?? ''])].filter((s) => s !== '');
    this.server = new Server({
      listeningIps: [opts.listenIp],
      listeningPort: opts.port,
      udp: opts.udp,
      ...(opts.tcp ? { tcp: opts.tcp } : {}),
      ...(opts.tls ? { tls: opts.tls } : {}),
      relayIps: [opts.relayIp],
      externalIps: opts.externalIp === opts.relayIp ? null : { [opts.relayIp]: opts.externalIp },
      minPort: opts.minPort,
      maxPort: opts.maxPort,
      authMech: 'long-term',
      realm: opts.realm,
      nonceLifetime: opts.nonceLifetimeMs / 1000,
      // Static users are not supported: every credential is ephemeral. During a rotation a username has one
      // candidate password per secret; MESSAGE-INTEGRITY tells which one the client holds.
      passwordFor: (username) => {
        const out: string[] = [];
        for (const secret of secrets) {
          const password = lookupEphemeral(secret, username);
          if (password !== undefined) out.push(password);
        }
        return out;
      },
      maxAllocationsPerUser: opts.maxAllocationsPerIdentity,
      // One identity mints many usernames (each with its own expiry): the quota is the identity's.
      userOf: identityOf,
      maxAllocationsPerIp: opts.maxAllocationsPerIp,
      maxConnectionsPerIp: opts.maxConnectionsPerIp ?? 0,
      streamIdleTimeout: (opts.streamIdleTimeoutMs ?? 30_000) / 1000,
      bandwidthLimit: opts.bandwidthBytesPerSecond,
      peerAllowed: peerPolicy({ allowLoopback: opts.allowLoopbackPeers, allowPrivate: opts.allowPrivatePeers }),
      debug: (level, msg) => {
        if (level === 'FATAL' || level === 'ERROR') child.warn({ level }, String(msg));
        else child.debug({ level }, String(msg));
      },
    });
  }

  /** Resolves once the listeners are bound; rejects when a TCP or TLS port cannot be listened on. */
  start(): Promise<void> {
    return this.server.start();
  }

  /** The ports bound, per transport (the configured ones, or the OS's choice where 0 was configured). */
  get ports(): { udp?: number; tcp?: number; tls?: number } {
    return this.server.network.ports();
  }

  /** What the server refused or dropped since it started: auth failures, stale nonces, quota refusals, packets over the bandwidth cap, malformed datagrams. */
  get stats(): Readonly<ServerStats> {
    return this.server.stats;
  }

  get allocationCount(): number {
    return Object.keys(this.server.allocations).length;
  }

  stop(): void {
    this.server.stop();
  }
}
