// A self-signed certificate for the TLS listener in development and tests, made with node:crypto alone.
// Not in node-turn 0.0.6. node can make keys and signatures but not certificates, and shelling out to
// openssl would make every start depend on a binary; an X.509 v3 certificate is a few DER structures.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { isIP } from 'node:net';
import { Address } from './address.js';

export interface SelfSigned {
  /** PEM */
  cert: string;
  /** PEM, PKCS#8 */
  key: string;
}

/**
 * An ECDSA P-256 key and a certificate signed by it, valid from an hour ago for `days`, naming `hosts`
 * (IP addresses and DNS names) in its subjectAltName so clients that check the name can trust it by pinning.
 */
export function selfSignedCertificate(hosts: string[], opts: { commonName?: string; days?: number; now?: Date } = {}): SelfSigned {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3_600_000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 30) * 86_400_000);
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f; // positive
  const name = seq(set(seq(oid('2.5.4.3'), der(0x0c, Buffer.from(opts.commonName ?? hosts[0] ?? 'localhost')))));
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const altNames = hosts.map((h) => (isIP(h) ? der(0x87, new Address(h, 0).toBytes()) : der(0x82, Buffer.from(h, 'ascii'))));
  const extensions = [
    // basicConstraints cA FALSE (the default, so an empty SEQUENCE), critical: a leaf, never an issuer.
    seq(oid('2.5.29.19'), der(0x01, Buffer.from([0xff])), der(0x04, seq())),
    // extKeyUsage serverAuth
    seq(oid('2.5.29.37'), der(0x04, seq(oid('1.3.6.1.5.5.7.3.1')))),
  ];
  if (altNames.length) extensions.push(seq(oid('2.5.29.17'), der(0x04, seq(...altNames))));
  const tbs = seq(
    der(0xa0, integer(Buffer.from([2]))), // v3
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey); // DER ECDSA-Sig-Value, as X.509 wants
  const cert = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = cert.toString('base64').replace(/.{1,64}/g, '$&\n');
  return { cert: `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

const seq = (...content: Buffer[]) => der(0x30, ...content);
const set = (...content: Buffer[]) => der(0x31, ...content);
/** An INTEGER from unsigned big-endian bytes (a leading zero keeps it positive). */
const integer = (b: Buffer) => der(0x02, (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const base128 = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return der(0x06, Buffer.from(bytes));
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14); // YYYYMMDDHHMMSS
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}
