import { Type, type Static } from '@sinclair/typebox';
import { defineEvent, defineRpc } from '../define.js';
import { EntityId, NodeId, PeerId, RoomId } from '../ids.js';

/**
 * mediasoup structures (RTP capabilities and parameters, ICE/DTLS parameters) cross the wire
 * as opaque objects here: mediasoup validates their insides itself and answers precise errors,
 * which the media node turns into INVALID_MESSAGE. We only bound their size and shape.
 */
const Obj = Type.Record(Type.String(), Type.Unknown());
export const RtpCapabilities = Type.Object({
  codecs: Type.Optional(Type.Array(Obj, { maxItems: 64 })),
  headerExtensions: Type.Optional(Type.Array(Obj, { maxItems: 64 })),
});
export const RtpParameters = Type.Object({
  codecs: Type.Array(Obj, { maxItems: 16 }),
  encodings: Type.Optional(Type.Array(Obj, { maxItems: 8 })),
  headerExtensions: Type.Optional(Type.Array(Obj, { maxItems: 32 })),
  rtcp: Type.Optional(Obj),
  mid: Type.Optional(Type.String({ maxLength: 32 })),
});
export const DtlsParameters = Type.Object({
  role: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('client'), Type.Literal('server')])),
  fingerprints: Type.Array(Type.Object({ algorithm: Type.String({ maxLength: 16 }), value: Type.String({ maxLength: 256 }) }), { minItems: 1, maxItems: 8 }),
});
export const IceParameters = Type.Object({ usernameFragment: Type.String(), password: Type.String(), iceLite: Type.Optional(Type.Boolean()) });
export const MediaKind = Type.Union([Type.Literal('audio'), Type.Literal('video')]);
export const Direction = Type.Union([Type.Literal('send'), Type.Literal('recv')]);
export const TrackSource = Type.Union([Type.Literal('camera'), Type.Literal('microphone'), Type.Literal('screen'), Type.Literal('bot')]);

export const TransportInfo = Type.Object({
  transportId: EntityId,
  iceParameters: IceParameters,
  iceCandidates: Type.Array(Obj),
  dtlsParameters: DtlsParameters,
});

export const ConsumerInfo = Type.Object({
  consumerId: EntityId,
  producerId: EntityId,
  peerId: PeerId,
  kind: MediaKind,
  rtpParameters: RtpParameters,
  type: Type.String(),
  producerPaused: Type.Boolean(),
});
export type ConsumerInfo = Static<typeof ConsumerInfo>;

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });
const Empty = strict({});
const InRoom = { roomId: RoomId };

/** A published track as the room sees it. */
export const ProducerSummary = strict({ producerId: EntityId, kind: MediaKind, source: Type.Optional(TrackSource), paused: Type.Boolean() });
export type ProducerSummary = Static<typeof ProducerSummary>;

/** A room member as other members see it: who, and what they publish. */
export const PeerSummary = strict({ peerId: PeerId, identity: Type.String(), name: Type.Optional(Type.String()), producers: Type.Array(ProducerSummary) });
export type PeerSummary = Static<typeof PeerSummary>;

/** One peer's media on a node: what a gateway resuming the session must know to check ids and restart ICE. */
export const PeerMedia = strict({
  transports: Type.Array(strict({ transportId: EntityId, direction: Direction }), { maxItems: 8 }),
  producers: Type.Array(ProducerSummary, { maxItems: 16 }),
  consumers: Type.Array(strict({ consumerId: EntityId, producerId: EntityId }), { maxItems: 1024 }),
});
export type PeerMedia = Static<typeof PeerMedia>;

/**
 * Opens the room on this node (idempotent) and, with `peer`, makes the peer a member of this
 * node's share of the room. The node is the room's roster: the answer lists its members
 * (with their producers, which it holds anyway), so a join costs no listing of shared state;
 * and it is the truth about the peer's own media (`self`), so that is never written elsewhere.
 */
export const MediaRoomOpen = defineRpc(
  'room.open',
  strict({
    ...InRoom,
    peer: Type.Optional(strict({ peerId: PeerId, identity: Type.String({ maxLength: 128 }), name: Type.Optional(Type.String({ maxLength: 128 })) })),
  }),
  strict({ routerId: Type.String(), rtpCapabilities: RtpCapabilities, peers: Type.Array(PeerSummary), self: Type.Optional(PeerMedia) }),
);
/** This node's members of a room, without opening it: an empty list when the room is not open here. */
export const MediaRoomPeers = defineRpc('room.peers', strict({ ...InRoom }), strict({ peers: Type.Array(PeerSummary) }));
export const MediaRoomClose = defineRpc('room.close', strict({ ...InRoom }), strict({ closed: Type.Boolean() }));

