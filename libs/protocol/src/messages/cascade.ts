import { Type, type Static } from '@sinclair/typebox';
import { defineEvent, defineRpc } from '../define.js';
import { EntityId, NodeId, PeerId, RegionId, RoomId } from '../ids.js';
import { MediaKind, PeerSummary, ProducerSummary, RtpParameters, Speakers, SrtpParameters, TrackSource } from './media.js';

/*
 * The cascade: one room over several media nodes. Each node's share of a room is a leg; legs
 * are equals, and nothing but these messages connects them.
 *
 * - Leg events (`strata.<region>.room.<roomId>.legs`): every leg tells the others what changes
 *   on it (members, producers), numbered per leg, so each leg holds the whole room's roster.
 *   A leg that sees a gap in another's numbers, or hears of a leg it does not know, asks that
 *   leg for its state (`room.leg`).
 * - Links (`strata.<region>.media.<nodeId>.link.*`): one plain-transport pair per room and
 *   pair of nodes, reused for every stream between them. A leg that needs a producer of
 *   another leg asks it to forward the producer (`link.forward`), at the layer its
 *   subscribers need, and stops it (`link.stop`) when nobody there watches any more.
 */

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });

const LegRef = {
  roomId: RoomId,
  nodeId: NodeId,
  /** One opening of the room on that node (its router id): a leg closed and opened again starts a new count. */
  legId: EntityId,
  /** 1, 2, 3... per leg, one per change: a gap means a lost event. `legOpened` carries the current number (0 at opening). */
  seq: Type.Integer({ minimum: 0 }),
};
const Member = strict({ peerId: PeerId, identity: Type.String({ maxLength: 128 }), name: Type.Optional(Type.String({ maxLength: 128 })) });

export const LegEvent = defineEvent(
  'leg.event',
  Type.Union([
    /** A leg opened, or answers another's opening (`hello`): legs that do not know it ask it for its state. */
    strict({ type: Type.Literal('legOpened'), ...LegRef, hello: Type.Optional(Type.Boolean()) }),
    strict({ type: Type.Literal('legClosed'), ...LegRef }),
    strict({ type: Type.Literal('memberJoined'), ...LegRef, peer: Member }),
    strict({ type: Type.Literal('memberLeft'), ...LegRef, peerId: PeerId }),
    strict({ type: Type.Literal('producerAdded'), ...LegRef, peerId: PeerId, producer: ProducerSummary }),
    strict({ type: Type.Literal('producerPaused'), ...LegRef, peerId: PeerId, producerId: EntityId, paused: Type.Boolean() }),
    strict({ type: Type.Literal('producerClosed'), ...LegRef, peerId: PeerId, producerId: EntityId }),
  ]),
);
export type LegEvent = Static<typeof LegEvent.schema>;

/** One leg's own members and what they publish there, as of event `seq` (0: nothing happened yet). */
export const MediaRoomLeg = defineRpc(
  'room.leg',
  strict({ roomId: RoomId }),
  strict({ open: Type.Boolean(), legId: Type.Optional(EntityId), seq: Type.Integer({ minimum: 0 }), peers: Type.Array(PeerSummary) }),
);

/** Where one end of a link receives, and (on an SRTP link) the key it encrypts with. */
export const LinkTuple = strict({
  ip: Type.String({ minLength: 1, maxLength: 253 }),
  port: Type.Integer({ minimum: 1, maximum: 65535 }),
  srtpParameters: Type.Optional(SrtpParameters),
});
export type LinkTuple = Static<typeof LinkTuple>;

/**
 * Connects this node's end of the room's link with `fromNodeId` to the caller's end (creating
 * this end if needed) and answers where this end receives. Idempotent; both nodes may call it
 * at once.
 */
export const MediaLinkConnect = defineRpc(
  'link.connect',
  strict({ roomId: RoomId, fromNodeId: NodeId, fromRegion: RegionId, tuple: LinkTuple }),
  strict({ tuple: LinkTuple }),
);

/**
 * Forward producer `producerId` of this leg to `fromNodeId` over their link, or change what is
 * forwarded: `spatialLayer` is the highest layer the caller's subscribers need (absent: the
 * top one), `paused` stops the bytes without tearing the stream down. Idempotent: the answer
 * always describes the one stream for that producer and node.
 */
export const MediaLinkForward = defineRpc(
  'link.forward',
  strict({
    roomId: RoomId,
    fromNodeId: NodeId,
    producerId: EntityId,
    spatialLayer: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
    paused: Type.Boolean(),
  }),
  strict({
    peerId: PeerId,
    kind: MediaKind,
    source: Type.Optional(TrackSource),
    /** What the caller produces on its end, so its subscribers consume it as a local producer. */
    rtpParameters: RtpParameters,
    producerPaused: Type.Boolean(),
  }),
);

/** Stops forwarding `producerId` to `fromNodeId`. */
export const MediaLinkStop = defineRpc('link.stop', strict({ roomId: RoomId, fromNodeId: NodeId, producerId: EntityId }), strict({ stopped: Type.Boolean() }));

/**
 * What crosses the room's links at this node, read from mediasoup's own stats (not from our
 * bookkeeping): per link, its transport's stats, and every stream it sends (consumers) and
 * receives (producers).
 */
export const MediaLinkStats = defineRpc(
  'link.stats',
  strict({ roomId: RoomId }),
  strict({
    links: Type.Array(
      strict({
        nodeId: NodeId,
        /** The link's RTP and RTCP are SRTP (mediasoup's transport has SRTP parameters). */
        srtp: Type.Boolean(),
        transport: Type.Record(Type.String(), Type.Unknown()),
        sending: Type.Array(
          strict({ producerId: EntityId, kind: MediaKind, paused: Type.Boolean(), stats: Type.Array(Type.Record(Type.String(), Type.Unknown())) }),
        ),
        receiving: Type.Array(strict({ producerId: EntityId, kind: MediaKind, stats: Type.Array(Type.Record(Type.String(), Type.Unknown())) })),
      }),
    ),
  }),
);

/**
 * Audio levels of one leg's speakers, a few times a second, on
 * `strata.<region>.room.<roomId>.levels`: only producers above the silence threshold, and one
 * empty report when the leg goes silent. Each leg's observer hears only its own producers;
 * with these every leg ranks the whole room's speakers the same way.
 */
export const LegLevels = defineEvent(
  'leg.levels',
  strict({
    roomId: RoomId,
    nodeId: NodeId,
    levels: Type.Array(strict({ peerId: PeerId, producerId: EntityId, volume: Type.Number({ minimum: -127, maximum: 0 }) }), { maxItems: 64 }),
  }),
);
export type LegLevels = Static<typeof LegLevels.schema>;

/**
 * The room's speaker ranking as one leg computed it, for the gateways holding that leg's
 * peers, on `strata.<region>.room.<roomId>.ranking`, when it changes. `audio`: the top-K
 * speakers, whose audio every subscriber receives (in a room with at most K audio producers,
 * everyone's); `order`: speakers, most recent first (the top-K lead), from which a subscriber
 * fills its N video tiles before the members who never spoke. Every leg ranks the same way,
 * so a gateway forwards a peer only its own leg's ranking.
 */
export const SpeakerRanking = defineEvent('room.ranking', strict({ roomId: RoomId, nodeId: NodeId, ...Speakers.properties }));
export type SpeakerRanking = Static<typeof SpeakerRanking.schema>;
