// The STUN/TURN server: configuration and the dispatch of each received message.
// Ported from node-turn 0.0.6 lib/server.js (MIT, Atlantis Software).
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { Address } from './address.js';
import { ChannelMessage } from './channel-message.js';
import { Message } from './message.js';
import { peerPolicy } from './peer-policy.js';
import { Transport, fiveTupleKey, type ClientSocket } from './transport.js';
import { Authentication, type AuthMech } from './authentication.js';
import type { Allocation } from './allocation.js';
import { CLASS, DEBUG_LEVEL, METHOD, PROTOCOL, type DebugLevelName, type Family } from './constants.js';
import type { MessageContext, Passwords } from './message.js';
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
  /** UDP listeners on `listeningPort` (default true) */
  udp?: boolean;
  /** TURN over TCP on each listening IP (RFC 8656 section 3.1); `port` defaults to that IP's UDP port. Off unless given. */
  tcp?: { port?: number };
  /** TURN over TLS (`turns:`) on each listening IP; certificate chain and key in PEM; `port` defaults to 5349. Off unless given. */
  tls?: { port?: number; cert: string | Buffer; key: string | Buffer };
  /** seconds a TCP/TLS connection may go without a complete message while it has no allocation (and the TLS handshake may take); default 30 */
  streamIdleTimeout?: number;
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
  /**
   * looked up when `credentials` has no such user: for passwords derived from the username (TURN REST credentials);
   * several passwords when any may be the client's (a secret being rotated)
   */
  passwordFor?: (username: string) => Passwords;
  /** seconds a nonce is accepted; an older one gets 438 Stale Nonce with a fresh one (RFC 8489 section 9.2); default 600 */
  nonceLifetime?: number;
  software?: string;
  /** which peers may be relayed to; default `peerPolicy()`: no loopback, private, link-local, multicast or reserved address */
  peerAllowed?: (peer: Address) => boolean;
  /** allocations (live or being made) one user may hold at once; 486 Allocation Quota Reached above (RFC 8656 section 7.2); default: no cap */
  maxAllocationsPerUser?: number;
  /** the user an authenticated username counts against (TURN REST usernames carry an expiry: `expiry:identity` is one identity); default: the username */
  userOf?: (username: string) => string;
  /** allocations one client IP may hold at once, whatever its credentials; 486 above; default: no cap */
  maxAllocationsPerIp?: number;
  /** TCP and TLS connections one client IP may hold open at once; a connection above is closed when accepted; default: no cap */
  maxConnectionsPerIp?: number;
  /** bytes per second an allocation relays each way (client to peers, peers to client), with a burst of one second's worth; above it packets are dropped and counted; default: no cap */
  bandwidthLimit?: number;
  /** how long an EVEN-PORT reservation of port N + 1 is kept, in seconds (RFC 8656 section 7.2: about 30) */
  reservationLifetime?: number;
  debugLevel?: DebugLevelName;
  log?: (msg: string) => void;
  /** replaces the level-filtered logging to `log` */
  debug?: (level: DebugLevelName, msg: unknown) => void;
}

/** What the server refused or dropped since it started, for the embedding service to report. */
export interface ServerStats {
  /** requests with MESSAGE-INTEGRITY that failed authentication (401 with a fresh nonce, or 441) */
  authFailures: number;
  /** authenticated requests whose nonce was expired or not ours (438) */
  staleNonces: number;
  /** Allocate requests refused with 486, a user's or an IP's quota being full */
  quotaRejections: number;
  /** relayed packets dropped because their allocation was over its bandwidth cap (either way) */
  overBandwidth: number;
  /** datagrams, or frames of a stream, that were no well-formed STUN or ChannelData message, dropped unanswered */
  malformed: number;
  /** CreatePermission and ChannelBind requests refused with 403 (a peer the policy denies, or this server's own listener), and Send indications to such a peer, dropped */
  peerDenials: number;
  /** TCP and TLS connections closed when accepted, their IP holding its cap of connections */
  connectionRejections: number;
  /** packets relayed from clients to peers, and their bytes (the payload sent on from the relay) */
  packetsToPeers: number;
  bytesToPeers: number;
  /** packets relayed from peers to clients, and their bytes (the payload, before its ChannelData or Data indication framing) */
  packetsToClients: number;
  bytesToClients: number;
}

