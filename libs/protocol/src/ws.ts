/**
 * The signaling WebSocket protocol (client ↔ gateway), JSON text frames:
 *
 *   request       {"id": 7, "method": "produce", "data": {...}}
 *   response      {"id": 7, "ok": true, "data": {...}}
 *                 {"id": 7, "ok": false, "error": {"code": "FORBIDDEN", "message": "..."}}
 *                 (id is null when the frame could not be read far enough to find it)
 *   notification  {"notification": "newProducer", "data": {...}}    (gateway → client only)
 *
 * The first request on a socket is `join` (with a token) or `resume` (with a resume token).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ErrorBody } from './errors.js';
import { EntityId, PeerId, RegionId, RoomId } from './ids.js';
import {
  ConsumerInfo,
  Direction,
  DtlsParameters,
  IceParameters,
  MediaKind,
  PeerSummary,
  PreferredLayers,
  ProducerSummary,
  RtpCapabilities,
  RtpParameters,
  Speakers,
  TrackSource,
  TransportInfo,
} from './messages/media.js';
import { Recording, RecordingId } from './messages/recording.js';

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });
const Empty = strict({});

/** Frame limits. Larger frames get TOO_LARGE; past MAX_FRAME_HARD_BYTES the connection is dropped unread. */
export const MAX_FRAME_BYTES = 64 * 1024;
export const MAX_FRAME_HARD_BYTES = 1024 * 1024;

export const RequestFrame = strict({
  id: Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 }),
  method: Type.String({ minLength: 1, maxLength: 64 }),
  data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type RequestFrame = Static<typeof RequestFrame>;

export type ResponseFrame = { id: number | null; ok: true; data: unknown } | { id: number | null; ok: false; error: Static<typeof ErrorBody> };
export type NotificationFrame = { notification: string; data: unknown };

export const IceServer = strict({ urls: Type.Array(Type.String()), username: Type.Optional(Type.String()), credential: Type.Optional(Type.String()) });

const Joined = strict({
  peerId: PeerId,
  roomId: RoomId,
  region: RegionId,
  /** Present a resume token on a new socket within the grace period to get this session back. */
  resumeToken: Type.String(),
  resumeGraceMs: Type.Integer(),
  rtpCapabilities: RtpCapabilities,
  peers: Type.Array(PeerSummary),
  /** The room's speaker ranking at join; `speakers` notifications follow its changes. */
  speakers: Type.Optional(Speakers),
  iceServers: Type.Array(IceServer),
  grants: strict({ publish: Type.Boolean(), subscribe: Type.Boolean(), record: Type.Boolean(), admin: Type.Boolean() }),
});

function method<Req extends TSchema, Res extends TSchema>(request: Req, response: Res) {
  return { request, response };
}

