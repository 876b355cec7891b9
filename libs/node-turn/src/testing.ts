// Test support for the TURN tests of this library and of services/turn (one home, imported as
// `@strata/node-turn/testing`): reading raw STUN, checking signatures from the RFC's definitions rather than
// through our codec, a TURN client and a peer over UDP on loopback, a test server, and small waits.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import {
  ATTR,
  Address,
  CLASS,
  ChannelMessage,
  METHOD,
  Message,
  PROTOCOL,
  Server,
  Transport,
  fingerprintOf,
  longTermKey,
  peerPolicy,
  type MessageContext,
  type ServerOptions,
} from './index.js';

export interface Credentials {
  username: string;
  password: string;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check()` holds, polling every 10 ms; fails naming `what` after `ms`. */
export async function until(what: string, check: () => boolean, ms = 2000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`timed out waiting for ${what}`);
}

const nowhere = new Address('127.0.0.1', 1);
// Replies carry no USERNAME, so nothing here needs a password: MESSAGE-INTEGRITY is checked by assertSignedBy.
const ctx: MessageContext = { realm: '', software: 'test', debug: () => {}, passwordFor: () => undefined };

/** A new request (or `cls`) of `method` with a random transaction id; its MESSAGE-INTEGRITY uses `realm()`. */
export function newMessage(method: number, transport: Transport, realm: () => string = () => '', cls: number = CLASS.REQUEST): Message {
  const signing: MessageContext = {
    ...ctx,
    get realm() {
      return realm();
    },
  };
  const m = new Message(signing, transport);
  m.method = method;
  m.class = cls;
  m.transactionId = randomBytes(12);
  return m;
}

/** A raw STUN message, parsed (and asserted to be one). */
export function parse(raw: Buffer, protocol: number = PROTOCOL.UDP): Message {
  const m = new Message(ctx, new Transport(protocol, nowhere, nowhere, protocol === PROTOCOL.UDP ? createSocket('udp4') : { send: () => {} }));
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

/**
 * `raw` ends with MESSAGE-INTEGRITY made with the long-term key of `creds` and then FINGERPRINT, both checked
 * from their definitions (RFC 8489 sections 14.5 and 14.7), not through our codec.
 */
export function assertSignedBy(raw: Buffer, creds: Credentials, realm: string): void {
  const types = attributeTypes(raw);
  assert.deepEqual(types.slice(-2), [ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT], 'MESSAGE-INTEGRITY then FINGERPRINT, last');
  const fpAt = raw.length - 8;
  const miAt = fpAt - 24;
  const head = Buffer.from(raw.subarray(0, miAt));
  head.writeUInt16BE(miAt - 20 + 24, 2);
  const want = createHmac('sha1', longTermKey(creds.username, realm, creds.password))
    .update(head)
    .digest();
  assert.deepEqual(raw.subarray(miAt + 4, miAt + 24), want, 'MESSAGE-INTEGRITY: HMAC-SHA1 with the key of these credentials over the message before it');
  assert.equal(raw.readUInt32BE(fpAt + 4), fingerprintOf(raw.subarray(0, fpAt)), 'FINGERPRINT is CRC-32 ^ 0x5354554e over the message before it');
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

/** A node-turn Server on loopback for tests: long-term credentials `users` in `realm`, loopback peers allowed. */
export function testServer(realm: string, users: Record<string, string>, overrides: Partial<ServerOptions> = {}): Server {
  return new Server({
    listeningIps: ['127.0.0.1'],
    listeningPort: 0,
    relayIps: ['127.0.0.1'],
    minPort: 47000,
    maxPort: 47999,
    authMech: 'long-term',
    realm,
    credentials: users,
    peerAllowed: peerPolicy({ allowLoopback: true }),
    debug: () => {},
    ...overrides,
  });
}

/** A minimal TURN client over UDP: builds and signs real STUN requests with our codec and sends them (or any bytes). */
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
    return newMessage(method, new Transport(PROTOCOL.UDP, nowhere, nowhere, this.socket), () => this.realm, cls);
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

  /** An authenticated Allocate for a UDP relay; `extra` adds attributes before it is signed. */
  allocate(creds: Credentials, nonce?: string, extra?: (m: Message) => void): Promise<{ msg: Message; raw: Buffer }> {
    const m = this.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    extra?.(m);
    return this.request(m, creds, nonce);
  }

  channelBindRequest(creds: Credentials, channel: number, peer: Address): Promise<{ msg: Message; raw: Buffer }> {
    const m = this.message(METHOD.CHANNEL_BIND);
    m.addAttribute('channel-number', channel);
    m.addAttribute('xor-peer-address', peer);
    return this.request(m, creds);
  }

  async channelBind(creds: Credentials, channel: number, peer: Address): Promise<Message> {
    return (await this.channelBindRequest(creds, channel, peer)).msg;
  }

  sendChannelData(channel: number, data: Buffer): void {
    this.sendRaw(new ChannelMessage(channel, data).write());
  }

  close(): void {
    this.socket.close();
  }
}

/** A peer on loopback that records what it receives and can answer through the relay. */
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

/** Opens UdpClients on the server port `port()` gives when called, and closes all that it opened. */
export function udpClients(port: () => number): { client(): Promise<UdpClient>; closeAll(): void } {
  const clients: UdpClient[] = [];
  return {
    client: async () => {
      const c = await UdpClient.open(port());
      clients.push(c);
      return c;
    },
    closeAll: () => {
      for (const c of clients.splice(0)) c.close();
    },
  };
}
