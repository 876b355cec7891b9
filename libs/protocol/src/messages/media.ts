import { Type, type Static } from '@sinclair/typebox';
import { defineEvent, defineRpc } from '../define.js';
import { EntityId, NodeId, PeerId, RoomId } from '../ids.js';

/**
 * mediasoup structures (RTP capabilities and parameters, ICE/DTLS parameters). mediasoup checks
 * their types but not their ranges, and what one peer sends ends up in every other peer's SDP
 * (codec parameters, CNAME, msid) once it consumes, so the gateway checks every field it knows
 * against the RFC's limits: SSRCs are 32-bit (RFC 3550), payload types 7-bit, header extension
 * ids 1-255 (RFC 8285), RIDs RFC 8852 tokens of at most 16 characters (what browsers and the
 * one-byte header extension carry), fingerprints RFC 8122 hex pairs of the hash's length.
 * Fields we do not know (browsers add a few, such as `active` on an encoding) are allowed but
 * must be plain values: nothing nests deeper than the schema says.
 */
/** Opaque objects mediasoup produces (ICE candidates, stats): only ever sent by a media node. */
const Obj = Type.Record(Type.String(), Type.Unknown());
const Primitive = Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean(), Type.Null()], {
  description: 'a string (≤ 256), number, boolean or null: fields the schema does not know may not nest',
});
/** A known shape that tolerates a few unknown fields holding plain values. */
const open = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: Primitive, maxProperties: 24 });
const u32 = Type.Integer({ minimum: 0, maximum: 2 ** 32 - 1 });
export const PayloadType = Type.Integer({ minimum: 0, maximum: 127 });
/** RFC 8285: 1-14 with one-byte headers, 1-255 with two-byte headers; 0 is padding. */
export const HeaderExtensionId = Type.Integer({ minimum: 1, maximum: 255 });
/** RFC 8852 RtpStreamId / RepairedRtpStreamId: alphanumerics, '-' and '_'. */
export const Rid = Type.String({ pattern: '^[A-Za-z0-9_-]{1,16}$' });
/** RFC 5888 / RFC 8843 identification tag: a token short enough for a one-byte header extension. */
export const Mid = Type.String({ pattern: "^[A-Za-z0-9!#$%&'*+.^_`{|}~-]{1,16}$" });
const MimeType = Type.String({ pattern: '^(?:[Aa][Uu][Dd][Ii][Oo]|[Vv][Ii][Dd][Ee][Oo])/[A-Za-z0-9._+-]{1,32}$' });
const ClockRate = Type.Integer({ minimum: 1000, maximum: 1_000_000 });
const Channels = Type.Integer({ minimum: 1, maximum: 8 });
/** Printable ASCII without spaces: these strings are written into SDP lines as they are. */
const SdpToken = (max: number, min = 1) => Type.String({ pattern: `^[\\x21-\\x7e]{${min},${max}}$` });
/**
 * fmtp parameters (`a=fmtp:96 key=value;...`): token keys, values without ';' or whitespace.
 * Keys that mean something to a JavaScript object (`__proto__`...) are no codec's parameters.
 * Checked as above, but typed as mediasoup and mediasoup-client type them, so their devices fit.
 */
const CodecParameters = Type.Unsafe<Record<string, unknown>>(
  Type.Record(
    Type.String({ pattern: '^(?!__proto__$|constructor$|prototype$)[A-Za-z0-9_.-]{1,64}$' }),
    Type.Union([Type.String({ pattern: '^[\\x21-\\x3a\\x3c-\\x7e]{0,512}$' }), Type.Number()], {
      description: "a number, or up to 512 printable ASCII characters without spaces or ';'",
    }),
    { maxProperties: 32, additionalProperties: false },
  ),
);
const RtcpFeedback = open({
  type: Type.String({ pattern: '^[A-Za-z0-9_.-]{1,32}$' }),
  parameter: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.-]{0,32}$' })),
});
const RtcpFeedbackList = Type.Array(RtcpFeedback, { maxItems: 16 });
const HeaderExtensionUri = Type.String({ pattern: '^[\\x21-\\x7e]{1,256}$' });

