import { mintJoinToken, verifyJoinToken } from '@strata/auth';
import type { StrataError } from '@strata/protocol';
import { SignJWT } from 'jose';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

const SECRET = 'test-secret-that-is-long-enough-000';

describe('join tokens', () => {
  it('round-trips room, identity, name and grants', async () => {
    const t = await mintJoinToken(SECRET, { room: 'r1', identity: 'alice', name: 'Alice', grants: { publish: false } });
    const v = await verifyJoinToken(SECRET, t);
    assert.equal(v.room, 'r1');
    assert.equal(v.identity, 'alice');
    assert.equal(v.name, 'Alice');
    assert.deepEqual(v.grants, { publish: false, subscribe: true, record: false, admin: false });
  });

  it('rejects forged, expired, malformed and wrongly-shaped tokens as UNAUTHORIZED', async () => {
    const forged = await mintJoinToken('another-secret-another-secret-000', { room: 'r1', identity: 'eve' });
    await assert.rejects(verifyJoinToken(SECRET, forged), (e: StrataError) => e.code === 'UNAUTHORIZED' && /signature/.test(e.message));
    const expired = await mintJoinToken(SECRET, { room: 'r1', identity: 'bob', ttlSeconds: -60 });
    await assert.rejects(verifyJoinToken(SECRET, expired), (e: StrataError) => e.code === 'UNAUTHORIZED' && /expired/.test(e.message));
    await assert.rejects(verifyJoinToken(SECRET, 'not.a.jwt'), (e: StrataError) => e.code === 'UNAUTHORIZED');
    const badRoom = await new SignJWT({ room: 'has.dots' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('x')
      .setIssuer('strata')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    await assert.rejects(verifyJoinToken(SECRET, badRoom), (e: StrataError) => e.code === 'UNAUTHORIZED' && /room/.test(e.message));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","room":"r","exp":9999999999,"iss":"strata"}').toString('base64url')}.`;
    await assert.rejects(verifyJoinToken(SECRET, none), (e: StrataError) => e.code === 'UNAUTHORIZED');
  });

  it('holds to HS256 and the registered claims, as any JWT library signs them', async () => {
    const sign = (header: Record<string, unknown>, claims: Record<string, unknown>) =>
      new SignJWT({ room: 'r1', ...claims }).setProtectedHeader({ alg: 'HS256', ...header }).sign(new TextEncoder().encode(SECRET));
    const now = Math.floor(Date.now() / 1000);
    const base = { sub: 'x', iss: 'strata', exp: now + 60 };
    assert.equal((await verifyJoinToken(SECRET, await sign({}, base))).identity, 'x', 'no typ header is fine');
    assert.equal((await verifyJoinToken(SECRET, await sign({}, { ...base, exp: now - 3 }))).identity, 'x', 'within 5 s of clock tolerance');
    const refused: [string, Promise<string>, RegExp][] = [
      ['expired past the tolerance', sign({}, { ...base, exp: now - 30 }), /expired/],
      ['no exp', sign({}, { sub: 'x', iss: 'strata' }), /exp/],
      ['another issuer', sign({}, { ...base, iss: 'someone' }), /issuer/],
      ['not valid yet', sign({}, { ...base, nbf: now + 60 }), /nbf/],
      ['a critical extension', sign({ crit: ['b64'], b64: true }, base), /critical/],
    ];
    for (const [what, token, message] of refused)
      await assert.rejects(verifyJoinToken(SECRET, await token), (e: StrataError) => e.code === 'UNAUTHORIZED' && message.test(e.message), what);
    // Same HMAC key, another algorithm in the header; a payload changed after signing.
    const [h, p, sig] = (await sign({}, base)).split('.') as [string, string, string];
    const hs512 = `${Buffer.from('{"alg":"HS512"}').toString('base64url')}.${p}.${sig}`;
    await assert.rejects(verifyJoinToken(SECRET, hs512), (e: StrataError) => e.code === 'UNAUTHORIZED' && /HS256/.test(e.message));
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...base, room: 'r2' })).toString('base64url')}.${sig}`;
    await assert.rejects(verifyJoinToken(SECRET, tampered), (e: StrataError) => e.code === 'UNAUTHORIZED' && /signature/.test(e.message));
    await assert.rejects(verifyJoinToken(SECRET, `${h}.${p}.${sig}=`), (e: StrataError) => e.code === 'UNAUTHORIZED', 'padding is not base64url');
    await assert.rejects(verifyJoinToken(SECRET, `${h}.${p}`), (e: StrataError) => e.code === 'UNAUTHORIZED');
  });
});
