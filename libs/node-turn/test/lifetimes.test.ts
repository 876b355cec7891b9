// What expires and when (RFC 8656): an allocation at the end of its lifetime, a permission after 300 s,
// a channel binding after 600 s, each refreshed by its own request. Against a real server on loopback;
// the 300 and 600 s run on node's mocked clock (permissions and channels read Date.now), the allocation's
// lifetime on real time, shortened.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { afterEach, describe, it, mock } from 'node:test';
import { Address, CLASS, ChannelMessage, METHOD, type Server } from '../src/index.js';
import { UdpPeer, parse, sleep, testServer, udpClients } from '../src/testing.js';

const REALM = 'lifetime-realm';
const USER = { username: 'carol', password: 'carol-password' };

describe('node-turn fork: lifetimes', () => {
  let server: Server | undefined;
  let peer: UdpPeer | undefined;
  const { client, closeAll } = udpClients(() => server?.network.ports().udp ?? 0);
  afterEach(() => {
    mock.timers.reset();
    closeAll();
    peer?.close();
    server?.stop();
  });

  it('an allocation ends with its lifetime: its relay port is freed and its 5-tuple gets 437', async () => {
    server = testServer(REALM, { [USER.username]: USER.password }, { defaultAllocateLifetime: 1, maxAllocateLifetime: 1 });
    await server.start();
    const c = await client();
    const a = await c.allocate(USER);
    assert.equal(a.msg.getAttribute('lifetime'), 1);
    const relay = a.msg.getAttribute('xor-relayed-address');
    assert.ok(relay);
    await sleep(1300);
    assert.equal(Object.keys(server.allocations).length, 0);
    assert.equal((await c.request(c.message(METHOD.REFRESH), USER)).msg.getAttribute('error-code')?.code, 437);
    // The port is free again: anyone may bind it.
    const s = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(relay.port, '127.0.0.1', () => resolve());
    });
    s.close();
  });

  it('a permission lasts 300 s and a channel 600 s, each refreshed by its own request', async () => {
    // Nonces outlive the test's clock, so every request is answered for what it asks, not with 438.
    server = testServer(REALM, { [USER.username]: USER.password }, { nonceLifetime: 3600 });
    await server.start();
    peer = await UdpPeer.open();
    const p = peer;
    const t0 = Date.now();
    mock.timers.enable({ apis: ['Date'], now: t0 });
    const at = (seconds: number) => mock.timers.tick(t0 + seconds * 1000 - Date.now());
    const c = await client();
    const relay = (await c.allocate(USER)).msg.getAttribute('xor-relayed-address');
    assert.ok(relay);
    assert.equal((await c.channelBind(USER, 0x4000, p.address)).class, CLASS.SUCCESS);
    /** One datagram each way; what arrived: at the peer, and at the client as ChannelData or a Data indication. */
    const exchange = async (): Promise<{ atPeer: number; atClient: ('channel' | 'data')[] }> => {
      p.received.length = 0;
      c.sendChannelData(0x4000, Buffer.from('to peer'));
      p.socket.send(Buffer.from('to client'), relay.port, '127.0.0.1');
      await sleep(150);
      const atClient = (await c.drain(0)).map((b) => (ChannelMessage.read(b) ? 'channel' : parse(b).method === METHOD.DATA ? 'data' : 'other')) as (
        'channel' | 'data'
      )[];
      return { atPeer: p.received.length, atClient };
    };
    const permit = async () => {
      const m = c.message(METHOD.CREATE_PERMISSION);
      m.addAttribute('xor-peer-address', new Address('127.0.0.1', p.address.port));
      assert.equal((await c.request(m, USER)).msg.class, CLASS.SUCCESS);
    };

    assert.deepEqual(await exchange(), { atPeer: 1, atClient: ['channel'] });
    at(299);
    assert.deepEqual(await exchange(), { atPeer: 1, atClient: ['channel'] }, 'both still live at 299 s');
    at(301);
    assert.deepEqual(await exchange(), { atPeer: 0, atClient: [] }, 'the permission is gone at 301 s: nothing either way');
    await permit(); // until 601 s
    assert.deepEqual(await exchange(), { atPeer: 1, atClient: ['channel'] }, 'a CreatePermission brings it back; the channel is still bound');
    at(590);
    assert.deepEqual(await exchange(), { atPeer: 1, atClient: ['channel'] });
    at(605);
    await permit(); // until 905 s; the channel, bound at 0 s, ended at 600 s
    assert.deepEqual(
      await exchange(),
      { atPeer: 0, atClient: ['data'] },
      'the channel is gone: ChannelData is dropped, and the peer comes as a Data indication',
    );
    // The number stays the peer's until it is bound again (RFC 8656 section 12): another peer may not have it.
    const other = new Address('127.0.0.1', p.address.port + 1);
    assert.equal((await c.channelBind(USER, 0x4000, other)).getAttribute('error-code')?.code, 400);
    assert.equal((await c.channelBind(USER, 0x4000, p.address)).class, CLASS.SUCCESS, 'rebinding to its peer refreshes it');
    assert.deepEqual(await exchange(), { atPeer: 1, atClient: ['channel'] });
  });
});
