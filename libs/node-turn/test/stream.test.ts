// TURN over TCP and TLS (RFC 8656 section 3.1): the framing of STUN and ChannelData on a byte stream, and
// the life of a connection's allocation, against a real server on loopback.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Address, CLASS, ChannelMessage, FrameReader, METHOD, Message, PROTOCOL, Server, Transport, frameLength, selfSignedCertificate } from '../src/index.js';
import { UdpPeer, newMessage, parse as parseAs, sleep, testServer, until } from '../src/testing.js';

const REALM = 'test-realm';
const USER = 'bob';
const PASSWORD = 'bob-password';
const nowhere = new Address('127.0.0.1', 1);
const parse = (raw: Buffer) => parseAs(raw, PROTOCOL.TCP);

/** A TURN client on one TCP or TLS connection; what it receives is cut into frames by the same rules. */
class StreamClient {
  private readonly reader = new FrameReader();
  private readonly inbox: Buffer[] = [];
  private waiters: ((b: Buffer) => void)[] = [];
  nonce = '';
  invalid = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      const frames = this.reader.push(chunk);
      if (frames === 'invalid') {
        this.invalid = true;
        return;
      }
      for (const f of frames) {
        const w = this.waiters.shift();
        if (w) w(f);
        else this.inbox.push(f);
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((r) => socket.once('close', () => r()));
  }

  static async tcp(port: number): Promise<StreamClient> {
    const s = tcpConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
    return new StreamClient(s);
  }

