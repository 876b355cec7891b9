/**
 * werift skips RFC 7675 consent checks when the remote agent is ICE-lite (its loop runs
 * `while (!this.remoteIsLite ...)`), but the RFC asks them of the full agent whatever the
 * other side is, and mediasoup, which is ICE-lite, closes a WebRTC transport's ICE after
 * `iceConsentTimeout` (30 s) without them. So a werift peer goes deaf half a minute after
 * joining. This sends the consent checks werift leaves out: a STUN binding request on each
 * nominated pair every few seconds, through werift's own ICE connection. It reaches into
 * werift's internals (msc-node's `transport.pc`), so every step is checked and a missing
 * piece turns it off rather than throwing.
 */

const CONSENT_INTERVAL_MS = 5000;

interface Pair {
  remoteAddr: unknown;
  protocol: { request(req: unknown, addr: unknown, password: Buffer, retransmissions: number): Promise<unknown> };
}
interface IceConnection {
  remoteIsLite: boolean;
  remotePassword: string;
  state: string;
  nominated: Record<number, Pair>;
  readonly nominatedKeys: string[];
  buildRequest(pair: Pair, nominate: boolean): unknown;
}

function iceConnections(transport: object): IceConnection[] {
  const pc: unknown = Reflect.get(transport, 'pc');
  const ice: unknown = pc && typeof pc === 'object' ? Reflect.get(pc, 'iceTransports') : undefined;
  if (!Array.isArray(ice)) return [];
  return ice
    .map((t: unknown) => (t && typeof t === 'object' ? (Reflect.get(t, 'connection') as unknown) : undefined))
    .filter((c): c is IceConnection => !!c && typeof c === 'object' && typeof Reflect.get(c, 'buildRequest') === 'function');
}

/** Keeps a werift transport's ICE consent fresh towards an ICE-lite server; returns a stop function. */
export function keepIceConsent(transport: object): () => void {
  const timer = setInterval(() => {
    for (const conn of iceConnections(transport)) {
      if (!conn.remoteIsLite || conn.state === 'closed') continue;
      for (const key of conn.nominatedKeys) {
        const pair = conn.nominated[Number(key)];
        if (!pair) continue;
        pair.protocol.request(conn.buildRequest(pair, false), pair.remoteAddr, Buffer.from(conn.remotePassword, 'utf8'), 0).catch(() => undefined);
      }
    }
  }, CONSENT_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
