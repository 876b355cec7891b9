// A transport address (IP and port). Ported from node-turn 0.0.6 lib/address.js (MIT, Atlantis Software);
// node's own isIP replaces its regular expressions, whose IPv6 expansion was wrong for "a::b:c".
import { isIPv4, isIPv6 } from 'node:net';
import { FAMILY, type Family } from './constants.js';

export class Address {
  readonly family: Family;
  readonly address: string;

  constructor(
    address: string,
    readonly port: number,
  ) {
    // An IPv6 zone ("fe80::1%eth0") is not part of the address on the wire.
    const ip = address.split('%')[0] ?? '';
    if (isIPv4(ip)) {
      this.family = FAMILY.IPV4;
      this.address = ip;
    } else if (isIPv6(ip)) {
      this.family = FAMILY.IPV6;
      this.address = expandIPv6(ip);
    } else {
      throw new Error(`invalid ip address: ${JSON.stringify(address)}`);
    }
  }

  /** The address as 4 or 16 network-order bytes. */
  toBytes(): Buffer {
    if (this.family === FAMILY.IPV4) return Buffer.from(this.address.split('.').map(Number));
    const out = Buffer.alloc(16);
    this.address.split(':').forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
    return out;
  }

  static fromBytes(bytes: Buffer, port: number): Address {
    if (bytes.length === 4) return new Address(Array.from(bytes).join('.'), port);
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    return new Address(groups.join(':'), port);
  }

  toString(): string {
    return `${this.family === FAMILY.IPV4 ? 'IPV4://' : 'IPV6://'}${this.address}:${this.port}`;
  }
}

/** Eight full groups, so one address has one spelling (permissions and channels are keyed by it). */
function expandIPv6(ip: string): string {
  let s = ip.toLowerCase();
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4?.[1]) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${(((b[0] ?? 0) << 8) | (b[1] ?? 0)).toString(16)}:${(((b[2] ?? 0) << 8) | (b[3] ?? 0)).toString(16)}`;
  }
  const [left = '', right] = s.split('::');
  const l = left ? left.split(':') : [];
  const r = right !== undefined && right !== '' ? right.split(':') : [];
  const fill = right === undefined ? [] : new Array<string>(8 - l.length - r.length).fill('0');
  return [...l, ...fill, ...r].map((g) => parseInt(g, 16).toString(16)).join(':');
}
