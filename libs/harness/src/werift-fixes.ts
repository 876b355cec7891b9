import { createRequire } from 'node:module';

/*
 * Two of werift's deviations that break a long-lived Node peer against mediasoup, fixed here
 * for the test and load-test peers (werift is their WebRTC stack, not the product's).
 */

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

/**
 * werift cannot take a new m-section in the place of a closed one: mediasoup-client recycles
 * a closed consumer's m-section for the next consume, and werift's createAnswer then fails
 * ("Cannot read properties of undefined (reading 'direction')"). So a Node peer whose
 * consumer was closed (a producer that left, a media node that died) could consume nothing
 * more. Receive-side m-sections are appended instead of recycled: the SDP grows with every
 * closed consumer, which a test's peer can afford.
 */
export function appendInsteadOfRecycling(): void {
  const require = createRequire(import.meta.url);
  const mod: unknown = require('msc-node/lib/handlers/sdp/RemoteSdp.js');
  const RemoteSdp: unknown = mod && typeof mod === 'object' ? Reflect.get(mod, 'RemoteSdp') : undefined;
  const proto: unknown = typeof RemoteSdp === 'function' ? RemoteSdp.prototype : undefined;
  if (!proto || typeof proto !== 'object' || Reflect.get(proto, PATCHED)) return;
  const receive: unknown = Reflect.get(proto, 'receive');
  const replace: unknown = Reflect.get(proto, '_replaceMediaSection');
  const add: unknown = Reflect.get(proto, '_addMediaSection');
  if (typeof receive !== 'function' || typeof replace !== 'function' || typeof add !== 'function') return;
  let receiving = 0;
  Reflect.set(proto, 'receive', function (this: object, ...args: unknown[]) {
    receiving++;
    try {
      return receive.apply(this, args) as unknown;
    } finally {
      receiving--;
    }
  });
  Reflect.set(proto, '_replaceMediaSection', function (this: object, section: unknown, reuseMid?: string) {
    return (receiving > 0 && reuseMid !== undefined ? add.call(this, section) : replace.call(this, section, reuseMid)) as unknown;
  });
  Reflect.set(proto, PATCHED, true);
}
const PATCHED = Symbol.for('strata.harness.appendInsteadOfRecycling');