export class Server implements MessageContext {
  readonly software: string;
  readonly listeningIps: string[];
  readonly relayIps: string[];
  readonly externalIps: string | Record<string, string> | null;
  readonly listeningPort: number;
  readonly udp: boolean;
  readonly tcp: { port?: number } | undefined;
  readonly tls: { port?: number; cert: string | Buffer; key: string | Buffer } | undefined;
  readonly streamIdleTimeout: number;
  readonly minPort: number;
  readonly maxPort: number;
  readonly maxAllocateLifetime: number;
  readonly defaultAllocateLifetime: number;
  readonly authMech: AuthMech;
  readonly realm: string;
  readonly credentials: Record<string, string>;
  readonly nonceLifetime: number;
  readonly stats: ServerStats = {
    authFailures: 0,
    staleNonces: 0,
    quotaRejections: 0,
    overBandwidth: 0,
    malformed: 0,
    peerDenials: 0,
    connectionRejections: 0,
    packetsToPeers: 0,
    bytesToPeers: 0,
    packetsToClients: 0,
    bytesToClients: 0,
  };
  readonly maxAllocationsPerUser: number;
  readonly maxAllocationsPerIp: number;
  readonly maxConnectionsPerIp: number;
  readonly bandwidthLimit: number;
  /** this server's listeners (ip|port, every transport, with each external IP too): never a peer, or relayed data would loop back in */
  private ownListeners = new Set<string>();
  private readonly userOf: (username: string) => string;
  /** allocations held, and being made, per user and per client IP: counted when an Allocate passes the quota check */
  private readonly perUser = new Map<string, number>();
  private readonly perIp = new Map<string, number>();
  readonly allocations: Record<string, Allocation> = {};
  readonly authentication: Authentication;
  readonly network: Network;
  private readonly lookup: ((username: string) => Passwords) | undefined;
  private readonly log: (msg: string) => void;
  private readonly debugLevel: number;
  private readonly debugFn: ((level: DebugLevelName, msg: unknown) => void) | undefined;
  private lastRelayIp = -1;
  private readonly peerFilter: (peer: Address) => boolean;
  private readonly reservationLifetime: number;
  /** reservation token (hex) -> the socket of port N + 1 and the timer that frees it */
  private readonly reservations = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();

  constructor(config: ServerOptions = {}) {
    this.software = config.software ?? 'node-turn';
    this.listeningIps = config.listeningIps ?? allInterfaceAddresses();
    this.relayIps = config.relayIps ?? [];
    this.externalIps = config.externalIps ?? null;
    this.listeningPort = config.listeningPort ?? 3478;
    this.udp = config.udp ?? true;
    this.tcp = config.tcp;
    this.tls = config.tls;
    this.streamIdleTimeout = config.streamIdleTimeout ?? 30;
    this.minPort = config.minPort ?? 49152;
    this.maxPort = config.maxPort ?? 65535;
    this.maxAllocateLifetime = config.maxAllocateLifetime ?? 3600;
    this.defaultAllocateLifetime = config.defaultAllocateLifetime ?? 600;
    this.authMech = config.authMech ?? 'none';
    this.realm = config.realm ?? 'atlantis-software.net';
    this.credentials = { ...(config.credentials ?? {}) };
    this.lookup = config.passwordFor;
    this.nonceLifetime = config.nonceLifetime ?? 600;
    this.maxAllocationsPerUser = config.maxAllocationsPerUser ?? 0;
    this.maxAllocationsPerIp = config.maxAllocationsPerIp ?? 0;
    this.maxConnectionsPerIp = config.maxConnectionsPerIp ?? 0;
    this.userOf = config.userOf ?? ((u) => u);
    this.bandwidthLimit = config.bandwidthLimit ?? 0;
    // eslint-disable-next-line no-console
    this.log = config.log ?? ((m) => console.log(m));
    this.debugFn = config.debug;
    this.debugLevel = DEBUG_LEVEL[config.debugLevel ?? 'FATAL'];
    this.peerFilter = config.peerAllowed ?? peerPolicy();
    this.reservationLifetime = config.reservationLifetime ?? 30;
    this.authentication = new Authentication(this);
    this.network = new Network(this);
  }

