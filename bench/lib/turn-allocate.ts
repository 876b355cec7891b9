/**
 * A minimal TURN client for the allocation-rate figure of bench/turn.ts: each allocation is what
 * a fresh browser client does on a new socket (a new 5-tuple): Allocate without credentials,
 * the 401 with REALM and NONCE, Allocate with long-term credentials (MESSAGE-INTEGRITY), then
 * Refresh with LIFETIME 0 to free it. Written here from RFC 8489 / 8656 rather than taken from
 * our node-turn fork, so the client does not share the server's codec (coturn checks it too).
 * turnutils_uclient cannot do this: it allocates its clients one after another with pauses
 * between them (about 10 per second for 50 clients), which would measure uclient, not the server.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

const MAGIC = 0x2112a442;
const ALLOCATE = 0x0003;
const REFRESH = 0x0004;
const BINDING = 0x0001;
const SUCCESS = 0x0100;
const ERROR = 0x0110;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, LIFETIME: 0x000d, REALM: 0x0014, NONCE: 0x0015, REQUESTED_TRANSPORT: 0x0019 };

interface Message {
  type: number;
  txid: Buffer;
  attrs: Map<number, Buffer>;
}

function encode(type: number, attrs: [number, Buffer][], key?: Buffer): { buf: Buffer; txid: Buffer } {
  const txid = randomBytes(12);
  const parts: Buffer[] = [];
  for (const [t, v] of attrs) {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(t, 0);
    h.writeUInt16BE(v.length, 2);
    parts.push(h, v, Buffer.alloc((4 - (v.length % 4)) % 4));
  }
  let body = Buffer.concat(parts);
  const header = (len: number): Buffer => {
    const b = Buffer.alloc(20);
    b.writeUInt16BE(type, 0);
    b.writeUInt16BE(len, 2);
    b.writeUInt32BE(MAGIC, 4);
    txid.copy(b, 8);
    return b;
  };
  if (key) {
    // RFC 8489 14.5: the HMAC covers the message up to the attribute, its length field already counting the 24 bytes of MESSAGE-INTEGRITY.
    const mac = createHmac('sha1', key)
      .update(Buffer.concat([header(body.length + 24), body]))
      .digest();
    const h = Buffer.alloc(4);
    h.writeUInt16BE(ATTR.MESSAGE_INTEGRITY, 0);
    h.writeUInt16BE(20, 2);
    body = Buffer.concat([body, h, mac]);
  }
  return { buf: Buffer.concat([header(body.length), body]), txid };
}

function decode(buf: Buffer): Message | undefined {
  if (buf.length < 20 || buf.readUInt32BE(4) !== MAGIC) return undefined;
  const attrs = new Map<number, Buffer>();
  const end = Math.min(buf.length, 20 + buf.readUInt16BE(2));
  for (let o = 20; o + 4 <= end;) {
    const t = buf.readUInt16BE(o);
    const l = buf.readUInt16BE(o + 2);
    if (!attrs.has(t)) attrs.set(t, buf.subarray(o + 4, o + 4 + l));
    o += 4 + l + ((4 - (l % 4)) % 4);
  }
  return { type: buf.readUInt16BE(0), txid: buf.subarray(8, 20), attrs };
}

const errorCode = (m: Message): number | undefined => {
  const v = m.attrs.get(ATTR.ERROR_CODE);
  return v && v.length >= 4 ? (v[2] ?? 0) * 100 + (v[3] ?? 0) : undefined;
};

/** One request on `sock`, answered or rejected after `timeoutMs` (loopback: a lost datagram, not a slow server, is what a timeout means). */
function transact(sock: Socket, port: number, host: string, req: { buf: Buffer; txid: Buffer }, timeoutMs: number): Promise<Message> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.off('message', onMessage);
      reject(new Error('no answer'));
    }, timeoutMs);
    const onMessage = (data: Buffer): void => {
      const m = decode(data);
      if (!m || !m.txid.equals(req.txid)) return;
      clearTimeout(timer);
      sock.off('message', onMessage);
      resolve(m);
    };
    sock.on('message', onMessage);
    sock.send(req.buf, port, host);
  });
}

export interface TurnTarget {
  host: string;
  port: number;
  username: string;
  password: string;
}

