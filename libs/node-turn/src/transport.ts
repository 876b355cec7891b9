// The 5-tuple a message came on. Ported from node-turn 0.0.6 lib/transport.js (MIT, Atlantis Software).
import type { Socket } from 'node:dgram';
import { PROTOCOL } from './constants.js';
import type { Address } from './address.js';

export class Transport {
  constructor(
    readonly protocol: number,
    readonly src: Address,
    readonly dst: Address,
    readonly socket: Socket,
  ) {}

  /** The key of the allocation this 5-tuple owns. */
  get5Tuple(): string {
    const proto = this.protocol === PROTOCOL.UDP ? 'UDP' : '';
    return `${proto}://${this.src.address}:${this.src.port}>${this.dst.address}:${this.dst.port}`;
  }

  revert(): Transport {
    return new Transport(this.protocol, this.dst, this.src, this.socket);
  }

  toString(): string {
    return `${this.protocol === PROTOCOL.UDP ? 'UDP' : 'UNKNOWN PROTOCOL'}: from ${this.src} to ${this.dst}`;
  }
}
