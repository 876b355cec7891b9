import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The TURN REST API scheme (draft-uberti-behave-turn-rest, what coturn's use-auth-secret
 * implements): the username carries its own expiry, the password is an HMAC of the username,
 * so any TURN node holding the secret can check a credential with no shared state.
 */
export function mintCredential(secret: string, identity: string, ttlSeconds: number, nowSeconds = Math.floor(Date.now() / 1000)) {
  const expiresAt = nowSeconds + ttlSeconds;
  const username = `${expiresAt}:${identity}`;
  return { username, credential: passwordFor(secret, username), expiresAt };
}

export function passwordFor(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** The password for `username` if it is a well-formed, unexpired ephemeral username; else undefined. */
export function lookupEphemeral(secret: string, username: string, nowSeconds = Math.floor(Date.now() / 1000)): string | undefined {
  const m = /^(\d{1,12}):(.+)$/.exec(username);
  if (!m) return undefined;
  if (Number(m[1]) <= nowSeconds) return undefined;
  return passwordFor(secret, username);
}

export function checkCredential(secret: string, username: string, password: string): boolean {
  const want = lookupEphemeral(secret, username);
  if (!want) return false;
  const a = Buffer.from(want);
  const b = Buffer.from(password);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The identity of an ephemeral username `expiry:identity` (the whole username when it has no expiry). */
export function identityOf(username: string): string {
  const m = /^\d{1,12}:(.+)$/.exec(username);
  return m?.[1] ?? username;
}
