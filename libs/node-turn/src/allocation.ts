// A TURN allocation (RFC 8656 section 2.2): the relayed transport address, its lifetime, permissions and
// channels. Ported from node-turn 0.0.6 lib/allocation.js (MIT, Atlantis Software).
import type { Socket } from 'node:dgram';
import { Address } from './address.js';
import { ChannelMessage } from './channel-message.js';
import { Message, type User } from './message.js';
import type { Transport } from './transport.js';
import type { Server } from './server.js';

/** How long a permission lasts (RFC 8656 section 9). */
export const PERMISSION_LIFETIME_MS = 300_000;
/** How long a channel binding lasts (RFC 8656 section 12). */
export const CHANNEL_LIFETIME_MS = 600_000;

export interface ChannelBinding {
  peer: Address;
  /** ms since epoch */
  expiresAt: number;
}

export class Allocation {
  /** The transaction that created it, so a retransmitted Allocate gets the same answer. */
  readonly transactionID: string;
  /** From the server to the client. */
  readonly transport: Transport;
  readonly fiveTuple: string;
  readonly user: User | null;
  readonly relayedTransportAddress: Address;
  readonly mappedAddress: Address;
  /** peer IP -> expiry (ms since epoch) */
  readonly permissions = new Map<string, number>();
  /** channel number -> peer; an expired binding stays until rebound, so the number cannot go to another peer early (RFC 8656 section 12) */
  readonly channelBindings = new Map<number, ChannelBinding>();
  /** peerKey(peer) -> its channel number: the way back, looked up for every datagram a peer sends */
  private readonly peerChannels = new Map<string, number>();
  lifetime: number;
  timeToExpiry: number;
  /** packets dropped over the bandwidth cap, client to peers and peers to client */
  dropped = { toPeer: 0, fromPeer: 0 };
  private timer: NodeJS.Timeout;
  private readonly toPeerBudget: Budget | undefined;
  private readonly fromPeerBudget: Budget | undefined;

  constructor(
    msg: Message,
    private readonly server: Server,
    readonly sockets: Socket[],
    lifetime: number,
    /** gives back the allocation's place in its user's and IP's quotas */
    private readonly releaseQuota: () => void = () => {},
  ) {
    this.transactionID = msg.transactionID;
    this.transport = msg.transport.revert();
    this.fiveTuple = msg.transport.get5Tuple();
    this.user = msg.user;
    const first = sockets[0];
    if (!first) throw new Error('an allocation needs a relay socket');
    this.relayedTransportAddress = this.getRelayedAddress(first.address().address, first.address().port);
    this.mappedAddress = msg.transport.src;
    this.lifetime = lifetime;
    this.timeToExpiry = Date.now() + lifetime * 1000;
    this.timer = setTimeout(() => this.destroy(), lifetime * 1000);
    if (server.bandwidthLimit > 0) {
      this.toPeerBudget = new Budget(server.bandwidthLimit);
      this.fromPeerBudget = new Budget(server.bandwidthLimit);
    }
    server.allocations[this.fiveTuple] = this;
    for (const socket of sockets) {
      socket.on('message', (data, rinfo) => this.fromPeer(socket, data, rinfo.address, rinfo.port));
      // An error on a relay socket is the allocation's, never the process's.
      socket.on('error', (err) => this.server.debug('ERROR', err));
    }
  }

  /** A datagram from a peer: to the client as ChannelData when the peer has a channel, else as a Data indication. */
  private fromPeer(socket: Socket, data: Buffer, ip: string, port: number): void {
    const from = this.peerAddress(ip, port);
    if (!from) return;
    if (!this.hasPermission(from.address)) {
      const a = socket.address();
      this.server.debug('TRACE', `permission fail for ${from} at ${a.address}:${a.port}`);
      return;
    }
    if (this.fromPeerBudget && !this.fromPeerBudget.take(data.length)) {
      this.dropped.fromPeer++;
      this.server.stats.overBandwidth++;
      return;
    }
    const stats = this.server.stats;
    stats.packetsToClients++;
    stats.bytesToClients += data.length;
    const channelNumber = this.getPeerChannelNumber(from);
    const dst = this.transport.dst;
    if (channelNumber !== undefined && this.channelPeer(channelNumber)) {
      // No callback: node would defer one per packet to report what, for relayed media, is loss like any other.
      this.transport.socket.send(new ChannelMessage(channelNumber, data).write(), dst.port, dst.address);
      return;
    }
    const indication = new Message(this.server, this.transport);
    indication.addAttribute('xor-peer-address', from);
    indication.data(data);
  }

