// A minimal TURN client over UDP for the tests: it builds and signs real STUN requests with our node-turn
// codec, and sends them (or any bytes) at a server on loopback.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { mintCredential } from '../src/credentials.js';
import type { TurnServerOptions } from '../src/turn-server.js';
import { ATTR, Address, CLASS, ChannelMessage, METHOD, Message, PROTOCOL, Transport, longTermKey, type MessageContext } from '@strata/node-turn';

export interface Credentials {
  username: string;
  password: string;
}

const nowhere = new Address('127.0.0.1', 1);
// Replies carry no USERNAME, so nothing here needs a password: MESSAGE-INTEGRITY is checked by assertSignedBy.
const ctx: MessageContext = { realm: '', software: 'test', debug: () => {}, passwordFor: () => undefined };

export const SECRET = 'auth-test-secret';
export const REALM = 'auth-realm';

/** A TurnServer on loopback: any free UDP port, loopback peers allowed. */
export function serverOptions(overrides: Partial<TurnServerOptions> = {}): TurnServerOptions {
  return {
    listenIp: '127.0.0.1',
    port: 0,
    udp: true,
    relayIp: '127.0.0.1',
    externalIp: '127.0.0.1',
    minPort: 46000,
    maxPort: 46999,
    realm: REALM,
    secret: SECRET,
    nonceLifetimeMs: 600_000,
    maxAllocationsPerIdentity: 0,
    maxAllocationsPerIp: 0,
    bandwidthBytesPerSecond: 0,
    allowLoopbackPeers: true,
    allowPrivatePeers: false,
    ...overrides,
  };
}

export const mint = (secret: string, identity: string, ttlSeconds = 600, nowSeconds?: number): Credentials => {
  const c = mintCredential(secret, identity, ttlSeconds, nowSeconds);
  return { username: c.username, password: c.credential };
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function parse(raw: Buffer): Message {
  const m = new Message(ctx, new Transport(PROTOCOL.UDP, nowhere, nowhere, createSocket('udp4')));
  assert.ok(m.read(raw), 'a STUN message');
  return m;
}

/** The attribute types of a raw STUN message, in order. */
export function attributeTypes(raw: Buffer): number[] {
  const out: number[] = [];
  for (let o = 20; o + 4 <= raw.length;) {
    out.push(raw.readUInt16BE(o));
    const len = raw.readUInt16BE(o + 2);
    o += 4 + len + (len % 4 ? 4 - (len % 4) : 0);
  }
  return out;
}

export class UdpClient {
  readonly socket: Socket = createSocket('udp4');
  private readonly inbox: Buffer[] = [];
  private waiters: ((b: Buffer) => void)[] = [];
  realm = '';
  nonce = '';

  private constructor(readonly serverPort: number) {
    this.socket.on('message', (b) => {
      const w = this.waiters.shift();
      if (w) w(b);
      else this.inbox.push(b);
    });
  }

  static async open(serverPort: number): Promise<UdpClient> {
    const c = new UdpClient(serverPort);
    await new Promise<void>((r) => c.socket.bind(0, '127.0.0.1', r));
    return c;
  }

  get port(): number {
    return this.socket.address().port;
  }

  next(timeoutMs = 2000): Promise<Buffer> {
    const b = this.inbox.shift();
    if (b) return Promise.resolve(b);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error('no answer'));
      }, timeoutMs);
      const waiter = (x: Buffer) => {
        clearTimeout(t);
        resolve(x);
      };
      this.waiters.push(waiter);
    });
  }

  /** Whatever arrived (and arrives within `ms`) that nobody waited for. */
  async drain(ms: number): Promise<Buffer[]> {
    await sleep(ms);
    return this.inbox.splice(0);
  }

  message(method: number, cls: number = CLASS.REQUEST): Message {
    // MESSAGE-INTEGRITY's key is made with the context's realm: the one the server named.
    const client = this;
    const signing: MessageContext = {
      ...ctx,
      get realm() {
        return client.realm;
      },
    };
    const m = new Message(signing, new Transport(PROTOCOL.UDP, nowhere, nowhere, this.socket));
    m.method = method;
    m.class = cls;
    m.transactionId = randomBytes(12);
    return m;
  }

  sendRaw(buf: Buffer): void {
    this.socket.send(buf, this.serverPort, '127.0.0.1');
  }

  /** An unauthenticated Allocate: the server's 401 challenge, whose REALM and NONCE are kept. */
  async challenge(): Promise<Message> {
    const m = this.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    this.sendRaw(m.toBuffer());
    const r = parse(await this.next());
    this.realm = r.getAttribute('realm') ?? '';
    this.nonce = r.getAttribute('nonce') ?? '';
    return r;
  }

  /** Sends `m` with USERNAME, REALM, NONCE (the kept one, unless given) and MESSAGE-INTEGRITY under `creds`. */
  async request(m: Message, creds: Credentials, nonce?: string): Promise<{ msg: Message; raw: Buffer }> {
    if (!this.nonce) await this.challenge();
    m.addAttribute('username', creds.username);
    m.addAttribute('realm', this.realm);
    m.addAttribute('nonce', nonce ?? this.nonce);
    m.setUser({ username: creds.username, password: creds.password });
    this.sendRaw(m.toBuffer());
    const raw = await this.next();
    return { msg: parse(raw), raw };
  }

  allocate(creds: Credentials, nonce?: string): Promise<{ msg: Message; raw: Buffer }> {
    const m = this.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    return this.request(m, creds, nonce);
  }

  async channelBind(creds: Credentials, channel: number, peer: Address): Promise<Message> {
    const m = this.message(METHOD.CHANNEL_BIND);
    m.addAttribute('channel-number', channel);
    m.addAttribute('xor-peer-address', peer);
    return (await this.request(m, creds)).msg;
  }

  sendChannelData(channel: number, data: Buffer): void {
    this.sendRaw(new ChannelMessage(channel, data).write());
  }

  close(): void {
    this.socket.close();
  }
}

