import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { checkCredential, identityOf, lookupEphemeral, mintCredential } from '../src/credentials.js';

describe('ephemeral TURN credentials', () => {
  it('mints the TURN REST API format', () => {
    const c = mintCredential('s3cret', 'alice', 600, 1000);
    assert.equal(c.username, '1600:alice');
    assert.equal(c.expiresAt, 1600);
    assert.equal(c.credential, createHmac('sha1', 's3cret').update('1600:alice').digest('base64'));
  });

  it('accepts a valid credential and refuses expired, forged or malformed ones', () => {
    const c = mintCredential('s3cret', 'bob', 600);
    assert.ok(checkCredential('s3cret', c.username, c.credential));
    assert.ok(!checkCredential('other', c.username, c.credential), 'another secret');
    assert.ok(!checkCredential('s3cret', c.username, c.credential.slice(1)), 'tampered password');
    const old = mintCredential('s3cret', 'bob', 60, 1000);
    assert.equal(lookupEphemeral('s3cret', old.username), undefined, 'expired');
    assert.equal(lookupEphemeral('s3cret', 'bob'), undefined, 'no expiry');
  });

  it('tells the identity of a username, which the allocation quota counts against', () => {
    assert.equal(identityOf('1600:alice'), 'alice');
    assert.equal(identityOf('1600:room:alice'), 'room:alice', 'the identity may hold colons');
    assert.equal(identityOf('alice'), 'alice');
  });
});
