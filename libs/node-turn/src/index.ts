export { Address } from './address.js';
export { Allocation, CHANNEL_LIFETIME_MS, PERMISSION_LIFETIME_MS, type ChannelBinding } from './allocation.js';
export {
  attributeName,
  attributeType,
  decodeAttribute,
  encodeValue,
  type Attribute,
  type AttributeName,
  type AttributeValues,
  type ErrorCode,
} from './attribute.js';
export { Authentication, type AuthMech } from './authentication.js';
export { ChannelMessage } from './channel-message.js';
export { CLOSE_ABOVE, Connection, DROP_RELAYED_ABOVE } from './connection.js';
export * from './constants.js';
export { FrameReader, MAX_FRAME, frameLength } from './framing.js';
export { Network, type StreamListener } from './network.js';
export { Message, fingerprintOf, isStun, longTermKey, type MessageContext, type Passwords, type User } from './message.js';
export { peerPolicy, type PeerPolicyOptions } from './peer-policy.js';
export { selfSignedCertificate, type SelfSigned } from './self-signed.js';
export { Server, type ServerOptions, type ServerStats } from './server.js';
export { Transport, type ClientSocket } from './transport.js';
