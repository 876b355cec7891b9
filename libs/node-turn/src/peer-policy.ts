// Which peers an allocation may relay to. Not in node-turn 0.0.6, which relayed anywhere: a TURN server
// that relays to its own network is an open proxy into it (RFC 8656 section 21.3, coturn's denied-peer-ip).
import { BlockList } from 'node:net';
import type { Address } from './address.js';

export interface PeerPolicyOptions {
  /** 127.0.0.0/8 and ::1 (tests and single-machine development relay to them) */
  allowLoopback?: boolean;
  /** RFC 1918, 100.64.0.0/10 (shared address space), fc00::/7 (unique local), link-local */
  allowPrivate?: boolean;
}

/** A predicate on peers: unspecified, multicast, broadcast and reserved addresses always denied; loopback and private ones unless allowed. */
export function peerPolicy(opts: PeerPolicyOptions = {}): (peer: Address) => boolean {
  const denied = new BlockList();
  denied.addSubnet('0.0.0.0', 8, 'ipv4');
  denied.addSubnet('224.0.0.0', 4, 'ipv4'); // multicast
  denied.addSubnet('240.0.0.0', 4, 'ipv4'); // reserved, and 255.255.255.255
  denied.addAddress('::', 'ipv6');
  denied.addSubnet('ff00::', 8, 'ipv6'); // multicast
  if (!opts.allowLoopback) {
    denied.addSubnet('127.0.0.0', 8, 'ipv4');
    denied.addAddress('::1', 'ipv6');
  }
  if (!opts.allowPrivate) {
    denied.addSubnet('10.0.0.0', 8, 'ipv4');
    denied.addSubnet('172.16.0.0', 12, 'ipv4');
    denied.addSubnet('192.168.0.0', 16, 'ipv4');
    denied.addSubnet('100.64.0.0', 10, 'ipv4');
    denied.addSubnet('169.254.0.0', 16, 'ipv4');
    denied.addSubnet('fc00::', 7, 'ipv6');
    denied.addSubnet('fe80::', 10, 'ipv6');
  }
  return (peer) => {
    const v4mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(peer.address);
    if (v4mapped?.[1] && v4mapped[2]) {
      const hi = parseInt(v4mapped[1], 16);
      const lo = parseInt(v4mapped[2], 16);
      return !denied.check(`${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, 'ipv4');
    }
    return !denied.check(peer.address, peer.family === 1 ? 'ipv4' : 'ipv6');
  };
}