export const RtpCodecCapability = open({
  kind: Type.Optional(Type.Union([Type.Literal('audio'), Type.Literal('video')], { description: 'audio or video' })),
  mimeType: MimeType,
  preferredPayloadType: Type.Optional(PayloadType),
  clockRate: ClockRate,
  channels: Type.Optional(Channels),
  parameters: Type.Optional(CodecParameters),
  rtcpFeedback: Type.Optional(RtcpFeedbackList),
});
export const RtpHeaderExtensionCapability = open({
  // mediasoup-client types allow '' (any kind); mediasoup itself refuses it.
  kind: Type.Optional(Type.Union([Type.Literal('audio'), Type.Literal('video'), Type.Literal('')], { description: "audio, video or ''" })),
  uri: HeaderExtensionUri,
  preferredId: HeaderExtensionId,
  preferredEncrypt: Type.Optional(Type.Boolean()),
  direction: Type.Optional(
    Type.Union([Type.Literal('sendrecv'), Type.Literal('sendonly'), Type.Literal('recvonly'), Type.Literal('inactive')], {
      description: 'sendrecv, sendonly, recvonly or inactive',
    }),
  ),
});
export const RtpCapabilities = Type.Object(
  {
    codecs: Type.Optional(Type.Array(RtpCodecCapability, { maxItems: 64 })),
    headerExtensions: Type.Optional(Type.Array(RtpHeaderExtensionCapability, { maxItems: 64 })),
  },
  { additionalProperties: false },
);

export const RtpCodecParameters = open({
  mimeType: MimeType,
  payloadType: PayloadType,
  clockRate: ClockRate,
  channels: Type.Optional(Channels),
  parameters: Type.Optional(CodecParameters),
  rtcpFeedback: Type.Optional(RtcpFeedbackList),
});
export const RtpEncodingParameters = open({
  ssrc: Type.Optional(u32),
  rid: Type.Optional(Rid),
  codecPayloadType: Type.Optional(PayloadType),
  rtx: Type.Optional(Type.Object({ ssrc: u32 }, { additionalProperties: false })),
  dtx: Type.Optional(Type.Boolean()),
  scalabilityMode: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_]{1,16}$' })),
  maxBitrate: Type.Optional(u32),
});
export const RtpHeaderExtensionParameters = open({
  uri: HeaderExtensionUri,
  id: HeaderExtensionId,
  encrypt: Type.Optional(Type.Boolean()),
  parameters: Type.Optional(CodecParameters),
});
export const RtpParameters = Type.Object(
  {
    codecs: Type.Array(RtpCodecParameters, { minItems: 1, maxItems: 16 }),
    encodings: Type.Optional(Type.Array(RtpEncodingParameters, { maxItems: 8 })),
    headerExtensions: Type.Optional(Type.Array(RtpHeaderExtensionParameters, { maxItems: 32 })),
    /** RFC 3550 SDES items are at most 255 octets; the CNAME is copied into consumers' SDP. Chromium sends "" with simulcast. */
    rtcp: Type.Optional(open({ cname: Type.Optional(SdpToken(255, 0)), reducedSize: Type.Optional(Type.Boolean()), mux: Type.Optional(Type.Boolean()) })),
    mid: Type.Optional(Mid),
    /** RFC 8830: stream id and optional track id, 64 token characters each. */
    msid: Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,64}(?: [\\x21-\\x7e]{1,64})?$' })),
  },
  { additionalProperties: false },
);

