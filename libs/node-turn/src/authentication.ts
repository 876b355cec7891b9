// STUN authentication (RFC 8489 section 9): the long-term credential mechanism TURN uses, and short-term.
// Ported from node-turn 0.0.6 lib/authentification.js (MIT, Atlantis Software).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { CLASS } from './constants.js';
import type { Message, User } from './message.js';
import type { Server } from './server.js';

export type AuthMech = 'none' | 'short-term' | 'long-term';

/** Hex digits of the issue time (ms since epoch) at the start of a nonce: 12 last until the year 10889. */
const TIME_DIGITS = 12;
/** Hex digits of randomness after it, so two nonces made in the same millisecond differ. */
const SALT_DIGITS = 8;
/** Hex digits of the nonce's MAC. */
const MAC_DIGITS = 32;
const PREFIX = TIME_DIGITS + SALT_DIGITS;

export class Authentication {
  /**
   * Nonces are stateless: the time they were made, a salt and a MAC of both under a key of this process, so a flood of
   * unauthenticated requests (each of which gets a fresh nonce) costs no memory, and a nonce from another
   * process or an earlier run is refused like a stale one.
   */
  private readonly nonceKey = randomBytes(32);

  constructor(private readonly server: Server) {}

  /** The authenticated reply to `msg`, or undefined when `msg` was answered with an error (or discarded). */
  auth(msg: Message): Message | undefined {
    if (this.server.authMech === 'none') return msg.reply();
    if (this.server.authMech === 'short-term') return this.shortTerm(msg);
    return this.longTerm(msg);
  }

  private fail(msg: Message, reply: Message, code: number, reason: string): undefined {
    if (msg.class === CLASS.REQUEST) reply.reject(code, reason);
    else reply.discard();
    // A request without MESSAGE-INTEGRITY is a client asking for a nonce, not a failure.
    if (code === 438) this.server.stats.staleNonces++;
    else if (msg.getAttribute('message-integrity') !== undefined) this.server.stats.authFailures++;
    this.server.debug('DEBUG', `authentication failed for TransactionID: ${msg.transactionID}: ${code} ${reason}`);
    return undefined;
  }

  private shortTerm(msg: Message): Message | undefined {
    const username = msg.getAttribute('username');
    const reply = msg.reply();
    if (username === undefined || msg.getAttribute('message-integrity') === undefined) return this.fail(msg, reply, 400, 'Bad Request');
    const password = msg.integrityPassword;
    if (password === undefined || msg.getAttribute('message-integrity') === false) return this.fail(msg, reply, 401, 'Unauthorized');
    const user: User = { username, password };
    msg.setUser(user);
    reply.setUser(user);
    return reply;
  }

  /** RFC 8489 section 9.2.4, in its order: the credentials are checked before the nonce, so a 438 tells a client its credentials are good. */
  private longTerm(msg: Message): Message | undefined {
    const username = msg.getAttribute('username');
    const reply = msg.reply();
    const challenge = (code: number, reason: string) => {
      // The challenge carries REALM and a fresh NONCE, and no USERNAME or MESSAGE-INTEGRITY (RFC 8489 section 9.2.4).
      reply.addAttribute('realm', this.server.realm);
      reply.addAttribute('nonce', this.generateNonce());
      return this.fail(msg, reply, code, reason);
    };
    const integrity = msg.getAttribute('message-integrity');
    if (integrity === undefined) return challenge(401, 'Unauthorized');
    const nonce = msg.getAttribute('nonce');
    if (username === undefined || msg.getAttribute('realm') === undefined || nonce === undefined) return this.fail(msg, reply, 400, 'Bad Request');
    // An unknown, expired or malformed username, or a password that does not verify (wrong, or made with another secret).
    const password = msg.integrityPassword;
    if (integrity === false || password === undefined) return challenge(401, 'Unauthorized');
    if (!this.checkNonce(nonce)) return challenge(438, 'Stale Nonce');
    // RFC 8656 section 5: requests on an allocation must use the credentials that created it.
    if (msg.allocation?.user && msg.allocation.user.username !== username) return this.fail(msg, reply, 441, 'Wrong Credentials');
    const user: User = { username, password };
    msg.setUser(user);
    reply.setUser(user);
    return reply;
  }

  generateNonce(now = Date.now()): string {
    const prefix = Math.floor(now).toString(16).padStart(TIME_DIGITS, '0') + randomBytes(SALT_DIGITS / 2).toString('hex');
    return prefix + this.mac(prefix);
  }

  /** Whether `nonce` is one of ours and younger than the server's nonce lifetime. Never throws. */
  checkNonce(nonce: string, now = Date.now()): boolean {
    if (nonce.length !== PREFIX + MAC_DIGITS) return false;
    const prefix = nonce.slice(0, PREFIX);
    if (!/^[0-9a-f]+$/.test(prefix)) return false;
    const want = Buffer.from(this.mac(prefix));
    const got = Buffer.from(nonce.slice(PREFIX));
    if (got.length !== want.length || !timingSafeEqual(got, want)) return false;
    const issued = parseInt(prefix.slice(0, TIME_DIGITS), 16);
    return issued <= now && now - issued < this.server.nonceLifetime * 1000;
  }

  private mac(prefix: string): string {
    return createHmac('sha256', this.nonceKey).update(prefix).digest('hex').slice(0, MAC_DIGITS);
  }
}
