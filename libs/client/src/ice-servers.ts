import type { WireIceServer } from './device.js';

/** How a TURN URL reaches its server (RFC 7065): `turn:` over UDP or TCP, `turns:` over TLS. */
export type TurnTransport = 'udp' | 'tcp' | 'tls';

/**
 * The transport of a `turn:`/`turns:` URL (RFC 7065: `turn:` without `?transport=` is UDP,
 * `turns:` is TLS over TCP); undefined for anything else (`stun:`, a typo).
 */
export function turnTransportOf(url: string): TurnTransport | undefined {
  const m = /^(turns?):[^?]+(?:\?transport=(udp|tcp))?$/i.exec(url.trim());
  if (!m) return undefined;
  if (m[1]!.toLowerCase() === 'turns') return 'tls';
  return m[2]?.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
}

/**
 * The ICE servers with only the TURN URLs of the given transports (a client that knows UDP is
 * blocked, or a test of one listener); servers left with no URL are dropped. `stun:` URLs are
 * kept: they cost no relay and are not what the choice is about.
 */
export function withTurnTransports(servers: readonly WireIceServer[], transports: readonly TurnTransport[]): WireIceServer[] {
  const keep = new Set(transports);
  return servers
    .map((s) => {
      const urls = s.urls.filter((u) => {
        const t = turnTransportOf(u);
        return t === undefined ? !/^turns?:/i.test(u.trim()) : keep.has(t);
      });
      return { ...s, urls };
    })
    .filter((s) => s.urls.length > 0);
}
