// STUN attributes (RFC 8489 section 14, RFC 8656 section 18): their names, value types and codec.
// Ported from node-turn 0.0.6 lib/attribute.js (MIT, Atlantis Software). MESSAGE-INTEGRITY and
// FINGERPRINT depend on the bytes before them, so Message encodes those two; here is every other.
import { Address } from './address.js';
import { ATTR, FAMILY, MAGIC_COOKIE, type AttributeKey } from './constants.js';

export interface ErrorCode {
  code: number;
  reason: string;
}

/** The value of each attribute as the server reads and writes it. */
export interface AttributeValues {
  'mapped-address': Address;
  username: string;
  /** hex of the received HMAC; false once checked and found wrong (or no key to check it with) */
  'message-integrity': string | false;
  'error-code': ErrorCode;
  'unknown-attributes': number[];
  realm: string;
  nonce: string;
  'xor-mapped-address': Address;
  software: string;
  'alternate-server': Address;
  /** the received value; false when it does not match the message */
  fingerprint: number | false;
  'channel-number': number;
  lifetime: number;
  'xor-peer-address': Address;
  data: Buffer;
  'xor-relayed-address': Address;
  /** the R bit */
  'even-port': boolean;
  'requested-transport': number;
  'dont-fragment': true;
  'reservation-token': Buffer;
  /** an address family (FAMILY) */
  'requested-address-family': number;
  'additional-address-family': number;
  'address-error-code': ErrorCode & { family: number };
}
export type AttributeName = keyof AttributeValues;

const nameOfType = new Map<number, AttributeName>(
  (Object.keys(ATTR) as AttributeKey[]).map((k) => [ATTR[k], k.toLowerCase().replace(/_/g, '-') as AttributeName]),
);

export function attributeType(name: AttributeName): number {
  return ATTR[name.toUpperCase().replace(/-/g, '_') as AttributeKey];
}

export function attributeName(type: number): AttributeName | undefined {
  return nameOfType.get(type);
}

/** One attribute of a message; `value` is undefined for MESSAGE-INTEGRITY and FINGERPRINT until encoded. */
export interface Attribute<N extends AttributeName = AttributeName> {
  type: number;
  name: N;
  value: AttributeValues[N] | undefined;
}

/** The XOR key of an address: the magic cookie, then the transaction id for IPv6 (RFC 8489 section 14.2). */
function xorKey(transactionId: Buffer): Buffer {
  const key = Buffer.alloc(16);
  key.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(key, 4, 0, 12);
  return key;
}

function readAddress(v: Buffer, xor: boolean, transactionId: Buffer): Address | undefined {
  if (v.length < 4) return undefined;
  const family = v[1];
  const size = family === FAMILY.IPV4 ? 4 : family === FAMILY.IPV6 ? 16 : 0;
  if (!size || v.length < 4 + size) return undefined;
  let port = v.readUInt16BE(2);
  const bytes = Buffer.from(v.subarray(4, 4 + size));
  if (xor) {
    port ^= MAGIC_COOKIE >>> 16;
    const key = xorKey(transactionId);
    for (let i = 0; i < size; i++) bytes[i] = (bytes[i] ?? 0) ^ (key[i] ?? 0);
  }
  return Address.fromBytes(bytes, port);
}

function writeAddress(a: Address, xor: boolean, transactionId: Buffer): Buffer {
  const bytes = a.toBytes();
  const out = Buffer.alloc(4 + bytes.length);
  out[1] = a.family;
  out.writeUInt16BE(xor ? a.port ^ (MAGIC_COOKIE >>> 16) : a.port, 2);
  if (xor) {
    const key = xorKey(transactionId);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] ?? 0) ^ (key[i] ?? 0);
  }
  bytes.copy(out, 4);
  return out;
}

/** A decoded attribute, or why it could not be: a type we do not know, or a value that is not well formed. */
export type Decoded = Attribute | 'unknown' | 'malformed';

/** Decodes the value `v` of an attribute of type `type`. Never throws, as this runs on every received message. */
export function decodeAttribute(type: number, v: Buffer, transactionId: Buffer): Decoded {
  const name = attributeName(type);
  if (!name) return 'unknown';
  const value = decodeValue(name, v, transactionId);
  if (value === undefined) return 'malformed';
  return { type, name, value } as Attribute;
}

