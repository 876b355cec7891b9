// Long-term credentials against the real server on loopback (RFC 8489 section 9.2, RFC 8656): every bad
// credential gets 401 with REALM and a fresh NONCE, a stale nonce 438, and good credentials still allocate.
import { CLASS, METHOD, PROTOCOL } from '@strata/node-turn';
import { createLogger } from '@strata/telemetry';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TurnServer } from '../src/turn-server.js';
import { udpClients, assertChallenge, parse, sleep, type Credentials } from '@strata/node-turn/testing';
import { REALM, SECRET, mint, serverOptions } from './stun-client.js';

const log = createLogger({ service: 'test', region: 't', nodeId: 'turn-auth', level: 'silent' });
const NONCE_LIFETIME_MS = 1000;

describe('turn: long-term credential edge cases', () => {
  let server: TurnServer;
  let port: number;
  const { client, closeAll } = udpClients(() => port);

  before(async () => {
    server = new TurnServer(serverOptions({ nonceLifetimeMs: NONCE_LIFETIME_MS }), log);
    await server.start();
    port = server.ports.udp ?? 0;
  });
  after(() => {
    closeAll();
    server.stop();
  });

  it('challenges a request without MESSAGE-INTEGRITY with 401, REALM and a NONCE, then allocates with good credentials', async () => {
    const c = await client();
    const r = await c.challenge();
    assert.equal(r.getAttribute('error-code')?.code, 401);
    assert.equal(r.getAttribute('realm'), REALM);
    assert.match(r.getAttribute('nonce') ?? '', /^[0-9a-f]{52}$/);
    const ok = await c.allocate(mint(SECRET, 'alice'));
    assert.equal(ok.msg.class, CLASS.SUCCESS, String(ok.msg.getAttribute('error-code')?.code));
  });

  it('answers a wrong password, an expired username, a forged credential and malformed usernames with 401 and a fresh nonce', async () => {
    const good = mint(SECRET, 'bob');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Credentials][] = [
      ['wrong password', { username: good.username, password: 'not-the-password' }],
      ["another user's password", { username: good.username, password: mint(SECRET, 'mallory').password }],
      ['expired username', mint(SECRET, 'bob', 60, now - 3600)],
      ['expiring this second', mint(SECRET, 'bob', 0, now)],
      ['forged: HMAC under another secret', mint('another-secret', 'bob')],
      ['no expiry', { username: 'bob', password: good.password }],
      ['expiry not a number', { username: 'soon:bob', password: good.password }],
      ['no identity', { username: `${now + 600}:`, password: good.password }],
      ['expiry too long', { username: `9${'9'.repeat(12)}:bob`, password: good.password }],
    ];
    const failuresBefore = server.stats.authFailures;
    for (const [what, creds] of cases) {
      const c = await client();
      await c.challenge();
      const r = await c.allocate(creds);
      assert.doesNotThrow(() => assertChallenge(r, 401, REALM, c.nonce), what);
      // The fresh nonce works: the same client with good credentials allocates.
      c.nonce = r.msg.getAttribute('nonce') ?? '';
      const ok = await c.allocate(good);
      assert.equal(ok.msg.class, CLASS.SUCCESS, `${what}: then good credentials`);
      // One allocation per 5-tuple: the next case gets a client of its own.
    }
    assert.equal(server.stats.authFailures - failuresBefore, cases.length, 'each counted as an auth failure');
  });

  it('answers MESSAGE-INTEGRITY without a NONCE, REALM or USERNAME with 400, and an empty NONCE (not ours) with 438', async () => {
    const c = await client();
    await c.challenge();
    const creds = mint(SECRET, 'carol');
    for (const leave of ['nonce', 'realm', 'username'] as const) {
      const m = c.message(METHOD.ALLOCATE);
      m.addAttribute('requested-transport', PROTOCOL.UDP);
      if (leave !== 'username') m.addAttribute('username', creds.username);
      if (leave !== 'realm') m.addAttribute('realm', c.realm);
      if (leave !== 'nonce') m.addAttribute('nonce', c.nonce);
      m.setUser({ username: creds.username, password: creds.password });
      c.sendRaw(m.toBuffer());
      assert.equal(parse(await c.next()).getAttribute('error-code')?.code, 400, `without ${leave}`);
    }
    assertChallenge(await c.allocate(creds, ''), 438, REALM, '');
  });

  it('answers a nonce older than its lifetime with 438, REALM and a fresh nonce, which then works', async () => {
    const c = await client();
    await c.challenge();
    const old = c.nonce;
    await sleep(NONCE_LIFETIME_MS + 200);
    const creds = mint(SECRET, 'dave');
    const staleBefore = server.stats.staleNonces;
    const r = await c.allocate(creds);
    const fresh = assertChallenge(r, 438, REALM, old);
    assert.equal(server.stats.staleNonces, staleBefore + 1);
    const ok = await c.allocate(creds, fresh);
    assert.equal(ok.msg.class, CLASS.SUCCESS);
  });

  it('answers a nonce that is not ours (forged, or from another process) with 438, and bad credentials with 401 whatever the nonce', async () => {
    const c = await client();
    await c.challenge();
    const creds = mint(SECRET, 'erin');
    const forged = `${Date.now().toString(16).padStart(12, '0')}${'0'.repeat(40)}`;
    assertChallenge(await c.allocate(creds, forged), 438, REALM, forged);
    assertChallenge(await c.allocate(creds, 'x'.repeat(200)), 438, REALM, 'x');
    // Credentials are checked first (RFC 8489 section 9.2.4): a 438 tells a client its password is right.
    assertChallenge(await c.allocate({ username: creds.username, password: 'wrong' }, forged), 401, REALM, forged);
  });

  it('refuses a Refresh on an allocation once its username has expired, with 401', async () => {
    const c = await client();
    const now = Math.floor(Date.now() / 1000);
    const creds = mint(SECRET, 'frank', 2, now);
    assert.equal((await c.allocate(creds)).msg.class, CLASS.SUCCESS);
    await sleep(2100);
    const refresh = c.message(METHOD.REFRESH);
    refresh.addAttribute('lifetime', 600);
    assertChallenge(await c.request(refresh, creds), 401, REALM, c.nonce);
  });
});
