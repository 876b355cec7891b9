/**
 * SRTP (RTP only, no SRTCP) for tests and benchmarks that talk to mediasoup's SRTP plain
 * transports: protect what a test sends, unprotect and authenticate what a consumer sends.
 * The four suites mediasoup offers, on node:crypto:
 *   - AES_CM_128_HMAC_SHA1_80 / _32 (RFC 3711): AES-128 counter mode, HMAC-SHA1 tag of 10 / 4 bytes;
 *   - AEAD_AES_128_GCM / AEAD_AES_256_GCM (RFC 7714): AES-GCM, 16-byte tag.
 * Session keys come from the RFC 3711 AES-CM key derivation, which RFC 7714 keeps for GCM with
 * its 12-byte master salt zero-padded to 14 (as libsrtp, which mediasoup uses, does).
 * Written here rather than taken from werift (a dependency of msc-node) because werift's SRTP
 * does not check the authentication tag: a wrong key would "decrypt" into garbage without
 * failing, and proving that the key is right is the point of these checks.
 */
// Types only: the benchmark's sink process loads this file alone, without the workspace packages.
import type { SrtpCryptoSuite, SrtpParameters } from '@strata/protocol';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual, type CipherGCM, type DecipherGCM } from 'node:crypto';

interface Suite {
  keyLength: number;
  saltLength: number;
  tagLength: number;
  gcm: boolean;
}

const SUITES: Record<SrtpCryptoSuite, Suite> = {
  AES_CM_128_HMAC_SHA1_80: { keyLength: 16, saltLength: 14, tagLength: 10, gcm: false },
  AES_CM_128_HMAC_SHA1_32: { keyLength: 16, saltLength: 14, tagLength: 4, gcm: false },
  AEAD_AES_128_GCM: { keyLength: 16, saltLength: 12, tagLength: 16, gcm: true },
  AEAD_AES_256_GCM: { keyLength: 32, saltLength: 12, tagLength: 16, gcm: true },
};

/** RFC 3711 §4.3.1 key derivation labels (SRTP only). */
const LABEL_ENCRYPTION = 0;
const LABEL_AUTH = 1;
const LABEL_SALT = 2;

/** Fresh random keying material of the suite's length, as mediasoup expects it. */
export function randomSrtpParameters(cryptoSuite: SrtpCryptoSuite): SrtpParameters {
  const s = SUITES[cryptoSuite];
  return { cryptoSuite, keyBase64: randomBytes(s.keyLength + s.saltLength).toString('base64') } as SrtpParameters;
}

/** Bytes of SRTP overhead (the tag) a suite adds to each RTP packet. */
export function srtpOverhead(cryptoSuite: SrtpCryptoSuite): number {
  return SUITES[cryptoSuite].tagLength;
}

/** RFC 3711 §4.3.3 AES-CM PRF: keystream of AES_k over (salt || 0x0000) with the label in byte 7. */
function derive(masterKey: Buffer, masterSalt14: Buffer, label: number, length: number): Buffer {
  const iv = Buffer.alloc(16);
  masterSalt14.copy(iv, 0);
  iv[7] = (iv[7] ?? 0) ^ label;
  const cipher = createCipheriv(masterKey.length === 32 ? 'aes-256-ctr' : 'aes-128-ctr', masterKey, iv);
  return cipher.update(Buffer.alloc(length));
}

/** Length of the RTP header with CSRCs and header extension (what SRTP leaves in the clear). */
function headerLength(p: Buffer): number | undefined {
  if (p.length < 12 || (p[0] ?? 0) >> 6 !== 2) return undefined;
  let n = 12 + 4 * ((p[0] ?? 0) & 0x0f);
  if ((p[0] ?? 0) & 0x10) {
    if (p.length < n + 4) return undefined;
    n += 4 + 4 * p.readUInt16BE(n + 2);
  }
  return n <= p.length ? n : undefined;
}

/** The payload of an RTP packet: what follows its header, CSRCs and header extension. */
export function rtpPayload(rtp: Buffer): Buffer {
  const h = headerLength(rtp);
  if (h === undefined) throw new Error('not an RTP packet');
  return rtp.subarray(h);
}

interface StreamState {
  /** Highest sequence number authenticated (receiving) or sent (sending). */
  seq: number;
  roc: number;
}

/**
 * One direction of one SRTP session: every SSRC protected with one key, as mediasoup's plain
 * transport does. `protect` for what we send, `unprotect` for what we receive; the rollover
 * counter is tracked per SSRC (RFC 3711 Appendix A).
 */
export class SrtpSession {
  private readonly suite: Suite;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly authKey: Buffer;
  private readonly streams = new Map<number, StreamState>();

  /** The session keys derived from the master key and salt (for tests against RFC 3711's vectors). */
  get sessionKeys(): { key: Buffer; salt: Buffer; authKey: Buffer } {
    return { key: Buffer.from(this.key), salt: Buffer.from(this.salt), authKey: Buffer.from(this.authKey) };
  }

