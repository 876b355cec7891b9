// Guardrails against the real server on loopback: allocation quotas per identity and per client IP (486),
// a bandwidth cap per allocation, and malformed datagrams dropped unanswered and counted while another
// allocation keeps relaying.
import { CLASS, METHOD, type Address } from '@strata/node-turn';
import { assertSignedBy, parse, sleep, type Credentials } from '@strata/node-turn/testing';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { TurnServer } from '../src/turn-server.js';
import { REALM, mint, perTest } from './stun-client.js';

describe('turn: guardrails', () => {
  const { start, client, peer } = perTest('turn-guardrails');
  /** A client with an allocation and channel 0x4000 bound to `to`; the relayed address. */
  const relaying = async (server: TurnServer, creds: Credentials, to: Address) => {
    const c = await client(server);
    const a = await c.allocate(creds);
    assert.equal(a.msg.class, CLASS.SUCCESS);
    assert.equal((await c.channelBind(creds, 0x4000, to)).class, CLASS.SUCCESS);
    const relay = a.msg.getAttribute('xor-relayed-address');
    assert.ok(relay);
    return { c, relay };
  };
  it('caps allocations per identity, over all its usernames, with a signed 486; a deleted allocation frees its place', async () => {
    const server = await start({ maxAllocationsPerIdentity: 2 });
    const now = Math.floor(Date.now() / 1000);
    // Two credentials of one identity (different expiries, so different usernames).
    const first = mint('auth-test-secret', 'alice', 600, now);
    const second = mint('auth-test-secret', 'alice', 900, now);
    const a = await client(server);
    assert.equal((await a.allocate(first)).msg.class, CLASS.SUCCESS);
    assert.equal((await (await client(server)).allocate(second)).msg.class, CLASS.SUCCESS);
    const third = await (await client(server)).allocate(first);
    assert.equal(third.msg.getAttribute('error-code')?.code, 486);
    assertSignedBy(third.raw, first, REALM);
    assert.equal(server.stats.quotaRejections, 1);
    assert.equal((await (await client(server)).allocate(mint('auth-test-secret', 'bob'))).msg.class, CLASS.SUCCESS, 'another identity is not capped');
    // Refresh with LIFETIME 0 deletes one of alice's: she may allocate again.
    const refresh = a.message(METHOD.REFRESH);
    refresh.addAttribute('lifetime', 0);
    assert.equal((await a.request(refresh, first)).msg.class, CLASS.SUCCESS);
    assert.equal((await (await client(server)).allocate(second)).msg.class, CLASS.SUCCESS);
  });

  it('caps allocations per client IP whatever the identity (486), and counts concurrent Allocates before their ports are bound', async () => {
    const server = await start({ maxAllocationsPerIp: 3 });
    const clients = await Promise.all([1, 2, 3, 4, 5].map(() => client(server)));
    await Promise.all(clients.map((c) => c.challenge()));
    // All at once: each passes the quota check while the others are still binding their relay ports.
    const answers = await Promise.all(clients.map((c, i) => c.allocate(mint('auth-test-secret', `user-${i}`))));
    const codes = answers.map((r) => (r.msg.class === CLASS.SUCCESS ? 200 : r.msg.getAttribute('error-code')?.code)).sort();
    assert.deepEqual(codes, [200, 200, 200, 486, 486]);
    assert.equal(server.allocationCount, 3);
  });

  it('drops relayed packets over the bandwidth cap each way and counts them; the allocation stays and relays again once under it', async () => {
    const server = await start({ bandwidthBytesPerSecond: 10_000 });
    const p = await peer();
    const creds = mint('auth-test-secret', 'carol');
    const { c, relay } = await relaying(server, creds, p.address);
    const packet = randomBytes(1000);
    // 30 kB at once against a 10 kB/s cap with a one-second burst: about 10 get through, the rest are dropped.
    for (let i = 0; i < 30; i++) c.sendChannelData(0x4000, packet);
    for (let i = 0; i < 30; i++) p.sendTo(relay, packet);
    await sleep(300);
    const toClient = await c.drain(0);
    assert.ok(p.received.length >= 9 && p.received.length <= 13, `client to peer: ${p.received.length} of 30`);
    assert.ok(toClient.length >= 9 && toClient.length <= 13, `peer to client: ${toClient.length} of 30`);
    assert.equal(server.stats.overBandwidth, 60 - p.received.length - toClient.length);
    assert.equal(server.allocationCount, 1, 'the allocation stays');
    // A second later the budget is back.
    await sleep(1000);
    p.received.length = 0;
    c.sendChannelData(0x4000, packet);
    await sleep(100);
    assert.equal(p.received.length, 1);
  });

  it('drops garbage datagrams unanswered and counts them, while another allocation keeps relaying every packet', async () => {
    const server = await start({});
    const p = await peer();
    const creds = mint('auth-test-secret', 'dave');
    const { c } = await relaying(server, creds, p.address);
    const attacker = await client(server);
    const binding = attacker.message(METHOD.BINDING).toBuffer();
    const garbage: Buffer[] = [Buffer.alloc(0), Buffer.from([0x00]), Buffer.from([0x40, 0x00, 0xff])];
    for (let i = 0; i < 50; i++) {
      // Random bytes whose first two bits (10 or 11) begin neither STUN nor ChannelData.
      const r = randomBytes(1 + (i % 40) * 13);
      r[0] = (r[0] ?? 0) | 0x80;
      garbage.push(r);
    }
    for (let cut = 1; cut < binding.length; cut += 3) garbage.push(binding.subarray(0, cut)); // truncated STUN
    for (const length of [0xfffc, 0x1000, 4, 6]) {
      // A STUN header whose length is beyond the datagram (or not a multiple of 4).
      const h = Buffer.from(binding.subarray(0, 20));
      h.writeUInt16BE(length, 2);
      garbage.push(Buffer.concat([h, randomBytes(length === 6 ? 8 : 2)]));
    }
    // An attribute longer than its message, and a wrong magic cookie.
    const longAttr = Buffer.concat([binding.subarray(0, 20), Buffer.from([0x00, 0x06, 0x00, 0x40, 1, 2, 3, 4])]);
    longAttr.writeUInt16BE(8, 2);
    const badCookie = Buffer.from(binding);
    badCookie.writeUInt32BE(0xdeadbeef, 4);
    // ChannelData whose length is beyond the datagram, and a bad FINGERPRINT.
    const badFingerprint = Buffer.from(binding);
    badFingerprint.writeUInt32BE((badFingerprint.readUInt32BE(badFingerprint.length - 4) ^ 1) >>> 0, badFingerprint.length - 4);
    garbage.push(longAttr, badCookie, Buffer.from([0x40, 0x00, 0x04, 0x00, 1, 2, 3, 4]), badFingerprint);

    const before = server.stats.malformed;
    const sent: Buffer[] = [];
    for (let i = 0; i < garbage.length; i++) {
      const g = garbage[i];
      if (g) attacker.sendRaw(g);
      // Interleaved with the other allocation's media, one packet per four pieces of garbage.
      if (i % 4 === 0) {
        const data = Buffer.from(`media ${i}`);
        sent.push(data);
        c.sendChannelData(0x4000, data);
        await sleep(1);
      }
    }
    await sleep(300);
    assert.deepEqual(await attacker.drain(0), [], 'nothing answers garbage');
    assert.deepEqual(p.received.map(String), sent.map(String), 'the other allocation relayed every packet, in order');
    assert.equal(server.stats.malformed - before, garbage.length, 'every piece counted');
    // The server still serves the client that sent the garbage.
    attacker.sendRaw(attacker.message(METHOD.BINDING).toBuffer());
    assert.equal(parse(await attacker.next()).class, CLASS.SUCCESS);
  });
});