export const wsMethods = {
  join: method(strict({ token: Type.String({ minLength: 1, maxLength: 4096 }), name: Type.Optional(Type.String({ maxLength: 128 })) }), Joined),
  resume: method(
    strict({ resumeToken: Type.String({ minLength: 1, maxLength: 256 }) }),
    strict({
      ...Joined.properties,
      /** New ICE parameters per transport: call transport.restartIce() with them. */
      transports: Type.Array(strict({ transportId: EntityId, direction: Direction, iceParameters: IceParameters })),
      producers: Type.Array(ProducerSummary),
      /** What the gateway last knew; consumers whose producer is gone should be closed by the client. */
      consumers: Type.Array(strict({ consumerId: EntityId, producerId: EntityId })),
    }),
  ),
  getRouterRtpCapabilities: method(Empty, strict({ rtpCapabilities: RtpCapabilities })),
  createWebRtcTransport: method(strict({ direction: Direction, forceTcp: Type.Optional(Type.Boolean()) }), TransportInfo),
  connectWebRtcTransport: method(strict({ transportId: EntityId, dtlsParameters: DtlsParameters }), Empty),
  restartIce: method(strict({ transportId: EntityId }), strict({ iceParameters: IceParameters })),
  getTransportStats: method(strict({ transportId: EntityId }), strict({ stats: Type.Array(Type.Record(Type.String(), Type.Unknown())) })),
  produce: method(
    strict({ transportId: EntityId, kind: MediaKind, rtpParameters: RtpParameters, paused: Type.Optional(Type.Boolean()), source: Type.Optional(TrackSource) }),
    strict({ producerId: EntityId }),
  ),
  pauseProducer: method(strict({ producerId: EntityId }), Empty),
  resumeProducer: method(strict({ producerId: EntityId }), Empty),
  closeProducer: method(strict({ producerId: EntityId }), Empty),
  /** Consumers start paused: resumeConsumer once the client-side consumer exists. */
  consume: method(
    strict({ transportId: EntityId, producerId: EntityId, rtpCapabilities: RtpCapabilities, preferredLayers: Type.Optional(PreferredLayers) }),
    ConsumerInfo,
  ),
  pauseConsumer: method(strict({ consumerId: EntityId }), Empty),
  resumeConsumer: method(strict({ consumerId: EntityId }), Empty),
  closeConsumer: method(strict({ consumerId: EntityId }), Empty),
  setConsumerPreferredLayers: method(
    strict({
      consumerId: EntityId,
      spatialLayer: Type.Integer({ minimum: 0, maximum: 2 }),
      temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
    }),
    Empty,
  ),
  /** Needs the `record` (or `admin`) grant: recordings of the peer's own room. */
  startRecording: method(Empty, Recording),
  stopRecording: method(strict({ recordingId: RecordingId }), Recording),
  listRecordings: method(Empty, strict({ recordings: Type.Array(Recording) })),
  leave: method(Empty, Empty),
} as const;

export type WsMethod = keyof typeof wsMethods;
export type WsRequest<M extends WsMethod> = Static<(typeof wsMethods)[M]['request']>;
export type WsResponse<M extends WsMethod> = Static<(typeof wsMethods)[M]['response']>;

export const wsNotifications = {
  peerJoined: strict({ peerId: PeerId, identity: Type.String(), name: Type.Optional(Type.String()) }),
  peerLeft: strict({ peerId: PeerId, reason: Type.String() }),
  newProducer: strict({ peerId: PeerId, producer: ProducerSummary }),
  producerClosed: strict({ peerId: PeerId, producerId: EntityId }),
  producerPaused: strict({ peerId: PeerId, producerId: EntityId }),
  producerResumed: strict({ peerId: PeerId, producerId: EntityId }),
  consumerClosed: strict({ consumerId: EntityId, producerId: EntityId }),
  consumerPaused: strict({ consumerId: EntityId, producerId: EntityId }),
  consumerResumed: strict({ consumerId: EntityId, producerId: EntityId }),
  consumerLayersChanged: strict({
    consumerId: EntityId,
    spatialLayer: Type.Union([Type.Integer(), Type.Null()]),
    temporalLayer: Type.Union([Type.Integer(), Type.Null()]),
  }),
  activeSpeaker: strict({ peerId: PeerId, producerId: EntityId }),
  /** The room's speaker ranking changed: `audio` are the top-K speakers, `order` the speakers most recent first (see SpeakerRanking). */
  speakers: Speakers,
  transportClosed: strict({ transportId: EntityId }),
  /**
   * The media node holding this peer's media is gone (it died or drains); the session now has
   * its media on another leg of the room. Every transport, producer and consumer of the peer is
   * gone: create transports again, publish again, consume again. `peers` is the room as the
   * new leg knows it.
   */
  mediaMoved: strict({
    reason: Type.String({ maxLength: 128 }),
    rtpCapabilities: RtpCapabilities,
    peers: Type.Array(PeerSummary),
    speakers: Type.Optional(Speakers),
  }),
} as const;

export type WsNotification = keyof typeof wsNotifications;
export type WsNotificationData<N extends WsNotification> = Static<(typeof wsNotifications)[N]>;