  constructor(params: SrtpParameters) {
    const suite = SUITES[params.cryptoSuite];
    const material = Buffer.from(params.keyBase64, 'base64');
    if (material.length !== suite.keyLength + suite.saltLength)
      throw new Error(`${params.cryptoSuite} takes ${suite.keyLength + suite.saltLength} bytes of key and salt, not ${material.length}`);
    const masterKey = material.subarray(0, suite.keyLength);
    const masterSalt = Buffer.alloc(14);
    material.copy(masterSalt, 0, suite.keyLength);
    this.suite = suite;
    this.key = derive(masterKey, masterSalt, LABEL_ENCRYPTION, suite.keyLength);
    this.salt = derive(masterKey, masterSalt, LABEL_SALT, suite.saltLength);
    this.authKey = suite.gcm ? Buffer.alloc(0) : derive(masterKey, masterSalt, LABEL_AUTH, 20);
  }

  /** RTP → SRTP. */
  protect(rtp: Buffer): Buffer {
    const h = headerLength(rtp);
    if (h === undefined) throw new Error('not an RTP packet');
    const ssrc = rtp.readUInt32BE(8);
    const seq = rtp.readUInt16BE(2);
    let s = this.streams.get(ssrc);
    if (!s) this.streams.set(ssrc, (s = { seq, roc: 0 }));
    else {
      // A sequence number far below the last one has wrapped around.
      if (seq < s.seq && s.seq - seq > 0x8000) s.roc = (s.roc + 1) >>> 0;
      s.seq = seq;
    }
    return this.seal(rtp, h, ssrc, seq, s.roc);
  }

  /** SRTP → RTP, or undefined when the packet does not authenticate (wrong key, altered, not SRTP). */
  unprotect(srtp: Buffer): Buffer | undefined {
    const h = headerLength(srtp);
    if (h === undefined || srtp.length < h + this.suite.tagLength) return undefined;
    const ssrc = srtp.readUInt32BE(8);
    const seq = srtp.readUInt16BE(2);
    const s = this.streams.get(ssrc);
    // RFC 3711 Appendix A: guess the rollover counter from the highest sequence number seen.
    let v = 0;
    if (s) {
      if (s.seq < 0x8000) v = seq - s.seq > 0x8000 ? s.roc - 1 : s.roc;
      else v = s.seq - 0x8000 > seq ? s.roc + 1 : s.roc;
      if (v < 0) return undefined;
    }
    const out = this.open(srtp, h, ssrc, seq, v >>> 0);
    if (!out) return undefined;
    if (!s) this.streams.set(ssrc, { seq, roc: v });
    else if (v > s.roc) Object.assign(s, { seq, roc: v });
    else if (v === s.roc && seq > s.seq) s.seq = seq;
    return out;
  }

  /** RFC 3711 §4.1.1 counter / RFC 7714 §8.1 IV: SSRC, ROC and SEQ XORed into the session salt. */
  private iv(ssrc: number, seq: number, roc: number): Buffer {
    const gcm = this.suite.gcm;
    const iv = Buffer.alloc(gcm ? 12 : 16);
    iv.writeUInt32BE(ssrc, gcm ? 2 : 4);
    iv.writeUInt32BE(roc, gcm ? 6 : 8);
    iv.writeUInt16BE(seq, gcm ? 10 : 12);
    for (let i = 0; i < this.salt.length; i++) iv[i] = (iv[i] ?? 0) ^ (this.salt[i] ?? 0);
    return iv;
  }

  private algorithm(): string {
    return `aes-${this.key.length * 8}-${this.suite.gcm ? 'gcm' : 'ctr'}`;
  }

  private hmac(header: Buffer, payload: Buffer, roc: number): Buffer {
    const r = Buffer.alloc(4);
    r.writeUInt32BE(roc);
    return createHmac('sha1', this.authKey).update(header).update(payload).update(r).digest().subarray(0, this.suite.tagLength);
  }

  private seal(rtp: Buffer, h: number, ssrc: number, seq: number, roc: number): Buffer {
    const header = rtp.subarray(0, h);
    const cipher = createCipheriv(this.algorithm(), this.key, this.iv(ssrc, seq, roc));
    if (this.suite.gcm) {
      const gcm = cipher as CipherGCM;
      gcm.setAAD(header);
      const enc = Buffer.concat([gcm.update(rtp.subarray(h)), gcm.final()]);
      return Buffer.concat([header, enc, gcm.getAuthTag()]);
    }
    const enc = Buffer.concat([cipher.update(rtp.subarray(h)), cipher.final()]);
    return Buffer.concat([header, enc, this.hmac(header, enc, roc)]);
  }

  private open(srtp: Buffer, h: number, ssrc: number, seq: number, roc: number): Buffer | undefined {
    const header = srtp.subarray(0, h);
    const body = srtp.subarray(h, srtp.length - this.suite.tagLength);
    const tag = srtp.subarray(srtp.length - this.suite.tagLength);
    if (this.suite.gcm) {
      const d = createDecipheriv(this.algorithm(), this.key, this.iv(ssrc, seq, roc)) as DecipherGCM;
      d.setAAD(header);
      d.setAuthTag(tag);
      try {
        return Buffer.concat([header, d.update(body), d.final()]);
      } catch {
        return undefined; // the tag did not verify
      }
    }
    if (!timingSafeEqual(this.hmac(header, body, roc), tag)) return undefined;
    const d = createDecipheriv(this.algorithm(), this.key, this.iv(ssrc, seq, roc));
    return Buffer.concat([header, d.update(body), d.final()]);
  }
}