/** RFC 8122 hash functions mediasoup supports, and their digest sizes in bytes. */
export const FINGERPRINT_ALGORITHMS = { 'sha-1': 20, 'sha-224': 28, 'sha-256': 32, 'sha-384': 48, 'sha-512': 64 } as const;
/** RFC 8122: the digest as colon-separated hex pairs (uppercase per the RFC; lowercase is accepted). */
export const DtlsFingerprint = Type.Union(
  Object.entries(FINGERPRINT_ALGORITHMS).map(([algorithm, bytes]) =>
    Type.Object(
      { algorithm: Type.Literal(algorithm), value: Type.String({ pattern: `^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){${bytes - 1}}$` }) },
      { additionalProperties: false },
    ),
  ),
  {
    description: `{ algorithm, value }: algorithm one of ${Object.keys(FINGERPRINT_ALGORITHMS).join(', ')}, value its digest as colon-separated hex pairs (RFC 8122)`,
  },
);
export const DtlsParameters = Type.Object(
  {
    role: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('client'), Type.Literal('server')], { description: 'auto, client or server' })),
    fingerprints: Type.Array(DtlsFingerprint, { minItems: 1, maxItems: 8 }),
  },
  { additionalProperties: false },
);
/** RFC 8445: ufrag 4-256 and password 22-256 ice-chars (mediasoup generates them; bounded anyway). */
export const IceParameters = Type.Object({
  usernameFragment: Type.String({ maxLength: 256 }),
  password: Type.String({ maxLength: 256 }),
  iceLite: Type.Optional(Type.Boolean()),
});
export const MediaKind = Type.Union([Type.Literal('audio'), Type.Literal('video')], { description: 'audio or video' });
export const Direction = Type.Union([Type.Literal('send'), Type.Literal('recv')], { description: 'send or recv' });
export const TrackSource = Type.Union([Type.Literal('camera'), Type.Literal('microphone'), Type.Literal('screen'), Type.Literal('bot')], {
  description: 'camera, microphone, screen or bot',
});

export const TransportInfo = Type.Object({
  transportId: EntityId,
  iceParameters: IceParameters,
  iceCandidates: Type.Array(Obj),
  dtlsParameters: DtlsParameters,
});
export type TransportInfo = Static<typeof TransportInfo>;

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

/** The room's speaker ranking (see SpeakerRanking in cascade.ts): the top-K speakers and the speakers most recent first. */
export const Speakers = strict({
  k: Type.Integer({ minimum: 1, maximum: 64 }),
  audio: Type.Array(PeerId, { maxItems: 64 }),
  order: Type.Array(PeerId, { maxItems: 256 }),
});
export type Speakers = Static<typeof Speakers>;

/**
 * What one peer may hold on its media node, the one source of these numbers: the gateway
 * refuses a request past them with CAPACITY, and PeerMedia (a peer's media as its node reports
 * it) is bounded by them, so a session the gateway allowed always fits the message that resumes it.
 * A client needs 2 transports (send, receive); 4 leaves room to replace them.
 */
export const PEER_MEDIA_LIMITS = { transports: 4, producers: 16, consumers: 1000 } as const;

/** One peer's media on a node: what a gateway resuming the session must know to check ids and restart ICE. */
export const PeerMedia = strict({
  transports: Type.Array(strict({ transportId: EntityId, direction: Direction }), { maxItems: PEER_MEDIA_LIMITS.transports }),
  producers: Type.Array(ProducerSummary, { maxItems: PEER_MEDIA_LIMITS.producers }),
  consumers: Type.Array(strict({ consumerId: EntityId, producerId: EntityId }), { maxItems: PEER_MEDIA_LIMITS.consumers }),
});
export type PeerMedia = Static<typeof PeerMedia>;

/**
 * Opens the room's leg on this node (idempotent) and, with `peer`, makes the peer a member of
 * this leg. The legs are the room's roster: each knows its own members and producers and
 * learns the other legs' from them, so the answer lists every member of the room on every leg
 * (with their producers), and a join costs no listing of shared state. It is also the truth
 * about the peer's own media (`self`), so that is never written elsewhere.
 */
