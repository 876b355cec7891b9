// Nonces (RFC 8489 section 9.2): stateless, so a flood of challenges costs no memory, and valid only for
// the server's nonce lifetime and only on the server that made them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Server } from '../src/index.js';

describe('node-turn fork: nonces', () => {
  const server = new Server({ listeningIps: ['127.0.0.1'], authMech: 'long-term', nonceLifetime: 60, debug: () => {} });
  const auth = server.authentication;

  it('accepts a nonce for its lifetime and not after', () => {
    const t = 1_700_000_000_000;
    const n = auth.generateNonce(t);
    assert.match(n, /^[0-9a-f]{52}$/, 'hex, well under the 128 characters of RFC 8489 section 14.10');
    assert.ok(auth.checkNonce(n, t));
    assert.ok(auth.checkNonce(n, t + 59_999));
    assert.ok(!auth.checkNonce(n, t + 60_000), 'stale at its lifetime');
    assert.ok(!auth.checkNonce(n, t - 1), 'from the future');
    assert.notEqual(auth.generateNonce(t), n, 'two nonces of one millisecond differ');
  });

  it('refuses a tampered nonce, one of another server, and garbage', () => {
    const t = Date.now();
    const n = auth.generateNonce(t);
    const later = (parseInt(n.slice(0, 12), 16) + 1000).toString(16).padStart(12, '0') + n.slice(12);
    assert.ok(!auth.checkNonce(later, t + 1000), 'its time moved');
    assert.ok(!auth.checkNonce(n.slice(0, -1) + (n.endsWith('0') ? '1' : '0'), t), 'its MAC changed');
    const other = new Server({ listeningIps: ['127.0.0.1'], authMech: 'long-term', debug: () => {} });
    assert.ok(!other.authentication.checkNonce(n, t), 'made by another server (or before a restart)');
    for (const bad of ['', 'x', n.toUpperCase(), `${n}0`, 'zz'.repeat(26)]) assert.ok(!auth.checkNonce(bad, t), JSON.stringify(bad));
  });
});
