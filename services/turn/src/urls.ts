import { isIPv6 } from 'node:net';
import type { TurnTransport } from './config.js';

/**
 * The ICE server URLs of the transports served (RFC 7065): UDP and TCP on their ports, TLS as turns:
 * (whose transport is TCP). The order is the browser's order of preference when it has no other.
 */
export function turnUrls(host: string, ports: { udp?: number; tcp?: number; tls?: number }, transports: readonly TurnTransport[]): string[] {
  const h = isIPv6(host) ? `[${host}]` : host;
  const urls: string[] = [];
  if (transports.includes('udp') && ports.udp) urls.push(`turn:${h}:${ports.udp}?transport=udp`);
  if (transports.includes('tcp') && ports.tcp) urls.push(`turn:${h}:${ports.tcp}?transport=tcp`);
  if (transports.includes('tls') && ports.tls) urls.push(`turns:${h}:${ports.tls}?transport=tcp`);
  return urls;
}