/** Comprehension-required attributes are 0x0000-0x7FFF (RFC 8489 section 14). */
export function comprehensionRequired(type: number): boolean {
  return type < 0x8000;
}

function decodeValue(name: AttributeName, v: Buffer, tid: Buffer): AttributeValues[AttributeName] | undefined {
  switch (name) {
    case 'mapped-address':
    case 'alternate-server':
      return readAddress(v, false, tid);
    case 'xor-mapped-address':
    case 'xor-peer-address':
    case 'xor-relayed-address':
      return readAddress(v, true, tid);
    case 'username':
    case 'realm':
    case 'nonce':
    case 'software':
      return v.toString('utf8');
    case 'message-integrity':
      return v.length === 20 ? v.toString('hex') : undefined;
    case 'fingerprint':
    case 'lifetime':
      return v.length === 4 ? v.readUInt32BE(0) : undefined;
    case 'channel-number':
      return v.length === 4 ? v.readUInt16BE(0) : undefined;
    case 'requested-transport':
      return v.length === 4 ? v.readUInt8(0) : undefined;
    case 'requested-address-family':
    case 'additional-address-family':
      return v.length === 4 ? v.readUInt8(0) : undefined;
    case 'address-error-code':
      return v.length >= 4 ? { family: v[0] ?? 0, code: ((v[2] ?? 0) & 0x07) * 100 + (v[3] ?? 0), reason: v.toString('utf8', 4) } : undefined;
    case 'even-port':
      return v.length === 1 ? ((v[0] ?? 0) & 0x80) !== 0 : undefined;
    case 'dont-fragment':
      return v.length === 0 ? true : undefined;
    case 'data':
      return v;
    case 'reservation-token':
      return v.length === 8 ? Buffer.from(v) : undefined;
    case 'error-code':
      return v.length >= 4 ? { code: ((v[2] ?? 0) & 0x07) * 100 + (v[3] ?? 0), reason: v.toString('utf8', 4) } : undefined;
    case 'unknown-attributes': {
      const types: number[] = [];
      for (let i = 0; i + 1 < v.length; i += 2) types.push(v.readUInt16BE(i));
      return types;
    }
  }
}

/** Encodes the value of every attribute but MESSAGE-INTEGRITY and FINGERPRINT (Message computes those). */
export function encodeValue<N extends AttributeName>(name: N, value: AttributeValues[N], transactionId: Buffer): Buffer {
  const v = value as AttributeValues[AttributeName];
  switch (name) {
    case 'mapped-address':
    case 'alternate-server':
      return writeAddress(v as Address, false, transactionId);
    case 'xor-mapped-address':
    case 'xor-peer-address':
    case 'xor-relayed-address':
      return writeAddress(v as Address, true, transactionId);
    case 'username':
    case 'realm':
    case 'nonce':
    case 'software':
      return Buffer.from(v as string, 'utf8');
    case 'lifetime': {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(v as number, 0);
      return b;
    }
    case 'channel-number': {
      const b = Buffer.alloc(4);
      b.writeUInt16BE(v as number, 0);
      return b;
    }
    case 'requested-transport':
    case 'requested-address-family':
    case 'additional-address-family':
      return Buffer.from([v as number, 0, 0, 0]);
    case 'even-port':
      return Buffer.from([v ? 0x80 : 0]);
    case 'dont-fragment':
      return Buffer.alloc(0);
    case 'data':
    case 'reservation-token':
      return v as Buffer;
    case 'error-code':
    case 'address-error-code': {
      const { code, reason } = v as ErrorCode;
      if (code < 300 || code > 699) throw new Error('error-code: code must be in 300..699');
      const r = Buffer.from(reason, 'utf8');
      if (r.length > 763) throw new Error('error-code: reason is longer than 763 bytes');
      const b = Buffer.alloc(4 + r.length);
      if (name === 'address-error-code') b[0] = (v as ErrorCode & { family: number }).family;
      b[2] = Math.floor(code / 100);
      b[3] = code % 100;
      r.copy(b, 4);
      return b;
    }
    case 'unknown-attributes': {
      const types = v as number[];
      const b = Buffer.alloc(types.length * 2);
      types.forEach((t, i) => b.writeUInt16BE(t, i * 2));
      return b;
    }
    case 'message-integrity':
    case 'fingerprint':
      throw new Error(`${name} is computed by Message`);
  }
  throw new Error(`unknown attribute ${String(name)}`);
}