  /** Restarts the expiry timer for `lifetime` seconds (the current lifetime when omitted). */
  update(lifetime?: number): void {
    clearTimeout(this.timer);
    if (lifetime) this.lifetime = lifetime;
    this.server.debug('TRACE', `updating allocation ${this.relayedTransportAddress} lifetime: ${this.lifetime}`);
    this.timer = setTimeout(() => this.destroy(), this.lifetime * 1000);
    this.timeToExpiry = Date.now() + this.lifetime * 1000;
  }

  permit(address: string): void {
    this.server.debug('TRACE', `add permission for ${address} to allocation ${this.relayedTransportAddress}`);
    this.permissions.set(address, Date.now() + PERMISSION_LIFETIME_MS);
  }

  hasPermission(address: string): boolean {
    const exp = this.permissions.get(address);
    return exp !== undefined && exp >= Date.now();
  }

  /** The channel bound to `peer` (expired ones included, as they still hold the number). */
  getPeerChannelNumber(peer: Address): number | undefined {
    return this.peerChannels.get(peerKey(peer.address, peer.port));
  }

  /** Binds or refreshes channel `n` to `peer`, and installs or refreshes the peer's permission (RFC 8656 section 12.2). */
  bindChannel(n: number, peer: Address): void {
    const before = this.channelBindings.get(n);
    if (before) this.peerChannels.delete(peerKey(before.peer.address, before.peer.port));
    this.channelBindings.set(n, { peer, expiresAt: Date.now() + CHANNEL_LIFETIME_MS });
    this.peerChannels.set(peerKey(peer.address, peer.port), n);
    this.permit(peer.address);
  }

  /**
   * The source of a peer's datagram as an Address: a channel's peer as bound when node spells it the same
   * (every IPv4 address), so the common case parses nothing; else parsed. Undefined when it is no address.
   */
  private peerAddress(ip: string, port: number): Address | undefined {
    const n = this.peerChannels.get(peerKey(ip, port));
    const bound = n === undefined ? undefined : this.channelBindings.get(n);
    if (bound) return bound.peer;
    try {
      return new Address(ip, port);
    } catch {
      return undefined;
    }
  }

  /** The peer of an unexpired channel. */
  channelPeer(n: number): Address | undefined {
    const b = this.channelBindings.get(n);
    return b && b.expiresAt >= Date.now() ? b.peer : undefined;
  }

  /** Relays `data` from the client to `peer`, when the peer has a permission (false when not); over the bandwidth cap it is dropped. */
  toPeer(data: Buffer, peer: Address): boolean {
    if (!this.hasPermission(peer.address)) return false;
    if (this.toPeerBudget && !this.toPeerBudget.take(data.length)) {
      this.dropped.toPeer++;
      this.server.stats.overBandwidth++;
      return true;
    }
    // No callback, as for the way back (fromPeer).
    this.sockets[0]?.send(data, peer.port, peer.address);
    const stats = this.server.stats;
    stats.packetsToPeers++;
    stats.bytesToPeers += data.length;
    return true;
  }

  /** Forgets the allocation and frees its relay ports. */
  destroy(): void {
    clearTimeout(this.timer);
    this.releaseQuota();
    if (this.server.allocations[this.fiveTuple] === this) delete this.server.allocations[this.fiveTuple];
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  private getRelayedAddress(address: string, port: number): Address {
    const external = this.server.externalIps;
    if (typeof external === 'string') return new Address(external, port);
    if (external) return new Address(external[address] ?? external['default'] ?? address, port);
    return new Address(address, port);
  }
}

/** The key of a peer in peerChannels: its address as Address spells it, and its port. */
function peerKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/**
 * A token bucket of bytes: `rate` a second, holding at most one second's worth, so media may burst (a key
 * frame) but not exceed the rate over time. Dropping, not queueing, is right for real-time media.
 */
class Budget {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly rate: number) {
    this.tokens = rate;
  }

  take(bytes: number): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (bytes > this.tokens) return false;
    this.tokens -= bytes;
    return true;
  }
}
