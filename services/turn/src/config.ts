import { bool, duration, int, list, oneOf, port, str, type VarSpec } from '@strata/config';

export const TURN_TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
export type TurnTransport = (typeof TURN_TRANSPORTS)[number];

/** A port that may be left empty, when another setting decides it. */
function optionalPort(description: string): VarSpec<number | undefined> {
  return { ...port({ description }), hasFallback: true, fallback: undefined };
}

export const turnConfig = {
  TURN_LISTEN_IP: str({ description: 'IP the TURN server listens on (UDP, TCP and TLS)', default: '127.0.0.1' }),
  TURN_PORT: port({ description: 'TURN/STUN UDP port', default: 3478 }),
  TURN_TRANSPORTS: list(oneOf(TURN_TRANSPORTS, { description: 'a client transport' }), {
    description:
      'client transports served and handed out as URLs: udp (turn:…?transport=udp), tcp (turn:…?transport=tcp), tls (turns:…?transport=tcp); relays are UDP',
    default: [...TURN_TRANSPORTS],
  }),
  TURN_TCP_PORT: optionalPort('TURN/STUN TCP port; empty: the UDP port (the one bound when TURN_PORT is 0)'),
  TURN_TLS_PORT: port({ description: 'TURN over TLS (turns:) port', default: 5349 }),
  TURN_TLS_CERT: str({
    description: 'PEM file of the TLS certificate (chain); empty, with TURN_TLS_KEY empty: a self-signed one is made at start, for development and tests',
    default: '',
  }),
  TURN_TLS_KEY: str({ description: 'PEM file of the TLS private key; set with TURN_TLS_CERT', default: '' }),
  TURN_ANNOUNCED_ADDRESS: str({ description: 'host or IP clients are told to use; empty: TURN_LISTEN_IP', default: '' }),
  TURN_RELAY_IP: str({ description: 'IP relayed allocations bind to; empty: TURN_LISTEN_IP', default: '' }),
  TURN_MIN_PORT: port({ description: 'lowest relay port', default: 49152 }),
  TURN_MAX_PORT: port({ description: 'highest relay port', default: 65535 }),
  TURN_REALM: str({ description: 'long-term credential realm', default: 'strata' }),
  TURN_SECRET: str({
    description: 'shared secret for ephemeral REST credentials (user = "<expiry>:<identity>", password = base64 HMAC-SHA1)',
    default: 'strata-dev-secret',
  }),
  TURN_SECRET_PREVIOUS: str({
    description:
      'the secret TURN_SECRET replaces, still accepted (never used to mint) while credentials made with it may be live: for a rotation, set it on every node with the new TURN_SECRET, and unset it once the longest TURN_CREDENTIAL_TTL has passed; empty: none',
    default: '',
  }),
  TURN_ALLOW_LOOPBACK_PEERS: bool({
    description: 'relay to 127.0.0.0/8 and ::1 (tests, single-machine development); refused by default, as coturn without allow-loopback-peers',
    default: false,
  }),
  TURN_ALLOW_PRIVATE_PEERS: bool({
    description: 'relay to private, shared (100.64/10) and link-local addresses; refused by default so the relay is no proxy into the network it runs in',
    default: false,
  }),
  TURN_NONCE_LIFETIME: duration({
    description: 'how long a nonce the server hands out is accepted; an older one gets 438 Stale Nonce and a fresh nonce (RFC 8489 section 9.2)',
    default: 600_000,
    min: 1_000,
    max: 86_400_000,
  }),
  TURN_MAX_ALLOCATIONS_PER_IDENTITY: int({
    description:
      'allocations one identity (the part of the username after "<expiry>:") may hold at once, over all its credentials; more get 486 Allocation Quota Reached; 0: no cap',
    default: 10,
    min: 0,
  }),
  TURN_MAX_ALLOCATIONS_PER_IP: int({
    description: 'allocations one client IP may hold at once, whatever its credentials (clients behind one NAT share it); more get 486; 0: no cap',
    default: 50,
    min: 0,
  }),
  TURN_MAX_CONNECTIONS_PER_IP: int({
    description:
      'TCP and TLS connections one client IP may hold open at once (each holds at most one allocation); one above it is closed when accepted, and counted; 0: no cap',
    default: 100,
    min: 0,
  }),
  TURN_STREAM_IDLE_TIMEOUT: duration({
    description:
      'how long a TCP or TLS connection without an allocation may go without a complete message (and a TLS handshake may take) before it is closed: what a slow-loris client can hold',
    default: 30_000,
    min: 1_000,
    max: 3_600_000,
  }),
  TURN_ALLOCATION_BANDWIDTH: int({
    description:
      'bytes per second one allocation relays each way (client to peers, peers to client), bursts of one second allowed; above it packets are dropped and counted, the allocation stays; 0: no cap',
    default: 625_000,
    min: 0,
  }),
  TURN_CREDENTIAL_TTL: duration({ description: 'default lifetime of handed-out credentials', default: 3_600_000, min: 60_000, max: 86_400_000 }),
};
