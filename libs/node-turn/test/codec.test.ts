// The codec fixes of the fork, against a real server on loopback: each of these failed on node-turn 0.0.6.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import {
  Address,
  ATTR,
  CLASS,
  ChannelMessage,
  FAMILY,
  METHOD,
  Message,
  PROTOCOL,
  Server,
  Transport,
  fingerprintOf,
  longTermKey,
  peerPolicy,
  type MessageContext,
} from '../src/index.js';

const REALM = 'test-realm';
const USER = 'alice';
const PASSWORD = 'alice-password';
const ctx: MessageContext = { realm: REALM, software: 'test', debug: () => {}, passwordFor: (u) => (u === USER ? PASSWORD : undefined) };

class Client {
  readonly socket: Socket = createSocket('udp4');
  private readonly inbox: Buffer[] = [];
  private waiters: ((b: Buffer) => void)[] = [];
  nonce = '';

  constructor(readonly serverPort: number) {
    this.socket.on('message', (b) => {
      const w = this.waiters.shift();
      if (w) w(b);
      else this.inbox.push(b);
    });
  }
  async bind(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
  }
  next(timeoutMs = 2000): Promise<Buffer> {
    const b = this.inbox.shift();
    if (b) return Promise.resolve(b);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer')), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  message(method: number, cls: number = CLASS.REQUEST): Message {
    const self = new Address('127.0.0.1', 1);
    const m = new Message(ctx, new Transport(PROTOCOL.UDP, self, self, this.socket));
    m.method = method;
    m.class = cls;
    m.transactionId = Buffer.from(Array.from({ length: 12 }, () => Math.floor(Math.random() * 256)));
    return m;
  }
  sendRaw(buf: Buffer): void {
    this.socket.send(buf, this.serverPort, '127.0.0.1');
  }
  /** Sends `m` authenticated (after one 401 for the nonce) and returns the parsed answer and its bytes. */
  async request(m: Message): Promise<{ msg: Message; raw: Buffer }> {
    if (!this.nonce) {
      const probe = this.message(METHOD.ALLOCATE);
      this.sendRaw(probe.toBuffer());
      const r = parse(await this.next());
      this.nonce = r.getAttribute('nonce') ?? '';
    }
    m.addAttribute('username', USER);
    m.addAttribute('realm', REALM);
    m.addAttribute('nonce', this.nonce);
    m.setUser({ username: USER, password: PASSWORD });
    this.sendRaw(m.toBuffer());
    const raw = await this.next();
    return { msg: parse(raw), raw };
  }
  close(): void {
    this.socket.close();
  }
}

function parse(raw: Buffer): Message {
  const self = new Address('127.0.0.1', 1);
  const m = new Message(ctx, new Transport(PROTOCOL.UDP, self, self, createSocket('udp4')));
  assert.ok(m.read(raw), 'a STUN message');
  return m;
}

/** The attribute types of a raw message, in order. */
function types(raw: Buffer): number[] {
  const out: number[] = [];
  for (let o = 20; o + 4 <= raw.length;) {
    out.push(raw.readUInt16BE(o));
    const len = raw.readUInt16BE(o + 2);
    o += 4 + len + (len % 4 ? 4 - (len % 4) : 0);
  }
  return out;
}

/** Checks MESSAGE-INTEGRITY and FINGERPRINT of `raw` from the RFC's definitions, not through our codec. */
function assertSigned(raw: Buffer): void {
  const t = types(raw);
  assert.deepEqual(t.slice(-2), [ATTR.MESSAGE_INTEGRITY, ATTR.FINGERPRINT], 'MESSAGE-INTEGRITY then FINGERPRINT, last');
  const fpAt = raw.length - 8;
  const miAt = fpAt - 24;
  const head = Buffer.from(raw.subarray(0, miAt));
  head.writeUInt16BE(miAt - 20 + 24, 2);
  const hmac = createHmac('sha1', longTermKey(USER, REALM, PASSWORD))
    .update(head)
    .digest();
  assert.deepEqual(raw.subarray(miAt + 4, miAt + 24), hmac, 'MESSAGE-INTEGRITY is HMAC-SHA1 over the message before it');
  assert.equal(raw.readUInt32BE(fpAt + 4), fingerprintOf(raw.subarray(0, fpAt)), 'FINGERPRINT is CRC-32 ^ 0x5354554e over the message before it');
}