export const MediaTransportCreate = defineRpc(
  'transport.create',
  strict({ ...InRoom, peerId: PeerId, direction: Direction, forceTcp: Type.Optional(Type.Boolean()) }),
  TransportInfo,
);
export const MediaTransportConnect = defineRpc('transport.connect', strict({ ...InRoom, transportId: EntityId, dtlsParameters: DtlsParameters }), Empty);
export const MediaTransportRestartIce = defineRpc(
  'transport.restartIce',
  strict({ ...InRoom, transportId: EntityId }),
  strict({ iceParameters: IceParameters }),
);
export const MediaTransportClose = defineRpc('transport.close', strict({ ...InRoom, transportId: EntityId }), Empty);
/** Stats of one transport as mediasoup reports them (bytes, packets, ICE state...). */
export const MediaTransportStats = defineRpc('transport.stats', strict({ ...InRoom, transportId: EntityId }), strict({ stats: Type.Array(Obj) }));

export const MediaProduce = defineRpc(
  'producer.create',
  strict({
    ...InRoom,
    peerId: PeerId,
    transportId: EntityId,
    kind: MediaKind,
    rtpParameters: RtpParameters,
    paused: Type.Optional(Type.Boolean()),
    source: Type.Optional(TrackSource),
  }),
  strict({ producerId: EntityId }),
);
export const ProducerAction = Type.Union([Type.Literal('pause'), Type.Literal('resume'), Type.Literal('close')]);
export const MediaProducerAction = defineRpc('producer.action', strict({ ...InRoom, producerId: EntityId, action: ProducerAction }), Empty);

export const MediaConsume = defineRpc(
  'consumer.create',
  strict({ ...InRoom, peerId: PeerId, transportId: EntityId, producerId: EntityId, rtpCapabilities: RtpCapabilities }),
  ConsumerInfo,
);
export const MediaConsumerAction = defineRpc('consumer.action', strict({ ...InRoom, consumerId: EntityId, action: ProducerAction }), Empty);
export const MediaConsumerLayers = defineRpc(
  'consumer.setPreferredLayers',
  strict({
    ...InRoom,
    consumerId: EntityId,
    spatialLayer: Type.Integer({ minimum: 0, maximum: 2 }),
    temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
  }),
  Empty,
);

/**
 * A plain RTP transport (no ICE/DTLS): how RTP enters from or leaves to a process next to the
 * node (recorder, RTP ingest, benchmarks). `comedia`: learn the remote address from the first packet.
 */
export const MediaPlainTransportCreate = defineRpc(
  'plain.create',
  strict({ ...InRoom, peerId: PeerId, comedia: Type.Optional(Type.Boolean()), rtcpMux: Type.Optional(Type.Boolean()) }),
  strict({ transportId: EntityId, ip: Type.String(), port: Type.Integer(), rtcpPort: Type.Optional(Type.Integer()) }),
);
export const MediaPlainTransportConnect = defineRpc(
  'plain.connect',
  strict({
    ...InRoom,
    transportId: EntityId,
    ip: Type.String({ maxLength: 45 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    rtcpPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
  }),
  Empty,
);

/** Closes everything a peer has on this node (leave, or the resume grace period ran out). */
export const MediaPeerClose = defineRpc(
  'peer.close',
  strict({ ...InRoom, peerId: PeerId }),
  /** `peersLeft`: members of the room still on this node; 0 lets the gateway release the placement. */
  strict({ closedTransports: Type.Integer(), peersLeft: Type.Integer() }),
);

/**
 * What a media node tells the gateways about one peer's consumers and producers, on
 * `strata.<region>.room.<roomId>.media`. The gateway that holds `peerId`'s socket forwards it.
 */
export const MediaEvent = defineEvent(
  'media.event',
  Type.Union([
    strict({ type: Type.Literal('consumerClosed'), roomId: RoomId, nodeId: NodeId, peerId: PeerId, consumerId: EntityId, producerId: EntityId }),
    strict({ type: Type.Literal('consumerPaused'), roomId: RoomId, nodeId: NodeId, peerId: PeerId, consumerId: EntityId, producerId: EntityId }),
    strict({ type: Type.Literal('consumerResumed'), roomId: RoomId, nodeId: NodeId, peerId: PeerId, consumerId: EntityId, producerId: EntityId }),
    strict({
      type: Type.Literal('consumerLayersChanged'),
      roomId: RoomId,
      nodeId: NodeId,
      peerId: PeerId,
      consumerId: EntityId,
      spatialLayer: Type.Union([Type.Integer(), Type.Null()]),
      temporalLayer: Type.Union([Type.Integer(), Type.Null()]),
    }),
    strict({ type: Type.Literal('transportClosed'), roomId: RoomId, nodeId: NodeId, peerId: PeerId, transportId: EntityId }),
  ]),
);
export type MediaEvent = Static<typeof MediaEvent.schema>;

/** A room's dominant speaker changed on one media node (drives cascade links later). */
export const ActiveSpeakerEvent = defineEvent(
  'media.activeSpeaker',
  strict({ roomId: RoomId, nodeId: NodeId, peerId: PeerId, producerId: EntityId, ts: Type.Integer() }),
);
