// STUN messages (RFC 8489 section 5): header, attributes, MESSAGE-INTEGRITY and FINGERPRINT, and the
// reply a request gets. Ported from node-turn 0.0.6 lib/message.js and lib/data.js (MIT, Atlantis Software):
// the bit-by-bit Buffer subclass became the two masks of RFC 8489 section 5.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { attributeType, comprehensionRequired, decodeAttribute, encodeValue, type Attribute, type AttributeName, type AttributeValues } from './attribute.js';
import { CLASS, FINGERPRINT_XOR, MAGIC_COOKIE, METHOD, type DebugLevelName } from './constants.js';
import type { Transport } from './transport.js';
import type { Allocation } from './allocation.js';

export interface User {
  username: string;
  password: string;
}

/** What a message needs of its server. */
export interface MessageContext {
  readonly realm: string;
  readonly software: string;
  debug(level: DebugLevelName, msg: unknown): void;
  /**
   * The long-term password of `username`, or undefined when there is no such user; several when any of them
   * may be the one (a shared secret being rotated: the client's password was derived with one of them).
   */
  passwordFor(username: string): Passwords;
}

export type Passwords = string | readonly string[] | undefined;

type State = 'waiting' | 'resolved' | 'rejected' | 'discarded' | 'incoming';

/** The long-term credential key (RFC 8489 section 9.2.2): MD5(username ":" realm ":" password). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest();
}

export function fingerprintOf(bytes: Buffer): number {
  return (crc32(bytes) ^ FINGERPRINT_XOR) >>> 0;
}

/** True when the first bytes of `buf` look like a STUN message (the two top bits zero and the magic cookie). */
export function isStun(buf: Buffer): boolean {
  return buf.length >= 20 && ((buf[0] ?? 0) & 0xc0) === 0 && buf.readUInt32BE(4) === MAGIC_COOKIE;
}

export class Message {
  allocation: Allocation | null = null;
  class: number = CLASS.REQUEST;
  method: number = METHOD.BINDING;
  transactionId: Buffer = Buffer.alloc(12);
  attributes: Attribute[] = [];
  /** the request carried a FINGERPRINT (ours always do) */
  useFingerprint = false;
  user: User | null = null;
  /** comprehension-required attribute types we do not know: a request with any gets a 420 (RFC 8489 section 6.3.1) */
  unknownAttributes: number[] = [];
  /** a known attribute whose value was not well formed: a request with one gets a 400 */
  malformed = false;
  /** the password whose key verified MESSAGE-INTEGRITY, when it did: the reply is signed with the same key */
  integrityPassword: string | undefined;
  private state: State = 'waiting';

  constructor(
    readonly server: MessageContext,
    readonly transport: Transport,
  ) {}

  get transactionID(): string {
    return this.transactionId.toString('hex');
  }

  /**
   * Parses `buf` into this message; false when it is not a well-formed STUN message. MESSAGE-INTEGRITY
   * and FINGERPRINT are checked here (their value becomes false when wrong). Never throws.
   */
  read(buf: Buffer): boolean {
    this.state = 'incoming';
    if (!isStun(buf)) return false;
    const type = buf.readUInt16BE(0);
    // C1 is bit 8 and C0 bit 4 of the type; the method is the other twelve (RFC 8489 section 5).
    this.class = ((type >> 7) & 0x2) | ((type >> 4) & 0x1);
    this.method = (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80);
    const length = buf.readUInt16BE(2);
    if (length % 4 !== 0 || 20 + length > buf.length) return false;
    this.transactionId = Buffer.from(buf.subarray(8, 20));

    let offset = 20;
    const end = 20 + length;
    let afterIntegrity = false;
    while (offset + 4 <= end) {
      const attrType = buf.readUInt16BE(offset);
      const attrLength = buf.readUInt16BE(offset + 2);
      const valueEnd = offset + 4 + attrLength;
      if (valueEnd > end) return false;
      const next = valueEnd + (attrLength % 4 ? 4 - (attrLength % 4) : 0);
      const decoded = decodeAttribute(attrType, buf.subarray(offset + 4, valueEnd), this.transactionId);
      // Only FINGERPRINT may follow MESSAGE-INTEGRITY; anything else there is ignored (RFC 8489 section 14.5).
      if (afterIntegrity && !(typeof decoded !== 'string' && decoded.name === 'fingerprint')) {
        offset = next;
        continue;
      }
      if (decoded === 'unknown') {
        if (comprehensionRequired(attrType)) this.unknownAttributes.push(attrType);
      } else if (decoded === 'malformed') {
        this.malformed = true;
      } else {
        if (decoded.name === 'message-integrity') {
          this.checkIntegrity(decoded as Attribute<'message-integrity'>, buf, offset);
          afterIntegrity = true;
        }
        if (decoded.name === 'fingerprint') {
          this.useFingerprint = true;
          if (fingerprintOf(buf.subarray(0, offset)) !== decoded.value) decoded.value = false;
          this.attributes.push(decoded);
          // FINGERPRINT is the last attribute.
          break;
        }
        this.attributes.push(decoded);
      }
      offset = next;
    }
    return true;
  }

