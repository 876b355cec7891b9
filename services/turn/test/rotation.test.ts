// Secret rotation: while TURN_SECRET_PREVIOUS holds the old secret, credentials made with either secret
// allocate; once it is unset, those made with the old one get 401. Real servers over UDP on loopback.
import { CLASS, METHOD } from '@strata/node-turn';
import { assertChallenge, assertSignedBy } from '@strata/node-turn/testing';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REALM, mint, perTest } from './stun-client.js';

const OLD = 'old-secret';
const NEW = 'new-secret';

describe('turn: secret rotation', () => {
  const servers = perTest('turn-rotation');
  const client = servers.client;
  const start = (secret: string, previousSecret?: string) => servers.start({ secret, ...(previousSecret === undefined ? {} : { previousSecret }) });

  it('accepts a credential made with the previous secret while it is configured, and signs the answer with its key', async () => {
    const server = await start(NEW, OLD);
    const old = mint(OLD, 'alice');
    const c = await client(server);
    const r = await c.allocate(old);
    assert.equal(r.msg.class, CLASS.SUCCESS, String(r.msg.getAttribute('error-code')?.code));
    assertSignedBy(r.raw, old, REALM);
    // Requests on the allocation keep working with it (Refresh is signed the same way).
    const refresh = c.message(METHOD.REFRESH);
    refresh.addAttribute('lifetime', 600);
    const again = await c.request(refresh, old);
    assert.equal(again.msg.class, CLASS.SUCCESS);
    assertSignedBy(again.raw, old, REALM);
    // The current secret's credentials too, and a third secret's are still forged.
    const current = mint(NEW, 'bob');
    const d = await client(server);
    const ok = await d.allocate(current);
    assert.equal(ok.msg.class, CLASS.SUCCESS);
    assertSignedBy(ok.raw, current, REALM);
    const e = await client(server);
    await e.challenge();
    assertChallenge(await e.allocate(mint('third-secret', 'mallory')), 401, REALM, e.nonce);
  });

  it('refuses a credential made with the previous secret once it is no longer configured (401 with a fresh nonce)', async () => {
    const old = mint(OLD, 'alice');
    const during = await start(NEW, OLD);
    assert.equal((await (await client(during)).allocate(old)).msg.class, CLASS.SUCCESS);
    // The rotation ends: the node restarts with TURN_SECRET_PREVIOUS empty.
    const afterwards = await start(NEW, '');
    const c = await client(afterwards);
    await c.challenge();
    assertChallenge(await c.allocate(old), 401, REALM, c.nonce);
    assert.equal((await c.allocate(mint(NEW, 'alice'))).msg.class, CLASS.SUCCESS, 'the new secret works');
  });
});
