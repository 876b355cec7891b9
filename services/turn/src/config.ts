import { bool, duration, port, str } from '@strata/config';

export const turnConfig = {
  TURN_LISTEN_IP: str({ description: 'IP the TURN server listens on (UDP)', default: '127.0.0.1' }),
  TURN_PORT: port({ description: 'TURN/STUN UDP port', default: 3478 }),
  TURN_ANNOUNCED_ADDRESS: str({ description: 'host or IP clients are told to use; empty: TURN_LISTEN_IP', default: '' }),
  TURN_RELAY_IP: str({ description: 'IP relayed allocations bind to; empty: TURN_LISTEN_IP', default: '' }),
  TURN_MIN_PORT: port({ description: 'lowest relay port', default: 49152 }),
  TURN_MAX_PORT: port({ description: 'highest relay port', default: 65535 }),
  TURN_REALM: str({ description: 'long-term credential realm', default: 'strata' }),
  TURN_SECRET: str({
    description: 'shared secret for ephemeral REST credentials (user = "<expiry>:<identity>", password = base64 HMAC-SHA1)',
    default: 'strata-dev-secret',
  }),
  TURN_ALLOW_LOOPBACK_PEERS: bool({
    description: 'relay to 127.0.0.0/8 and ::1 (tests, single-machine development); refused by default, as coturn without allow-loopback-peers',
    default: false,
  }),
  TURN_ALLOW_PRIVATE_PEERS: bool({
    description: 'relay to private, shared (100.64/10) and link-local addresses; refused by default so the relay is no proxy into the network it runs in',
    default: false,
  }),
  TURN_CREDENTIAL_TTL: duration({ description: 'default lifetime of handed-out credentials', default: 3_600_000, min: 60_000, max: 86_400_000 }),
};