  /** HMAC-SHA1 over the message up to the attribute at `offset`, its length field counting MESSAGE-INTEGRITY itself. */
  private checkIntegrity(attr: Attribute<'message-integrity'>, buf: Buffer, offset: number): void {
    const username = this.getAttribute('username');
    const found = username === undefined ? undefined : this.server.passwordFor(username);
    const passwords = found === undefined ? [] : typeof found === 'string' ? [found] : found;
    if (username === undefined || passwords.length === 0) {
      this.server.debug('DEBUG', username === undefined ? 'no username sent' : 'invalid user');
      attr.value = false;
      return;
    }
    const input = Buffer.from(buf.subarray(0, offset));
    input.writeUInt16BE(offset - 20 + 24, 2);
    const got = Buffer.from(attr.value || '', 'hex');
    for (const password of passwords) {
      const want = createHmac('sha1', longTermKey(username, this.server.realm, password))
        .update(input)
        .digest();
      if (got.length === want.length && timingSafeEqual(got, want)) {
        this.integrityPassword = password;
        return;
      }
    }
    this.server.debug('DEBUG', 'invalid message-integrity');
    attr.value = false;
  }

  reply(): Message {
    const r = new Message(this.server, this.transport.revert());
    r.class = this.class;
    r.method = this.method;
    r.transactionId = this.transactionId;
    r.useFingerprint = this.useFingerprint;
    return r;
  }

  getMethodName(): string {
    const e = Object.entries(METHOD).find(([, v]) => v === this.method);
    return e ? e[0].toLowerCase() : 'unknown-method';
  }

  getClassName(): string {
    const e = Object.entries(CLASS).find(([, v]) => v === this.class);
    return e ? e[0].toLowerCase() : 'unknown-class';
  }

  setUser(user: User): void {
    this.user = user;
  }

  /** Adds an attribute. MESSAGE-INTEGRITY and FINGERPRINT are not added here: toBuffer puts them last. */
  addAttribute<N extends Exclude<AttributeName, 'message-integrity' | 'fingerprint'>>(name: N, value: AttributeValues[N]): void {
    this.attributes.push({ type: attributeType(name), name, value } as Attribute);
  }

  getAttribute<N extends AttributeName>(name: N): AttributeValues[N] | undefined {
    const a = this.attributes.find((x) => x.name === name);
    return a?.value as AttributeValues[N] | undefined;
  }

  getAttributes<N extends AttributeName>(name: N): AttributeValues[N][] {
    return this.attributes.filter((x) => x.name === name && x.value !== undefined).map((x) => x.value as AttributeValues[N]);
  }