export const MediaRoomOpen = defineRpc(
  'room.open',
  strict({
    ...InRoom,
    peer: Type.Optional(strict({ peerId: PeerId, identity: Type.String({ maxLength: 128 }), name: Type.Optional(Type.String({ maxLength: 128 })) })),
    /**
     * The room's other legs (media nodes), from its placement: a leg opening here learns the
     * members and producers already on them, so its roster is the whole room's.
     */
    legs: Type.Optional(Type.Array(NodeId, { maxItems: 64 })),
    /**
     * This leg's share of the room: a new member beyond it is refused with CAPACITY (a peer
     * already a member, resuming, is always admitted). The node checks and admits in one step,
     * so concurrent joins cannot over-fill a leg. Absent: no share (only the node's capacity).
     */
    maxMembers: Type.Optional(Type.Integer({ minimum: 1 })),
  }),
  strict({
    routerId: Type.String(),
    rtpCapabilities: RtpCapabilities,
    peers: Type.Array(PeerSummary),
    self: Type.Optional(PeerMedia),
    speakers: Type.Optional(Speakers),
  }),
);
/** This node's members of a room, without opening it: an empty list when the room is not open here. */
export const MediaRoomPeers = defineRpc('room.peers', strict({ ...InRoom }), strict({ peers: Type.Array(PeerSummary) }));
export const MediaRoomClose = defineRpc('room.close', strict({ ...InRoom }), strict({ closed: Type.Boolean() }));

export const MediaTransportCreate = defineRpc(
  'transport.create',
  strict({ ...InRoom, peerId: PeerId, direction: Direction, forceTcp: Type.Optional(Type.Boolean()) }),
  TransportInfo,
);
export const MediaTransportConnect = defineRpc(
  'transport.connect',
  strict({ ...InRoom, peerId: PeerId, transportId: EntityId, dtlsParameters: DtlsParameters }),
  Empty,
);
export const MediaTransportRestartIce = defineRpc(
  'transport.restartIce',
  strict({ ...InRoom, peerId: PeerId, transportId: EntityId }),
  strict({ iceParameters: IceParameters }),
);
export const MediaTransportClose = defineRpc('transport.close', strict({ ...InRoom, peerId: PeerId, transportId: EntityId }), Empty);
/** Stats of one transport as mediasoup reports them (bytes, packets, ICE state...). */
export const MediaTransportStats = defineRpc(
  'transport.stats',
  strict({ ...InRoom, peerId: PeerId, transportId: EntityId }),
  strict({ stats: Type.Array(Obj, { maxItems: 64 }) }),
);

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
export const ProducerAction = Type.Union([Type.Literal('pause'), Type.Literal('resume'), Type.Literal('close')], { description: 'pause, resume or close' });
export const MediaProducerAction = defineRpc('producer.action', strict({ ...InRoom, peerId: PeerId, producerId: EntityId, action: ProducerAction }), Empty);

export const PreferredLayers = strict({
  spatialLayer: Type.Integer({ minimum: 0, maximum: 2 }),
  temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
});

export const MediaConsume = defineRpc(
  'consumer.create',
  strict({
    ...InRoom,
    peerId: PeerId,
    transportId: EntityId,
    producerId: EntityId,
    rtpCapabilities: RtpCapabilities,
    /** The layers to start with (as `consumer.setPreferredLayers`): a producer pulled from another leg is asked at this layer from the start. */
    preferredLayers: Type.Optional(PreferredLayers),
  }),
  ConsumerInfo,
);
export const MediaConsumerAction = defineRpc('consumer.action', strict({ ...InRoom, peerId: PeerId, consumerId: EntityId, action: ProducerAction }), Empty);
export const MediaConsumerLayers = defineRpc(
  'consumer.setPreferredLayers',
  strict({
    ...InRoom,
    peerId: PeerId,
    consumerId: EntityId,
    spatialLayer: Type.Integer({ minimum: 0, maximum: 2 }),
    temporalLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 })),
  }),
  Empty,
);

/**
 * mediasoup's SRTP crypto suites and the bytes of keying material (master key + master salt)
 * each takes: RFC 3711 AES-CM 16 + 14, RFC 7714 AES-GCM 16 or 32 + 12. mediasoup refuses any
 * other length ("invalid decoded SRTP key length", worker/src/RTC/PlainTransport.cpp).
 */
