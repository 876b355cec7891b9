// The 5-tuple a message came on. Ported from node-turn 0.0.6 lib/transport.js (MIT, Atlantis Software).
import { PROTOCOL } from './constants.js';
import type { Address } from './address.js';

/**
 * What a message to the client is sent through: a UDP listener (node's dgram socket has this shape)
 * or one TCP/TLS connection, which ignores the address since the connection has only one.
 */
export interface ClientSocket {
  send(msg: Buffer, port: number, address: string, callback?: (error: Error | null) => void): void;
  /** true once a connection has ended: an Allocate still binding its port must not outlive it */
  readonly closed?: boolean;
}

export class Transport {
  constructor(
    readonly protocol: number,
    readonly src: Address,
    readonly dst: Address,
    readonly socket: ClientSocket,
  ) {}

  /** The key of the allocation this 5-tuple owns. */
  get5Tuple(): string {
    return fiveTupleKey(this.protocol, this.src.address, this.src.port, this.dst.address, this.dst.port);
  }

  revert(): Transport {
    return new Transport(this.protocol, this.dst, this.src, this.socket);
  }

  toString(): string {
    return `${protocolName(this.protocol)}: from ${this.src} to ${this.dst}`;
  }
}

/** The key of a 5-tuple's allocation; the addresses spelled as Address spells them. */
export function fiveTupleKey(protocol: number, srcAddress: string, srcPort: number, dstAddress: string, dstPort: number): string {
  return `${protocolName(protocol)}://${srcAddress}:${srcPort}>${dstAddress}:${dstPort}`;
}

function protocolName(protocol: number): string {
  return protocol === PROTOCOL.UDP ? 'UDP' : protocol === PROTOCOL.TCP ? 'TCP' : 'UNKNOWN PROTOCOL';
}