  /**
   * The wire form: attributes in the order added, then MESSAGE-INTEGRITY on every response to an
   * authenticated request (success or error, RFC 8489 section 9.2.4), then FINGERPRINT on every
   * message we send (RFC 8656 section 3: TURN shares its port with other protocols).
   */
  toBuffer(): Buffer {
    const header = Buffer.alloc(20);
    const m = this.method;
    const c = this.class;
    header.writeUInt16BE((m & 0x000f) | ((m & 0x0070) << 1) | ((m & 0x0f80) << 2) | ((c & 0x1) << 4) | ((c & 0x2) << 7), 0);
    header.writeUInt32BE(MAGIC_COOKIE, 4);
    this.transactionId.copy(header, 8);
    const parts: Buffer[] = [header];
    let length = 0;
    const push = (type: number, value: Buffer) => {
      const padding = value.length % 4 ? 4 - (value.length % 4) : 0;
      const h = Buffer.alloc(4);
      h.writeUInt16BE(type, 0);
      h.writeUInt16BE(value.length, 2);
      parts.push(h, value, Buffer.alloc(padding));
      length += 4 + value.length + padding;
    };
    for (const a of this.attributes) {
      if (a.name === 'fingerprint' || a.name === 'message-integrity') continue;
      push(a.type, encodeValue(a.name, a.value as AttributeValues[typeof a.name], this.transactionId));
    }
    // (Requests too, so the same code signs a client's request in tests; indications are never signed.)
    if (this.user && this.class !== CLASS.INDICATION) {
      const sofar = Buffer.concat(parts);
      sofar.writeUInt16BE(length + 24, 2);
      push(
        attributeType('message-integrity'),
        createHmac('sha1', longTermKey(this.user.username, this.server.realm, this.user.password))
          .update(sofar)
          .digest(),
      );
    }
    const sofar = Buffer.concat(parts);
    sofar.writeUInt16BE(length + 8, 2);
    const fp = Buffer.alloc(4);
    fp.writeUInt32BE(fingerprintOf(sofar), 0);
    push(attributeType('fingerprint'), fp);
    const out = Buffer.concat(parts);
    out.writeUInt16BE(length, 2);
    return out;
  }

  private send(what: string): void {
    let buf: Buffer;
    try {
      buf = this.toBuffer();
    } catch (err) {
      this.server.debug('ERROR', err);
      return;
    }
    const dst = this.transport.dst;
    this.transport.socket.send(buf, dst.port, dst.address, (err) => {
      if (err) {
        this.server.debug('ERROR', `error while ${what} ${dst} TransactionID: ${this.transactionID}: ${String(err)}`);
        return;
      }
      this.server.debug('DEBUG', `Sending ${this}`);
    });
  }

  resolve(): void {
    if (this.state !== 'waiting') return;
    this.class = CLASS.SUCCESS;
    this.state = 'resolved';
    this.send('responding to');
  }

  /** An error response; a 420 lists the attributes not understood. */
  reject(code: number, reason: string, unknownAttributes?: number[]): void {
    if (this.state !== 'waiting') return;
    this.class = CLASS.ERROR;
    this.addAttribute('error-code', { code, reason });
    if (unknownAttributes?.length) this.addAttribute('unknown-attributes', unknownAttributes);
    this.state = 'rejected';
    this.send('responding to');
  }

  discard(): void {
    if (this.state !== 'waiting') return;
    this.state = 'discarded';
    this.server.debug('DEBUG', `Discarding ${this}`);
  }

  /** Sends this message as a Data indication carrying `data` (RFC 8656 section 11.4). */
  data(data: Buffer): void {
    if (this.state !== 'waiting') return;
    this.state = 'resolved';
    this.class = CLASS.INDICATION;
    this.method = METHOD.DATA;
    this.addAttribute('data', data);
    this.transactionId = randomBytes(12);
    this.send('indicating to');
  }

  toString(): string {
    const attrs = this.attributes.map((a) => {
      const v = a.value;
      const shown = Buffer.isBuffer(v) ? `[ Binary data length: ${v.length} ]` : a.name === 'error-code' && v ? `${(v as { code: number }).code}` : String(v);
      return `\n  ${a.name}: ${shown}`;
    });
    return `${this.transport} ${this.getMethodName()} ${this.getClassName()} TransactionID: ${this.transactionID}${attrs.join('')}`;
  }
}