export const SRTP_KEY_LENGTHS = { AEAD_AES_256_GCM: 44, AEAD_AES_128_GCM: 28, AES_CM_128_HMAC_SHA1_80: 30, AES_CM_128_HMAC_SHA1_32: 30 } as const;
export type SrtpCryptoSuite = keyof typeof SRTP_KEY_LENGTHS;
export const SRTP_CRYPTO_SUITES = Object.keys(SRTP_KEY_LENGTHS) as SrtpCryptoSuite[];
/** mediasoup's default when `enableSrtp` is set without a suite. */
export const DEFAULT_SRTP_CRYPTO_SUITE: SrtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80';
export const SrtpCryptoSuiteSchema = Type.Union(
  SRTP_CRYPTO_SUITES.map((s) => Type.Literal(s)),
  { description: SRTP_CRYPTO_SUITES.join(', ') },
);
/**
 * Canonical Base64 (RFC 4648, with padding) of exactly `bytes` bytes: the pattern fixes the
 * length, and the last character before padding may only carry zero bits past the data.
 */
export function base64Pattern(bytes: number): string {
  const full = `[A-Za-z0-9+/]{${Math.floor(bytes / 3) * 4}}`;
  const rest = bytes % 3 === 1 ? '[A-Za-z0-9+/][AQgw]==' : bytes % 3 === 2 ? '[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=' : '';
  return `^${full}${rest}$`;
}
/**
 * One branch per suite, so a key of another suite's length is refused by the schema with the
 * expected lengths named (the node never hands mediasoup a key it would refuse).
 */
export const SrtpParameters = Type.Union(
  SRTP_CRYPTO_SUITES.map((suite) =>
    Type.Object(
      { cryptoSuite: Type.Literal(suite), keyBase64: Type.String({ pattern: base64Pattern(SRTP_KEY_LENGTHS[suite]) }) },
      { additionalProperties: false },
    ),
  ),
  {
    description: `{ cryptoSuite, keyBase64 }: cryptoSuite one of ${SRTP_CRYPTO_SUITES.join(', ')}, keyBase64 the Base64 of its master key and salt: ${SRTP_CRYPTO_SUITES.map((s) => `${SRTP_KEY_LENGTHS[s]} bytes for ${s}`).join(', ')}`,
  },
);
export type SrtpParameters = Static<typeof SrtpParameters>;

/**
 * A plain RTP transport (no ICE/DTLS): how RTP enters from or leaves to a process next to the
 * node (recorder, RTP ingest, benchmarks) or another node (links). `comedia`: learn the remote
 * address from the first packet. `enableSrtp`: RTP and RTCP both ways are SRTP/SRTCP; the answer
 * carries the key this transport encrypts with (`srtpParameters`), and `plain.connect` must give
 * the key the far side encrypts with.
 */
export const MediaPlainTransportCreate = defineRpc(
  'plain.create',
  strict({
    ...InRoom,
    peerId: PeerId,
    comedia: Type.Optional(Type.Boolean()),
    rtcpMux: Type.Optional(Type.Boolean()),
    enableSrtp: Type.Optional(Type.Boolean()),
    /** Only with `enableSrtp`; default AES_CM_128_HMAC_SHA1_80, as mediasoup's. */
    srtpCryptoSuite: Type.Optional(SrtpCryptoSuiteSchema),
  }),
  strict({
    transportId: EntityId,
    ip: Type.String(),
    port: Type.Integer(),
    rtcpPort: Type.Optional(Type.Integer()),
    srtpParameters: Type.Optional(SrtpParameters),
  }),
);
/**
 * `ip` and `port` are where to send (required unless the transport is `comedia`, which learns
 * them from the first packet); `srtpParameters` the far side's key, required when the transport
 * has SRTP and refused otherwise. A suite other than the transport's makes mediasoup switch to it
 * and draw a new key of its own: the answer's `srtpParameters` is the key it encrypts with now.
 */
export const MediaPlainTransportConnect = defineRpc(
  'plain.connect',
  strict({
    ...InRoom,
    peerId: PeerId,
    transportId: EntityId,
    ip: Type.Optional(Type.String({ maxLength: 45 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    rtcpPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    srtpParameters: Type.Optional(SrtpParameters),
  }),
  strict({ srtpParameters: Type.Optional(SrtpParameters) }),
);

/** Closes everything a peer has on this node (leave, or the resume grace period ran out). */
export const MediaPeerClose = defineRpc(
  'peer.close',
  strict({ ...InRoom, peerId: PeerId }),
  /** `peersLeft`: members of the room still on this leg (node); 0 lets the gateway release the leg from the placement. */
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