describe('node-turn fork: codec fixes', () => {
  let server: Server;
  let port: number;
  const clients: Client[] = [];
  const client = async () => {
    const c = new Client(port);
    await c.bind();
    clients.push(c);
    return c;
  };
  const allocateOn = async (c: Client, extra?: (m: Message) => void) => {
    const m = c.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    extra?.(m);
    return c.request(m);
  };

  before(async () => {
    server = new Server({
      listeningIps: ['127.0.0.1'],
      listeningPort: 0,
      relayIps: ['127.0.0.1'],
      minPort: 47000,
      maxPort: 47999,
      authMech: 'long-term',
      realm: REALM,
      credentials: { [USER]: PASSWORD },
      peerAllowed: peerPolicy({ allowLoopback: true }),
      debug: () => {},
    });
    await server.start();
    port = server.network.sockets[0]?.address().port ?? 0;
  });
  after(() => {
    for (const c of clients) c.close();
    server.stop();
  });

  it('signs every authenticated response, ChannelBind success included, with MESSAGE-INTEGRITY and FINGERPRINT', async () => {
    const c = await client();
    const a = await allocateOn(c);
    assert.equal(a.msg.class, CLASS.SUCCESS);
    assertSigned(a.raw);
    const bind = c.message(METHOD.CHANNEL_BIND);
    bind.addAttribute('channel-number', 0x4001);
    bind.addAttribute('xor-peer-address', new Address('127.0.0.1', 9));
    const b = await c.request(bind);
    assert.equal(b.msg.class, CLASS.SUCCESS, String(b.msg.getAttribute('error-code')?.code));
    assertSigned(b.raw);
    // An error after authentication is signed too (a second Allocate on the same 5-tuple: 437).
    const again = await allocateOn(c);
    assert.equal(again.msg.getAttribute('error-code')?.code, 437);
    assertSigned(again.raw);
  });

  it('accepts REQUESTED-ADDRESS-FAMILY IPv4 and answers 440 for IPv6, which it cannot relay on', async () => {
    const v4 = await allocateOn(await client(), (m) => m.addAttribute('requested-address-family', FAMILY.IPV4));
    assert.equal(v4.msg.class, CLASS.SUCCESS);
    assert.equal(v4.msg.getAttribute('xor-relayed-address')?.family, FAMILY.IPV4);
    const v6 = await allocateOn(await client(), (m) => m.addAttribute('requested-address-family', FAMILY.IPV6));
    assert.equal(v6.msg.getAttribute('error-code')?.code, 440);
    assertSigned(v6.raw);
  });

  it('EVEN-PORT gives an even port, and with the R bit a RESERVATION-TOKEN that a second Allocate redeems for port + 1', async () => {
    const even = await allocateOn(await client(), (m) => m.addAttribute('even-port', false));
    assert.equal((even.msg.getAttribute('xor-relayed-address')?.port ?? 1) % 2, 0);
    assert.equal(even.msg.getAttribute('reservation-token'), undefined);

    const r = await allocateOn(await client(), (m) => m.addAttribute('even-port', true));
    const rtp = r.msg.getAttribute('xor-relayed-address')?.port ?? 1;
    const token = r.msg.getAttribute('reservation-token');
    assert.equal(rtp % 2, 0);
    assert.ok(token && token.length === 8, 'an 8-byte token');
    const rtcp = await allocateOn(await client(), (m) => m.addAttribute('reservation-token', token));
    assert.equal(rtcp.msg.getAttribute('xor-relayed-address')?.port, rtp + 1);
    const reuse = await allocateOn(await client(), (m) => m.addAttribute('reservation-token', token));
    assert.equal(reuse.msg.getAttribute('error-code')?.code, 508, 'a token is redeemed once');
    const both = await allocateOn(await client(), (m) => {
      m.addAttribute('even-port', false);
      m.addAttribute('reservation-token', token);
    });
    assert.equal(both.msg.getAttribute('error-code')?.code, 400);
  });

  it('answers an unknown comprehension-required attribute with 420 and UNKNOWN-ATTRIBUTES, and ignores optional ones', async () => {
    const c = await client();
    const m = c.message(METHOD.BINDING);
    const raw = m.toBuffer();
    // A 0x7777 attribute (required range) and a 0x8888 (optional) before FINGERPRINT.
    const extra = Buffer.from([0x77, 0x77, 0, 1, 0xaa, 0, 0, 0, 0x88, 0x88, 0, 0]);
    const body = Buffer.concat([raw.subarray(0, 20), extra]);
    body.writeUInt16BE(extra.length, 2);
    c.sendRaw(body);
    const r = parse(await c.next());
    assert.equal(r.getAttribute('error-code')?.code, 420);
    assert.deepEqual(r.getAttribute('unknown-attributes'), [0x7777]);
    const optional = Buffer.concat([raw.subarray(0, 20), extra.subarray(8)]);
    optional.writeUInt16BE(4, 2);
    c.sendRaw(optional);
    assert.equal(parse(await c.next()).class, CLASS.SUCCESS);
  });

  it('relays client ChannelData, padded to 4 bytes or not, to the bound peer', async () => {
    const peer = createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
    const got: Buffer[] = [];
    peer.on('message', (b) => got.push(b));
    try {
      const c = await client();
      await allocateOn(c);
      const bind = c.message(METHOD.CHANNEL_BIND);
      bind.addAttribute('channel-number', 0x4002);
      bind.addAttribute('xor-peer-address', new Address('127.0.0.1', peer.address().port));
      assert.equal((await c.request(bind)).msg.class, CLASS.SUCCESS);
      const padded = new ChannelMessage(0x4002, Buffer.from('hello')).write();
      assert.equal(padded.length, 12, '4 + 5 bytes + 3 of padding');
      c.sendRaw(padded);
      c.sendRaw(padded.subarray(0, 9)); // unpadded, as UDP allows
      c.sendRaw(new ChannelMessage(0x4003, Buffer.from('unbound')).write()); // dropped: no such channel
      c.sendRaw(Buffer.from([0x40, 0x02, 0xff, 0xff, 1, 2])); // dropped: length beyond the datagram
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        got.map((b) => b.toString()),
        ['hello', 'hello'],
      );
    } finally {
      peer.close();
    }
  });

  it('parses ChannelData with its padding and refuses what is not ChannelData', () => {
    const m = ChannelMessage.read(Buffer.from([0x40, 0x00, 0x00, 0x03, 1, 2, 3, 0]));
    assert.deepEqual(m && [m.channelNumber, [...m.data]], [0x4000, [1, 2, 3]]);
    assert.equal(ChannelMessage.read(Buffer.from([0x40, 0x00, 0x00, 0x01, 1, 0, 0, 0, 0])), undefined, 'more than 3 bytes of padding');
    assert.equal(ChannelMessage.read(Buffer.from([0x3f, 0xff, 0x00, 0x00])), undefined, 'below 0x4000');
    assert.equal(ChannelMessage.read(Buffer.from([0x40, 0x00])), undefined, 'shorter than a header');
  });

  it('refuses loopback and private peers by default (403)', async () => {
    const policy = peerPolicy();
    assert.equal(policy(new Address('127.0.0.1', 9)), false);
    assert.equal(policy(new Address('10.1.2.3', 9)), false);
    assert.equal(policy(new Address('::ffff:192.168.1.1', 9)), false);
    assert.equal(policy(new Address('224.0.0.1', 9)), false);
    assert.equal(policy(new Address('8.8.8.8', 9)), true);
    assert.equal(peerPolicy({ allowLoopback: true })(new Address('127.0.0.1', 9)), true);
    const c = await client();
    await allocateOn(c);
    const perm = c.message(METHOD.CREATE_PERMISSION);
    perm.addAttribute('xor-peer-address', new Address('127.0.0.1', port));
    const r = await c.request(perm);
    assert.equal(r.msg.getAttribute('error-code')?.code, 403, "the server's own listener is never a peer");
  });
});
