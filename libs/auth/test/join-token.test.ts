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
});