  debug(level: DebugLevelName, msg: unknown): void {
    if (this.debugFn) return this.debugFn(level, msg);
    if (DEBUG_LEVEL[level] >= this.debugLevel) this.log(String(msg));
  }

  passwordFor(username: string): Passwords {
    return Object.hasOwn(this.credentials, username) ? this.credentials[username] : this.lookup?.(username);
  }

  addUser(username: string, password: string): void {
    this.credentials[username] = password;
  }

  removeUser(username: string): void {
    delete this.credentials[username];
  }

  /** Resolves once every listener is bound. */
  async start(): Promise<void> {
    await this.network.start();
    const ports = this.network.boundPorts();
    const ips = new Set<string>();
    for (const ip of this.listeningIps) {
      // A wildcard listener is on every address of the host.
      if (ip === '0.0.0.0' || ip === '::') for (const a of allInterfaceAddresses()) ips.add(a);
      else ips.add(ip);
    }
    // Behind a NAT the external address reaches the listeners too (hairpinning).
    const external = this.externalIps;
    for (const ip of typeof external === 'string' ? [external] : external ? Object.values(external) : []) ips.add(ip);
    const own = new Set<string>();
    for (const ip of ips) {
      let address: string;
      try {
        address = new Address(ip, 0).address;
      } catch {
        continue; // a host name, not an address
      }
      for (const port of ports) own.add(`${address}|${port}`);
    }
    this.ownListeners = own;
  }

  stop(): void {
    this.network.stop();
    for (const a of Object.values(this.allocations)) a.destroy();
    for (const token of [...this.reservations.keys()]) this.takeReservation(Buffer.from(token, 'hex'))?.close();
  }

  /**
   * The relay IP of `family` for a new allocation: the configured ones of that family in turn, else the
   * address the request came to when it is of that family; undefined when there is none.
   */
  relayIpFor(msg: Message, family: Family): string | undefined {
    const candidates = (this.relayIps.length ? this.relayIps : [msg.transport.dst.address]).filter((ip) => new Address(ip, 0).family === family);
    if (candidates.length === 0) return undefined;
    this.lastRelayIp = (this.lastRelayIp + 1) % candidates.length;
    return candidates[this.lastRelayIp];
  }

  /**
   * Whether a peer may be relayed to: the policy, and never this server's own listeners (a relay loop).
   * Other relays of this server are peers like any (two relay-only clients of one server talk through them).
   * Counted when refused.
   */
  peerAllowed(peer: Address): boolean {
    const ok = !this.ownListeners.has(`${peer.address}|${peer.port}`) && this.peerFilter(peer);
    if (!ok) this.stats.peerDenials++;
    return ok;
  }

  /** Keeps `socket` for a later Allocate with the returned RESERVATION-TOKEN; closed if unclaimed in time. */
  reserve(socket: Socket): Buffer {
    const token = randomBytes(8);
    const key = token.toString('hex');
    const timer = setTimeout(() => {
      this.reservations.delete(key);
      socket.close();
    }, this.reservationLifetime * 1000);
    this.reservations.set(key, { socket, timer });
    return token;
  }

  /** The reserved socket of `token`, handed over once. */
  takeReservation(token: Buffer): Socket | undefined {
    const key = token.toString('hex');
    const r = this.reservations.get(key);
    if (!r) return undefined;
    clearTimeout(r.timer);
    this.reservations.delete(key);
    return r.socket;
  }

  /**
   * One datagram, or one frame of a TCP/TLS stream, from a client. False when it is neither a STUN nor a
   * ChannelData message (a datagram is then dropped; a stream, being out of step, is closed).
   */
  receive(transport: Transport, buf: Buffer): boolean {
    const ok = isChannelData(buf) ? this.channelData(this.allocations[transport.get5Tuple()], buf) : this.handleStun(transport, buf);
    if (!ok) this.stats.malformed++;
    return ok;
  }