  static async tls(port: number, ca: string): Promise<StreamClient> {
    const s = tlsConnect({ host: '127.0.0.1', port, ca });
    await new Promise<void>((resolve, reject) => s.once('secureConnect', resolve).once('error', reject));
    return new StreamClient(s);
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

  message(method: number): Message {
    return newMessage(method, new Transport(PROTOCOL.TCP, nowhere, nowhere, { send: () => {} }), () => REALM);
  }

  /** The bytes of `m` signed with the client's credentials (a 401 probe first, for the nonce). */
  async signed(m: Message): Promise<Buffer> {
    if (!this.nonce) {
      this.write(this.message(METHOD.ALLOCATE).toBuffer());
      const r = parse(await this.next());
      assert.equal(r.getAttribute('error-code')?.code, 401);
      this.nonce = r.getAttribute('nonce') ?? '';
    }
    m.addAttribute('username', USER);
    m.addAttribute('realm', REALM);
    m.addAttribute('nonce', this.nonce);
    m.setUser({ username: USER, password: PASSWORD });
    return m.toBuffer();
  }

  async request(m: Message): Promise<Message> {
    this.write(await this.signed(m));
    return parse(await this.next());
  }

  async allocate(): Promise<Message> {
    const m = this.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    const r = await this.request(m);
    assert.equal(r.class, CLASS.SUCCESS, `Allocate: ${r.getAttribute('error-code')?.code}`);
    return r;
  }

  channelBind(channel: number, peer: Address): Message {
    const m = this.message(METHOD.CHANNEL_BIND);
    m.addAttribute('channel-number', channel);
    m.addAttribute('xor-peer-address', peer);
    return m;
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }

  /** Writes `b` in pieces with a pause between, so the server gets them in separate reads. */
  async trickle(b: Buffer, sizes: number[]): Promise<void> {
    let offset = 0;
    for (const n of [...sizes, b.length]) {
      if (offset >= b.length) break;
      this.socket.write(b.subarray(offset, offset + n));
      offset += n;
      await sleep(20);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('node-turn fork: frames on a stream', () => {
  const stun = (length: number, cookie = 0x2112a442) => {
    const b = Buffer.alloc(20 + length);
    b.writeUInt16BE(0x0001, 0);
    b.writeUInt16BE(length, 2);
    b.writeUInt32BE(cookie, 4);
    return b;
  };

  it('tells the length of a STUN message from its header and of ChannelData from its padded length', () => {
    assert.equal(frameLength(stun(8)), 28);
    assert.equal(frameLength(Buffer.from([0x40, 0x01, 0x00, 0x05])), 12, '4 + 5 + 3 of padding');
    assert.equal(frameLength(Buffer.from([0x40, 0x01, 0x00, 0x08])), 12, 'no padding when aligned');
    assert.equal(frameLength(Buffer.from([0x40, 0x01, 0x00, 0x00])), 4, 'empty ChannelData');
    assert.equal(frameLength(Buffer.from([0x00, 0x01, 0x00])), undefined, 'not yet a header');
    assert.equal(frameLength(stun(8).subarray(0, 6)), undefined, 'cookie not yet here');
  });

  it('refuses what can begin no message: top bits 10 or 11, a STUN length not a multiple of 4, a wrong cookie, channel 0x7FFF', () => {
    assert.equal(frameLength(Buffer.from([0x80, 0, 0, 0])), 'invalid');
    assert.equal(frameLength(Buffer.from([0xc0, 0, 0, 0])), 'invalid');
    assert.equal(frameLength(stun(6)), 'invalid');
    assert.equal(frameLength(stun(8, 0x12345678)), 'invalid');
    assert.equal(frameLength(Buffer.from([0x7f, 0xff, 0x00, 0x04])), 'invalid');
  });

  it('gives each frame whole and once, however the reads cut them', () => {
    const a = stun(8);
    const cd = new ChannelMessage(0x4001, Buffer.from('hello')).write();
    const b = stun(4);
    const all = Buffer.concat([a, cd, b]);
    const reader = new FrameReader();
    const out: Buffer[] = [];
    for (let i = 0; i < all.length; i++) {
      const frames = reader.push(all.subarray(i, i + 1));
      assert.notEqual(frames, 'invalid');
      if (frames !== 'invalid') out.push(...frames);
    }
    assert.deepEqual(out, [a, cd, b], 'byte by byte');
    assert.equal(reader.buffered, 0);
    const together = new FrameReader().push(all);
    assert.deepEqual(together, [a, cd, b], 'all in one read');
    const r = new FrameReader();
    assert.deepEqual(r.push(all.subarray(0, 30)), [a], 'a frame and a part');
    assert.equal(r.buffered, 2);
    assert.deepEqual(r.push(all.subarray(30)), [cd, b], 'the rest');
  });
});

describe('node-turn fork: TURN over TCP and TLS', { timeout: 20_000 }, () => {
  let server: Server;
  let tcpPort: number;
  let tlsPort: number;
  const pair = selfSignedCertificate(['127.0.0.1']);
  const clients: StreamClient[] = [];
  const tcp = async () => {
    const c = await StreamClient.tcp(tcpPort);
    clients.push(c);
    return c;
  };
  const tcpAllocations = () => Object.keys(server.allocations).filter((k) => k.startsWith('TCP://'));

  before(async () => {
    server = testServer(
      REALM,
      { [USER]: PASSWORD },
      { tcp: {}, tls: { port: 0, cert: pair.cert, key: pair.key }, streamIdleTimeout: 1, minPort: 46000, maxPort: 46999 },
    );
    await server.start();
    const ports = server.network.ports();
    tcpPort = ports.tcp ?? 0;
    tlsPort = ports.tls ?? 0;
  });
  after(() => {
    for (const c of clients) c.close();
    server.stop();
  });

  it('listens for TCP on the UDP port by default', () => {
    const ports = server.network.ports();
    assert.ok(ports.udp && ports.udp > 0);
    assert.equal(ports.tcp, ports.udp);
    assert.ok(ports.tls && ports.tls !== ports.tcp);
  });

  it('reads a request split across reads, even byte by byte, and answers it on the connection', async () => {
    const c = await tcp();
    const probe = c.message(METHOD.ALLOCATE).toBuffer();
    await c.trickle(probe, [1, 1, 1, 1, 1, 1, 1, 1, 3, 5]);
    const r = parse(await c.next());
    assert.equal(r.getAttribute('error-code')?.code, 401);
    c.nonce = r.getAttribute('nonce') ?? '';
    const m = c.message(METHOD.ALLOCATE);
    m.addAttribute('requested-transport', PROTOCOL.UDP);
    const raw = await c.signed(m);
    await c.trickle(raw, [7, raw.length - 20]);
    const ok = parse(await c.next());
    assert.equal(ok.class, CLASS.SUCCESS, String(ok.getAttribute('error-code')?.code));
    assert.equal(ok.getAttribute('xor-mapped-address')?.port, c.socket.localPort, 'the mapped address is the connection’s source');
    assert.equal(tcpAllocations().length, 1);
  });

  it('reads several messages from one read: ChannelBind, then padded ChannelData twice, relayed in order', async () => {
    const peer = await UdpPeer.open();
    try {
      const c = await tcp();
      await c.allocate();
      const bind = await c.signed(c.channelBind(0x4010, peer.address));
      const hello = new ChannelMessage(0x4010, Buffer.from('hello')).write();
      const world = new ChannelMessage(0x4010, Buffer.from('world!!')).write();
      assert.equal(hello.length, 12, 'padded to 4 over TCP');
      c.write(Buffer.concat([bind, hello, world]));
      assert.equal(parse(await c.next()).class, CLASS.SUCCESS);
      await until('both at the peer', () => peer.received.length === 2);
      assert.deepEqual(peer.received.map(String), ['hello', 'world!!'], 'the padding is not data, and the next frame starts after it');
    } finally {
      peer.close();
    }
  });

  it('sends peer data to the client as padded ChannelData, and as Data indications without a channel', async () => {
    const peer = await UdpPeer.open();
    try {
      const c = await tcp();
      const relay = (await c.allocate()).getAttribute('xor-relayed-address');
      assert.ok(relay);
      assert.equal((await c.request(c.channelBind(0x4011, peer.address))).class, CLASS.SUCCESS);
      peer.socket.send(Buffer.from('abcde'), relay.port, '127.0.0.1');
      peer.socket.send(Buffer.from('fghij'), relay.port, '127.0.0.1');
      for (const want of ['abcde', 'fghij']) {
        const f = await c.next();
        assert.equal(f.length, 12, 'header, 5 bytes, 3 of padding');
        const cm = ChannelMessage.read(f);
        assert.equal(cm?.channelNumber, 0x4011);
        assert.equal(String(cm?.data), want);
      }
      // A peer with a permission but no channel.
      const other = await UdpPeer.open();
      try {
        const perm = c.message(METHOD.CREATE_PERMISSION);
        perm.addAttribute('xor-peer-address', other.address);
        assert.equal((await c.request(perm)).class, CLASS.SUCCESS);
        other.socket.send(Buffer.from('xyz'), relay.port, '127.0.0.1');
        const d = parse(await c.next());
        assert.equal(d.method, METHOD.DATA);
        assert.equal(String(d.getAttribute('data')), 'xyz');
        assert.equal(d.getAttribute('xor-peer-address')?.port, other.address.port);
      } finally {
        other.socket.close();
      }
      assert.equal(c.invalid, false);
    } finally {
      peer.close();
    }
  });

  it('closes a connection that sends what is no frame, and only that one: other allocations keep relaying', async () => {
    const peer = await UdpPeer.open();
    try {
      const good = await tcp();
      await good.allocate();
      assert.equal((await good.request(good.channelBind(0x4020, peer.address))).class, CLASS.SUCCESS);
      const before = tcpAllocations().length;
      const bad: [StreamClient, Buffer][] = [];
      for (const garbage of [
        Buffer.from([0xc0, 0x00, 0x00, 0x04, 1, 2, 3, 4]), // top bits 11
        Buffer.from([0x00, 0x01, 0x00, 0x03, 0x21, 0x12, 0xa4, 0x42]), // STUN length 3
        Buffer.from([0x00, 0x01, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef]), // no magic cookie
        Buffer.from([0x7f, 0xff, 0x00, 0x00]), // channel 0x7FFF
      ]) {
        const c = await tcp();
        await c.allocate();
        bad.push([c, garbage]);
      }
      assert.equal(tcpAllocations().length, before + 4);
      for (const [c, garbage] of bad) c.write(garbage);
      await Promise.all(bad.map(([c]) => c.closed));
      await until('the bad connections’ allocations gone', () => tcpAllocations().length === before);
      // The good one is untouched.
      const refresh = good.message(METHOD.REFRESH);
      assert.equal((await good.request(refresh)).class, CLASS.SUCCESS);
      good.write(new ChannelMessage(0x4020, Buffer.from('still here')).write());
      await until('relayed', () => peer.received.length === 1);
      assert.equal(String(peer.received[0]), 'still here');
    } finally {
      peer.close();
    }
  });

  it('closes a connection whose STUN message is framed but malformed (an attribute longer than the message)', async () => {
    const c = await tcp();
    const raw = c.message(METHOD.BINDING).toBuffer();
    raw.writeUInt16BE(0x00ff, 22); // FINGERPRINT's length, now beyond the end
    c.write(raw);
    await c.closed;
  });

  it('deletes the allocation and frees its relay port when its connection closes', async () => {
    const c = await tcp();
    const relay = (await c.allocate()).getAttribute('xor-relayed-address');
    assert.ok(relay);
    const found = Object.keys(server.allocations).find((k) => k.includes(`127.0.0.1:${c.socket.localPort}>`));
    assert.ok(found && found.startsWith('TCP://'), found);
    const key = found;
    c.socket.end();
    await until('allocation deleted', () => server.allocations[key] === undefined);
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(relay.port, '127.0.0.1', () => resolve());
    }).finally(() => s.close());
  });

  it('closes a connection that allocates nothing and completes no message within the idle timeout, but not one with an allocation', async () => {
    const idle = await tcp();
    idle.write(Buffer.from([0x00, 0x01])); // half a header, then nothing
    const busy = await tcp();
    await busy.allocate();
    const t0 = Date.now();
    await idle.closed;
    assert.ok(Date.now() - t0 < 2500, 'closed after about a second');
    await sleep(1200);
    assert.equal(busy.socket.destroyed, false);
    assert.equal((await busy.request(busy.message(METHOD.REFRESH))).class, CLASS.SUCCESS);
  });

  it('caps the connections of one IP: one above the cap is closed at once and counted; a place freed is taken again', async () => {
    const capped = testServer(REALM, { [USER]: PASSWORD }, { udp: false, tcp: { port: 0 }, maxConnectionsPerIp: 3, minPort: 46000, maxPort: 46999 });
    await capped.start();
    const mine: StreamClient[] = [];
    try {
      const port = capped.network.ports().tcp ?? 0;
      for (let i = 0; i < 3; i++) mine.push(await StreamClient.tcp(port));
      await until('three held', () => capped.network.connections.size === 3);
      const fourth = await StreamClient.tcp(port);
      mine.push(fourth);
      await fourth.closed;
      assert.equal(capped.stats.connectionRejections, 1);
      // The three held ones still work.
      assert.equal((await mine[0]!.allocate()).class, CLASS.SUCCESS);
      mine[1]!.close();
      await until('a place free', () => capped.network.connections.size === 2);
      const again = await StreamClient.tcp(port);
      mine.push(again);
      assert.equal((await again.allocate()).class, CLASS.SUCCESS);
      assert.equal(capped.stats.connectionRejections, 1);
    } finally {
      for (const c of mine) c.close();
      capped.stop();
    }
  });

  it('serves TURN over TLS with the configured certificate: allocates, relays ChannelData both ways', async () => {
    const peer = await UdpPeer.open();
    try {
      const c = await StreamClient.tls(tlsPort, pair.cert);
      clients.push(c);
      const relay = (await c.allocate()).getAttribute('xor-relayed-address');
      assert.ok(relay);
      assert.equal((await c.request(c.channelBind(0x4030, peer.address))).class, CLASS.SUCCESS);
      c.write(Buffer.concat([new ChannelMessage(0x4030, Buffer.from('over')).write(), new ChannelMessage(0x4030, Buffer.from('tls')).write()]));
      await until('relayed', () => peer.received.length === 2);
      assert.deepEqual(peer.received.map(String), ['over', 'tls']);
      peer.socket.send(Buffer.from('back'), relay.port, '127.0.0.1');
      assert.equal(String(ChannelMessage.read(await c.next())?.data), 'back');
      const key = Object.keys(server.allocations).find((k) => k.includes(`:${c.socket.localPort}>`) && k.endsWith(`:${tlsPort}`));
      assert.ok(key, 'the allocation is on the TLS 5-tuple');
      c.close();
      await until('allocation deleted with its connection', () => server.allocations[key] === undefined);
    } finally {
      peer.close();
    }
  });

  it('survives a TLS client that is not speaking TLS', async () => {
    const c = await StreamClient.tcp(tlsPort);
    clients.push(c);
    c.write(c.message(METHOD.BINDING).toBuffer());
    await c.closed;
    const ok = await StreamClient.tls(tlsPort, pair.cert);
    clients.push(ok);
    ok.write(ok.message(METHOD.BINDING).toBuffer());
    assert.equal(parse(await ok.next()).class, CLASS.SUCCESS);
  });
});
