// UDP sockets for the listeners and the relays: node's dgram with one change that matters per packet.
import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/**
 * dgram resolves the destination of every send through `lookup`, and dns.lookup answers even an IP
 * literal on the next tick: one deferred callback per relayed packet. Every address this server sends
 * to is a literal (Address validates it), so it is answered at once; a name still goes to dns.lookup.
 */
// node calls it with the family as a number (lib/internal/dgram.js), though its types say options.
function literalLookup(hostname: string, options: LookupOneOptions | number, callback: LookupCallback): void {
  const family = isIP(hostname);
  if (family !== 0) return callback(null, hostname, family);
  dnsLookup(hostname, typeof options === 'number' ? { family: options } : options, callback);
}

export function createUdpSocket(type: SocketType): Socket {
  return createSocket({ type, lookup: literalLookup });
}