  /**
   * One datagram from `ip`:`port` to the UDP listener `socket`, bound to `local`. ChannelData, nearly every
   * datagram of a call, finds its allocation by the key made from node's own spelling of the source, which
   * is Address's for every IPv4 address: no Address or Transport is made per packet. A source spelled
   * otherwise (IPv6 is kept in full by Address) misses here and takes the general path.
   */
  receiveDatagram(socket: ClientSocket, local: Address, buf: Buffer, ip: string, port: number): void {
    if (isChannelData(buf)) {
      const allocation = this.allocations[fiveTupleKey(PROTOCOL.UDP, ip, port, local.address, local.port)];
      if (allocation) {
        if (!this.channelData(allocation, buf)) this.stats.malformed++;
        return;
      }
    }
    this.receive(new Transport(PROTOCOL.UDP, new Address(ip, port), local, socket), buf);
  }

  private handleStun(transport: Transport, buf: Buffer): boolean {
    const msg = new Message(this, transport);
    if (!msg.read(buf)) return false;
    this.handle(msg);
    return true;
  }

  /** A ChannelData message from the client of `allocation` (RFC 8656 section 12.5): relayed to the channel's peer, else dropped. False when it is no ChannelData. */
  private channelData(allocation: Allocation | undefined, buf: Buffer): boolean {
    const cm = ChannelMessage.read(buf);
    if (!cm) return false;
    if (!allocation) return true;
    const peer = allocation.channelPeer(cm.channelNumber);
    if (!peer || !allocation.toPeer(cm.data, peer)) this.debug('TRACE', `ChannelData on unbound or unpermitted channel ${cm.channelNumber}`);
    return true;
  }

  /**
   * Counts an allocation about to be made against the quotas of its user (when authenticated) and of its client
   * IP. Undefined when either is full; else the function that gives the place back, which does so once however
   * often it is called (a failed Allocate, then the allocation's end). Counting at the check, not when the relay
   * port is bound, keeps a burst of concurrent Allocates from getting past the cap.
   */
  acquireQuota(username: string | undefined, ip: string): (() => void) | undefined {
    const user = username === undefined ? undefined : this.userOf(username);
    if (user !== undefined && this.maxAllocationsPerUser > 0 && (this.perUser.get(user) ?? 0) >= this.maxAllocationsPerUser) return undefined;
    if (this.maxAllocationsPerIp > 0 && (this.perIp.get(ip) ?? 0) >= this.maxAllocationsPerIp) return undefined;
    if (user !== undefined) this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (user !== undefined) decrement(this.perUser, user);
      decrement(this.perIp, ip);
    };
  }

  /** One parsed message from a client. */
  handle(msg: Message): void {
    this.debug('DEBUG', `Receiving ${msg}`);
    if (msg.getAttribute('fingerprint') === false) {
      // Not STUN after all (or corrupted on the way): dropped unanswered, as RFC 8489 section 7.3 says.
      this.stats.malformed++;
      return msg.reply().discard();
    }
    // A request with attributes we cannot read is refused before anything else, authentication included (RFC 8489 section 6.3.1).
    if (msg.class === CLASS.REQUEST && msg.unknownAttributes.length) return msg.reply().reject(420, 'Unknown Attribute', msg.unknownAttributes);
    if (msg.class === CLASS.REQUEST && msg.malformed) return msg.reply().reject(400, 'Bad Request');

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

    // Indications cannot be authenticated; one we cannot fully read is dropped.
    if (msg.class === CLASS.INDICATION) {
      if (msg.unknownAttributes.length || msg.malformed) return;
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

/** The first two bits tell the two apart: 00 STUN, 01 ChannelData (RFC 8656 section 12). */
function isChannelData(buf: Buffer): boolean {
  return ((buf[0] ?? 0) & 0xc0) === 0x40;
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

function allInterfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const n of list ?? []) if (!(n.family === 'IPv6' && n.address.startsWith('fe80:'))) out.push(n.address);
  }
  return out;
}
