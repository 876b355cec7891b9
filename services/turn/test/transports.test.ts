import { ConfigError } from '@strata/config';
import { selfSignedCertificate } from '@strata/node-turn';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { tlsPair } from '../src/tls.js';
import { turnUrls } from '../src/urls.js';

describe('turn: client transports', () => {
  const dir = mkdtempSync(join(tmpdir(), 'turn-tls-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('hands out udp, tcp and tls URLs on their bound ports, turns: with transport=tcp', () => {
    assert.deepEqual(turnUrls('turn.example.com', { udp: 3478, tcp: 3478, tls: 5349 }, ['udp', 'tcp', 'tls']), [
      'turn:turn.example.com:3478?transport=udp',
      'turn:turn.example.com:3478?transport=tcp',
      'turns:turn.example.com:5349?transport=tcp',
    ]);
    assert.deepEqual(turnUrls('10.0.0.1', { udp: 3478, tcp: 3479, tls: 443 }, ['tls']), ['turns:10.0.0.1:443?transport=tcp']);
    assert.deepEqual(
      turnUrls('::1', { udp: 3478 }, ['udp', 'tcp']),
      ['turn:[::1]:3478?transport=udp'],
      'IPv6 in brackets; no URL for a listener that is not there',
    );
  });

  it('makes a self-signed pair when neither file is set', () => {
    const p = tlsPair('', '', ['127.0.0.1']);
    assert.equal(p.selfSigned, true);
    assert.match(p.cert, /^-----BEGIN CERTIFICATE-----/);
    assert.match(p.key, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('reads the configured files, and refuses one without the other, an unreadable file or a key of another certificate', () => {
    const a = selfSignedCertificate(['127.0.0.1']);
    const b = selfSignedCertificate(['127.0.0.1']);
    writeFileSync(join(dir, 'cert.pem'), a.cert);
    writeFileSync(join(dir, 'key.pem'), a.key);
    writeFileSync(join(dir, 'other-key.pem'), b.key);
    const p = tlsPair(join(dir, 'cert.pem'), join(dir, 'key.pem'), []);
    assert.deepEqual(p, { cert: a.cert, key: a.key, selfSigned: false });
    const problem = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.problems.join('; ');
      }
      assert.fail('no ConfigError');
    };
    assert.match(
      problem(() => tlsPair(join(dir, 'cert.pem'), '', [])),
      /^TURN_TLS_KEY: required/,
    );
    assert.match(
      problem(() => tlsPair('', join(dir, 'key.pem'), [])),
      /^TURN_TLS_CERT: required/,
    );
    assert.match(
      problem(() => tlsPair(join(dir, 'missing.pem'), join(dir, 'key.pem'), [])),
      /^TURN_TLS_CERT: cannot read/,
    );
    assert.match(
      problem(() => tlsPair(join(dir, 'cert.pem'), join(dir, 'other-key.pem'), [])),
      /not a usable certificate and key/,
    );
  });
});