function bind(sock: Socket, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

/** Allocates and frees one relay on a new socket; rejects with what went wrong. */
export async function allocateAndFree(t: TurnTarget, timeoutMs = 2000, localPort = 0): Promise<void> {
  const sock = createSocket('udp4');
  try {
    await bind(sock, localPort);
    const transport: [number, Buffer] = [ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0])];
    const challenge = await transact(sock, t.port, t.host, encode(ALLOCATE, [transport]), timeoutMs);
    const realm = challenge.attrs.get(ATTR.REALM);
    const nonce = challenge.attrs.get(ATTR.NONCE);
    if (challenge.type !== (ALLOCATE | ERROR) || errorCode(challenge) !== 401 || !realm || !nonce)
      throw new Error(
        `Allocate without credentials: expected a 401 with REALM and NONCE, got type 0x${challenge.type.toString(16)} code ${errorCode(challenge)}`,
      );
    const key = createHash('md5').update(`${t.username}:${realm.toString()}:${t.password}`).digest();
    const auth: [number, Buffer][] = [
      [ATTR.USERNAME, Buffer.from(t.username)],
      [ATTR.REALM, realm],
      [ATTR.NONCE, nonce],
    ];
    const ok = await transact(sock, t.port, t.host, encode(ALLOCATE, [transport, ...auth], key), timeoutMs);
    if (ok.type !== (ALLOCATE | SUCCESS)) throw new Error(`Allocate: type 0x${ok.type.toString(16)} code ${errorCode(ok)}`);
    const freed = await transact(sock, t.port, t.host, encode(REFRESH, [[ATTR.LIFETIME, Buffer.alloc(4)], ...auth], key), timeoutMs);
    if (freed.type !== (REFRESH | SUCCESS)) throw new Error(`Refresh 0: type 0x${freed.type.toString(16)} code ${errorCode(freed)}`);
  } finally {
    sock.close();
  }
}

/** True once a STUN Binding request to host:port is answered (a readiness probe for a TURN server). */
export async function stunAnswers(host: string, port: number, timeoutMs = 300): Promise<boolean> {
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const m = await transact(sock, port, host, encode(BINDING, []), timeoutMs);
    return m.type === (BINDING | SUCCESS);
  } catch {
    return false;
  } finally {
    sock.close();
  }
}

export interface AllocationRun {
  done: number;
  failed: number;
  /** The first few failures' messages. */
  errors: string[];
  ms: number;
}

/** Client ports the storm takes its sockets from, one after another (see allocationStorm). */
export interface PortRange {
  min: number;
  max: number;
}

/** Hands out the ports of a range one after another, wrapping; one per run, so storms in turn do not start again at the same ports. */
export class PortCursor {
  #next: number;
  constructor(readonly range: PortRange) {
    this.#next = range.min;
  }
  take(): number {
    const p = this.#next;
    this.#next = p >= this.range.max ? this.range.min : p + 1;
    return p;
  }
}

/**
 * `lanes` clients allocating and freeing one after another until `durationMs` has passed: the
 * rate a bounded number of concurrent clients get, as a server under a burst of joins sees.
 * Each allocation binds the next port of `ports` rather than any free one: coturn keeps a freed
 * allocation's 5-tuple for about a second (a new Allocate from it gets 437), and the kernel hands
 * a just-closed port out again at once, so most of a storm on port 0 measured that, not allocating.
 * The range must lie outside the kernel's ephemeral ports too: turnutils_uclient's clients exit
 * without freeing their allocations, and a storm socket on one of their old ports gets a 437.
 */
export async function allocationStorm(t: TurnTarget, lanes: number, durationMs: number, ports: PortCursor): Promise<AllocationRun> {
  const out: AllocationRun = { done: 0, failed: 0, errors: [], ms: 0 };
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const port = (): number => ports.take();
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() < deadline) {
        try {
          await allocateAndFree(t, 2000, port());
          out.done++;
        } catch (err) {
          // A port some other socket of the machine holds: not the server's doing, take the next.
          if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
          out.failed++;
          if (out.errors.length < 5) out.errors.push((err as Error).message);
        }
      }
    }),
  );
  out.ms = performance.now() - t0;
  return out;
}
