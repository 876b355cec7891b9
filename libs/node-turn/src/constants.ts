// STUN/TURN numbers. Ported from node-turn 0.0.6 lib/constants.js (MIT, Atlantis Software).

/** Attribute types: RFC 8489 section 18.3, RFC 8656 section 18. */
export const ATTR = {
  // Comprehension-required range (0x0000-0x7FFF)
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_MAPPED_ADDRESS: 0x0020,
  CHANNEL_NUMBER: 0x000c,
  LIFETIME: 0x000d,
  XOR_PEER_ADDRESS: 0x0012,
  DATA: 0x0013,
  XOR_RELAYED_ADDRESS: 0x0016,
  EVEN_PORT: 0x0018,
  REQUESTED_TRANSPORT: 0x0019,
  DONT_FRAGMENT: 0x001a,
  RESERVATION_TOKEN: 0x0022,
  // RFC 8656 section 18
  REQUESTED_ADDRESS_FAMILY: 0x0017,
  // Comprehension-optional range (0x8000-0xFFFF)
  ADDITIONAL_ADDRESS_FAMILY: 0x8000,
  ADDRESS_ERROR_CODE: 0x8001,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
} as const;

export type AttributeKey = keyof typeof ATTR;

export const METHOD = {
  BINDING: 0x001,
  ALLOCATE: 0x003,
  REFRESH: 0x004,
  SEND: 0x006,
  DATA: 0x007,
  CREATE_PERMISSION: 0x008,
  CHANNEL_BIND: 0x009,
} as const;

export const CLASS = {
  REQUEST: 0x00,
  INDICATION: 0x01,
  SUCCESS: 0x02,
  ERROR: 0x03,
} as const;

export const FAMILY = {
  IPV4: 0x01,
  IPV6: 0x02,
} as const;
export type Family = (typeof FAMILY)[keyof typeof FAMILY];

export const PROTOCOL = {
  /** also REQUESTED-TRANSPORT's value: relays are UDP */
  UDP: 0x11,
  /** client transport only (TURN over TCP and TLS, RFC 8656 section 3.1): there are no TCP relays (RFC 6062) */
  TCP: 0x06,
} as const;

/**
 * ChannelData channel numbers. RFC 8656 section 12 narrows them to 0x4000-0x4FFF, but clients of RFC 5766
 * (coturn's own turnutils_uclient among them) pick any of 0x4000-0x7FFE, and the first two bits still tell
 * ChannelData from STUN, so the older range is accepted.
 */
export const CHANNEL_MIN = 0x4000;
export const CHANNEL_MAX = 0x7ffe;

export const MAGIC_COOKIE = 0x2112a442;
export const FINGERPRINT_XOR = 0x5354554e;

export const DEBUG_LEVEL = {
  ALL: 0,
  TRACE: 1,
  DEBUG: 2,
  INFO: 3,
  WARN: 4,
  ERROR: 5,
  FATAL: 6,
  OFF: 7,
} as const;
export type DebugLevelName = keyof typeof DEBUG_LEVEL;
