// The codec fixes of the fork, against a real server on loopback: each of these failed on node-turn 0.0.6.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Address, CLASS, ChannelMessage, FAMILY, METHOD, Message, Server, peerPolicy, selfSignedCertificate } from '../src/index.js';
import { UdpPeer, udpClients, type UdpClient, assertSignedBy, parse, sleep, testServer } from '../src/testing.js';

const REALM = 'test-realm';
const USER = { username: 'alice', password: 'alice-password' };
const assertSigned = (raw: Buffer) => assertSignedBy(raw, USER, REALM);

describe('node-turn fork: codec fixes', () => {
  let server: Server;
  let port: number;
  const { client, closeAll } = udpClients(() => port);
  const allocateOn = (c: UdpClient, extra?: (m: Message) => void) => c.allocate(USER, undefined, extra);

  before(async () => {
    server = testServer(REALM, { [USER.username]: USER.password });
    await server.start();
    port = server.network.sockets[0]?.address().port ?? 0;
  });
  after(() => {
    closeAll();
    server.stop();
  });

  it('signs every authenticated response, ChannelBind success included, with MESSAGE-INTEGRITY and FINGERPRINT', async () => {
    const c = await client();
    const a = await allocateOn(c);
    assert.equal(a.msg.class, CLASS.SUCCESS);
    assertSigned(a.raw);
    const b = await c.channelBindRequest(USER, 0x4001, new Address('127.0.0.1', 9));
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
    const peer = await UdpPeer.open();
    try {
      const c = await client();
      await allocateOn(c);
      assert.equal((await c.channelBind(USER, 0x4002, peer.address)).class, CLASS.SUCCESS);
      const padded = new ChannelMessage(0x4002, Buffer.from('hello')).write();
      assert.equal(padded.length, 12, '4 + 5 bytes + 3 of padding');
      c.sendRaw(padded);
      c.sendRaw(padded.subarray(0, 9)); // unpadded, as UDP allows
      c.sendRaw(new ChannelMessage(0x4003, Buffer.from('unbound')).write()); // dropped: no such channel
      c.sendRaw(Buffer.from([0x40, 0x02, 0xff, 0xff, 1, 2])); // dropped: length beyond the datagram
      await sleep(300);
      assert.deepEqual(
        peer.received.map((b) => b.toString()),
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
    const r = await c.request(perm, USER);
    assert.equal(r.msg.getAttribute('error-code')?.code, 403, "the server's own listener is never a peer");
  });

  it('refuses every listener of the server as a peer (TCP and TLS too, and at its external IP), allows its other relays, and counts the refusals', async () => {
    const pair = selfSignedCertificate(['127.0.0.1']);
    const s = testServer(
      REALM,
      { [USER.username]: USER.password },
      {
        tcp: { port: 0 },
        tls: { port: 0, cert: pair.cert, key: pair.key },
        externalIps: { '127.0.0.1': '127.0.0.2' },
      },
    );
    await s.start();
    const { client: clientOf, closeAll: closeThese } = udpClients(() => s.network.ports().udp ?? 0);
    try {
      const { udp, tcp, tls } = s.network.ports();
      assert.ok(udp && tcp && tls && tcp !== udp);
      const c = await clientOf();
      assert.equal((await c.allocate(USER)).msg.class, CLASS.SUCCESS);
      const other = await clientOf();
      const relay = (await other.allocate(USER)).msg.getAttribute('xor-relayed-address');
      assert.ok(relay);
      const permit = async (peer: Address) => {
        const m = c.message(METHOD.CREATE_PERMISSION);
        m.addAttribute('xor-peer-address', peer);
        const r = await c.request(m, USER);
        return r.msg.class === CLASS.SUCCESS ? 200 : r.msg.getAttribute('error-code')?.code;
      };
      for (const port of [udp, tcp, tls]) {
        assert.equal(await permit(new Address('127.0.0.1', port)), 403, `listener port ${port}`);
        assert.equal(await permit(new Address('127.0.0.2', port)), 403, `external IP, port ${port}`);
      }
      assert.equal((await c.channelBind(USER, 0x4000, new Address('127.0.0.1', tcp))).getAttribute('error-code')?.code, 403, 'ChannelBind too');
      assert.equal(s.stats.peerDenials, 7);
      // The other allocation's relay, advertised at the external IP, and bound on 127.0.0.1: relay to relay is a call between two relay-only clients.
      assert.equal(await permit(new Address('127.0.0.1', relay.port)), 200);
      assert.equal(s.stats.peerDenials, 7);
    } finally {
      closeThese();
      s.stop();
    }
  });

  it('counts the packets and bytes it relays each way', async () => {
    const peer = await UdpPeer.open();
    try {
      const c = await client();
      const relay = (await allocateOn(c)).msg.getAttribute('xor-relayed-address');
      assert.ok(relay);
      assert.equal((await c.channelBind(USER, 0x4005, peer.address)).class, CLASS.SUCCESS);
      const before = { ...server.stats };
      for (let i = 0; i < 5; i++) c.sendChannelData(0x4005, Buffer.alloc(100));
      // The relay as bound (its advertised address may be another).
      for (let i = 0; i < 3; i++) peer.socket.send(Buffer.alloc(50), relay.port, '127.0.0.1');
      await sleep(300);
      assert.equal(peer.received.length, 5);
      assert.equal((await c.drain(0)).length, 3);
      assert.equal(server.stats.packetsToPeers - before.packetsToPeers, 5);
      assert.equal(server.stats.bytesToPeers - before.bytesToPeers, 500);
      assert.equal(server.stats.packetsToClients - before.packetsToClients, 3);
      assert.equal(server.stats.bytesToClients - before.bytesToClients, 150);
    } finally {
      peer.close();
    }
  });
});
