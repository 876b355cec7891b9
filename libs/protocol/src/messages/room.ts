import { Type, type Static } from '@sinclair/typebox';
import { defineEvent } from '../define.js';
import { EntityId, NodeId, PeerId, RegionId, RoomId } from '../ids.js';
import { ProducerSummary } from './media.js';

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });

/**
 * What gateways tell each other about a room, on `strata.<region>.room.<roomId>.events`.
 * Every gateway with peers in the room forwards these to its sockets (except to `peerId` itself).
 */
export const RoomEvent = defineEvent(
  'room.event',
  Type.Union([
    strict({ type: Type.Literal('peerJoined'), roomId: RoomId, peerId: PeerId, identity: Type.String(), name: Type.Optional(Type.String()) }),
    strict({
      type: Type.Literal('peerLeft'),
      roomId: RoomId,
      peerId: PeerId,
      reason: Type.Union([Type.Literal('leave'), Type.Literal('timeout'), Type.Literal('kicked')]),
    }),
    strict({ type: Type.Literal('newProducer'), roomId: RoomId, peerId: PeerId, producer: ProducerSummary }),
    strict({ type: Type.Literal('producerClosed'), roomId: RoomId, peerId: PeerId, producerId: EntityId }),
    strict({ type: Type.Literal('producerPaused'), roomId: RoomId, peerId: PeerId, producerId: EntityId }),
    strict({ type: Type.Literal('producerResumed'), roomId: RoomId, peerId: PeerId, producerId: EntityId }),
    /**
     * The peer's session was resumed on gateway `gatewayId`: any other gateway still holding it
     * closes its socket (4001) and forgets it. Not forwarded to clients.
     */
    strict({ type: Type.Literal('peerMoved'), roomId: RoomId, peerId: PeerId, gatewayId: NodeId }),
  ]),
);
export type RoomEvent = Static<typeof RoomEvent.schema>;

/**
 * One peer's session, in the `strata-peers` KV bucket under `<region>.<roomId>.<peerId>`.
 * It is what lets any gateway resume a session another gateway held (the resume token names
 * the key): who the peer is, where its media is and which gateway holds it. The media itself
 * (transports, producers, consumers) is the media node's to tell, so creating a transport or
 * a consumer writes nothing here. Every write after the first is conditional on the revision the writer read, so a
 * gateway that lost the session to another cannot write over it. Removal erases the key
 * (no delete marker stays behind).
 */
export const PeerRecord = strict({
  peerId: PeerId,
  roomId: RoomId,
  region: RegionId,
  identity: Type.String({ maxLength: 128 }),
  name: Type.Optional(Type.String({ maxLength: 128 })),
  grants: strict({ publish: Type.Boolean(), subscribe: Type.Boolean(), record: Type.Boolean(), admin: Type.Boolean() }),
  /** The media node holding this peer's transports. */
  nodeId: NodeId,
  gatewayId: NodeId,
  /** sha256 of the current resume token's secret; empty once a gateway has claimed the session for removal. */
  resumeHash: Type.String({ maxLength: 64 }),
  connected: Type.Boolean(),
  /** When the socket dropped (ms); the peer is removed `grace` ms later unless it resumes. */
  disconnectedAt: Type.Optional(Type.Integer()),
  joinedAt: Type.Integer(),
});
export type PeerRecord = Static<typeof PeerRecord>;

/** Claims of a join token (JWT, HS256). */
export const JoinClaims = Type.Object({
  sub: Type.String({ minLength: 1, maxLength: 128, description: 'identity' }),
  room: RoomId,
  name: Type.Optional(Type.String({ maxLength: 128 })),
  grants: Type.Optional(
    Type.Object({
      publish: Type.Optional(Type.Boolean()),
      subscribe: Type.Optional(Type.Boolean()),
      record: Type.Optional(Type.Boolean()),
      admin: Type.Optional(Type.Boolean()),
    }),
  ),
  exp: Type.Integer(),
  /** Must be "strata"; jose checks it before the claims are read. */
  iss: Type.Optional(Type.String()),
});
export type JoinClaims = Static<typeof JoinClaims>;
