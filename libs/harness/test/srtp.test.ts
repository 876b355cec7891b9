/** The tests' SRTP: RFC 3711's key derivation vectors, round trips, and refusal of what does not authenticate. */
import { SRTP_CRYPTO_SUITES, type SrtpParameters } from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SrtpSession, randomSrtpParameters, rtpPayload } from '../src/srtp.js';

function rtp(seq: number, ssrc = 0x01020304, payload = Buffer.from('hello, srtp')): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = 100;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(seq * 960, 4);
  h.writeUInt32BE(ssrc, 8);
  return Buffer.concat([h, payload]);
}

describe('SrtpSession', () => {
  it("derives RFC 3711's session keys (Appendix B.3)", () => {
    const material = Buffer.from('E1F97A0D3E018BE0D64FA32C06DE4139' + '0EC675AD498AFEEBB6960B3AABE6', 'hex');
    const s = new SrtpSession({ cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: material.toString('base64') });
    assert.equal(s.sessionKeys.key.toString('hex').toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(s.sessionKeys.salt.toString('hex').toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(s.sessionKeys.authKey.toString('hex').toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  for (const suite of SRTP_CRYPTO_SUITES) {
    it(`${suite}: round trip, across a sequence-number wrap; a wrong key or a changed byte does not authenticate`, () => {
      const key = randomSrtpParameters(suite);
      const tx = new SrtpSession(key);
      const rx = new SrtpSession(key);
      for (let seq = 65530; seq < 65545; seq++) {
        const p = rtp(seq);
        const s = tx.protect(p);
        assert.notDeepEqual(rtpPayload(s).subarray(0, 11), rtpPayload(p), 'the payload is encrypted');
        assert.deepEqual(rx.unprotect(s), p, `seq ${seq}`);
      }
      const s = tx.protect(rtp(65545));
      assert.equal(new SrtpSession(randomSrtpParameters(suite)).unprotect(s), undefined, 'another key');
      const bad = Buffer.from(s);
      bad[14] = (bad[14] ?? 0) ^ 1;
      assert.equal(rx.unprotect(bad), undefined, 'a changed payload byte');
      assert.equal(rx.unprotect(rtp(65546)), undefined, 'plain RTP');
    });
  }

  it('refuses keying material of the wrong length', () => {
    const short = { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: Buffer.alloc(30).toString('base64') } as SrtpParameters;
    assert.throws(() => new SrtpSession(short), /takes 44 bytes/);
  });
});
