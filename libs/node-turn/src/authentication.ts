// STUN authentication (RFC 8489 section 9): the long-term credential mechanism TURN uses, and short-term.
// Ported from node-turn 0.0.6 lib/authentification.js (MIT, Atlantis Software).
import { randomBytes } from 'node:crypto';
import { CLASS } from './constants.js';
import type { Message, User } from './message.js';
import type { Server } from './server.js';

export type AuthMech = 'none' | 'short-term' | 'long-term';

/** How long a nonce is accepted. */
const NONCE_LIFETIME_MS = 3_600_000;

export class Authentication {
  private readonly nonces = new Map<string, number>();

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
    this.server.debug('DEBUG', `authentication failed for TransactionID: ${msg.transactionID}: ${code} ${reason}`);
    return undefined;
  }

  private shortTerm(msg: Message): Message | undefined {
    const username = msg.getAttribute('username');
    const reply = msg.reply();
    if (username === undefined || msg.getAttribute('message-integrity') === undefined) return this.fail(msg, reply, 400, 'Bad Request');
    const password = this.server.passwordFor(username);
    if (password === undefined || msg.getAttribute('message-integrity') === false) return this.fail(msg, reply, 401, 'Unauthorized');
    const user: User = { username, password };
    msg.setUser(user);
    reply.setUser(user);
    return reply;
  }

  private longTerm(msg: Message): Message | undefined {
    const username = msg.getAttribute('username');
    const reply = msg.reply();
    const challenge = (code: number, reason: string) => {
      // The challenge carries REALM and a fresh NONCE, and no USERNAME or MESSAGE-INTEGRITY.
      reply.addAttribute('realm', this.server.realm);
      reply.addAttribute('nonce', this.generateNonce());
      return this.fail(msg, reply, code, reason);
    };
    if (msg.getAttribute('message-integrity') === undefined) return challenge(401, 'Unauthorized');
    const nonce = msg.getAttribute('nonce');
    if (username === undefined || msg.getAttribute('realm') === undefined || nonce === undefined) return this.fail(msg, reply, 400, 'Bad Request');
    if (!this.checkNonce(nonce)) return challenge(438, 'Stale Nonce');
    const password = this.server.passwordFor(username);
    if (password === undefined) return challenge(401, 'Unauthorized');
    if (msg.getAttribute('message-integrity') === false) return challenge(401, 'Unauthorized');
    // RFC 8656 section 5: requests on an allocation must use the credentials that created it.
    if (msg.allocation?.user && msg.allocation.user.username !== username) return this.fail(msg, reply, 441, 'Wrong Credentials');
    const user: User = { username, password };
    msg.setUser(user);
    reply.setUser(user);
    return reply;
  }

  generateNonce(): string {
    const now = Date.now();
    // Forget expired nonces as new ones are made, rather than one timer per nonce.
    if (this.nonces.size > 1000) for (const [n, exp] of this.nonces) if (exp < now) this.nonces.delete(n);
    const nonce = randomBytes(16).toString('hex');
    this.nonces.set(nonce, now + NONCE_LIFETIME_MS);
    return nonce;
  }

  checkNonce(nonce: string): boolean {
    const exp = this.nonces.get(nonce);
    return exp !== undefined && exp >= Date.now();
  }
}
