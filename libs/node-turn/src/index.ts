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
export * from './constants.js';
export { Message, fingerprintOf, isStun, longTermKey, type MessageContext, type User } from './message.js';
export { peerPolicy, type PeerPolicyOptions } from './peer-policy.js';
export { Server, type ServerOptions } from './server.js';
export { Transport } from './transport.js';