/** A peer on loopback that counts what it receives and can answer through the relay. */
export class UdpPeer {
  readonly socket: Socket = createSocket('udp4');
  readonly received: Buffer[] = [];

  static async open(): Promise<UdpPeer> {
    const p = new UdpPeer();
    p.socket.on('message', (b) => p.received.push(b));
    await new Promise<void>((r) => p.socket.bind(0, '127.0.0.1', r));
    return p;
  }

  get address(): Address {
    return new Address('127.0.0.1', this.socket.address().port);
  }

  sendTo(relay: Address, data: Buffer): void {
    this.socket.send(data, relay.port, relay.address);
  }

  close(): void {
    this.socket.close();
  }
}

/** An error response that challenges: the code, REALM, a NONCE other than `sent`, and no MESSAGE-INTEGRITY. */
export function assertChallenge(r: { msg: Message; raw: Buffer }, code: number, realm: string, sent: string): string {
  assert.equal(r.msg.class, CLASS.ERROR);
  assert.equal(r.msg.getAttribute('error-code')?.code, code);
  assert.equal(r.msg.getAttribute('realm'), realm, 'REALM');
  const nonce = r.msg.getAttribute('nonce');
  assert.ok(nonce, 'a NONCE');
  assert.notEqual(nonce, sent, 'a fresh NONCE');
  assert.ok(!attributeTypes(r.raw).includes(ATTR.MESSAGE_INTEGRITY), 'no MESSAGE-INTEGRITY on a challenge');
  return nonce;
}

/** `raw` carries MESSAGE-INTEGRITY (then FINGERPRINT) made with the long-term key of `creds`, checked from RFC 8489 section 14.5. */
export function assertSignedBy(raw: Buffer, creds: Credentials, realm: string): void {
  const types = attributeTypes(raw);
  assert.deepEqual(types.slice(-2), [ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT], 'MESSAGE-INTEGRITY then FINGERPRINT, last');
  const miAt = raw.length - 8 - 24;
  const head = Buffer.from(raw.subarray(0, miAt));
  head.writeUInt16BE(miAt - 20 + 24, 2);
  const want = createHmac('sha1', longTermKey(creds.username, realm, creds.password))
    .update(head)
    .digest();
  assert.deepEqual(raw.subarray(miAt + 4, miAt + 24), want, 'signed with the key of these credentials');
}
