import { Type, type Static } from '@sinclair/typebox';
import { defineRpc } from '../define.js';
import { ID_PATTERN, EntityId, NodeId, PeerId, RegionId, RoomId } from '../ids.js';
import { MediaKind } from './media.js';

/**
 * Recordings. A recording is one room, recorded track by track (no re-encoding) by one recorder
 * of the region's pool at a time. Its record in the `strata-recordings` bucket is the truth any
 * recorder can pick up: when the recorder holding it dies, another takes it over as a new
 * segment, and the gap between the two is in the record. The manifest next to the files is
 * this record as the last recorder wrote it, with what it knows of each file.
 */
export const RecordingId = Type.String({ pattern: ID_PATTERN, description: 'recording id' });

export const RecordingStatus = Type.Union(
  [Type.Literal('starting'), Type.Literal('recording'), Type.Literal('stopping'), Type.Literal('done'), Type.Literal('failed')],
  { description: 'starting, recording, stopping, done or failed' },
);
export type RecordingStatus = Static<typeof RecordingStatus>;

const strict = <T extends Parameters<typeof Type.Object>[0]>(props: T) => Type.Object(props, { additionalProperties: false });
const Ms = Type.Integer({ minimum: 0, description: 'unix milliseconds' });
const OffsetMs = Type.Integer({ minimum: 0, description: 'milliseconds since the recording started' });

/** A time span of one track, against the recording's start. */
export const Span = strict({ fromMs: OffsetMs, toMs: OffsetMs });
export type Span = Static<typeof Span>;

/** One segment: the stretch of the recording one recorder held. */
export const RecordingSegment = strict({
  segment: Type.Integer({ minimum: 1 }),
  recorderId: NodeId,
  /** The media node it recorded from (the room's first leg when it started). */
  nodeId: Type.Optional(NodeId),
  startedAt: Ms,
  endedAt: Type.Optional(Ms),
  /**
   * How the segment ended: stopped, handed over (SIGTERM), lost (its recorder stopped renewing
   * its lease), or moved (its media node left the room's placement: the next segment records
   * from another leg).
   */
  end: Type.Optional(Type.Union([Type.Literal('stopped'), Type.Literal('handover'), Type.Literal('lost'), Type.Literal('moved')])),
});
export type RecordingSegment = Static<typeof RecordingSegment>;

/** One file: one track of one producer within one segment. */
export const RecordedTrack = strict({
  trackId: Type.String({ pattern: ID_PATTERN }),
  segment: Type.Integer({ minimum: 1 }),
  producerId: EntityId,
  peerId: PeerId,
  identity: Type.String({ maxLength: 256 }),
  kind: MediaKind,
  /** e.g. audio/opus, video/VP8 */
  codec: Type.String({ maxLength: 64 }),
  /** Path relative to the recording's folder (or key suffix in the bucket). */
  file: Type.String({ maxLength: 512 }),
  /** When the track's first packet arrived, against the recording's start. */
  startOffsetMs: Type.Optional(OffsetMs),
  endOffsetMs: Type.Optional(OffsetMs),
  /** The producer was paused (nothing was sent). */
  pauses: Type.Array(Span, { maxItems: 10_000 }),
  /** Packets that never arrived. */
  gaps: Type.Array(Span, { maxItems: 10_000 }),
  packets: Type.Optional(Type.Integer({ minimum: 0 })),
  lost: Type.Optional(Type.Integer({ minimum: 0 })),
  bytes: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Set once the file is closed and complete (a lost segment's files stay as the crash left them). */
  final: Type.Boolean(),
  uploaded: Type.Optional(strict({ key: Type.String({ maxLength: 1024 }), at: Ms })),
});
export type RecordedTrack = Static<typeof RecordedTrack>;

export const Recording = strict({
  recordingId: RecordingId,
  roomId: RoomId,
  region: RegionId,
  status: RecordingStatus,
  /** Who asked for it: an identity from a join token, or "admin". */
  requestedBy: Type.String({ maxLength: 256 }),
  createdAt: Ms,
  /** When recording began (the first segment's start): every offset counts from here. */
  startedAt: Type.Optional(Ms),
  stoppedAt: Type.Optional(Ms),
  /** Why it stopped: "stopped", "room empty", "room closed", or the failure. */
  reason: Type.Optional(Type.String({ maxLength: 512 })),
  /** The recorder holding it now (none once done or failed); who may hold it is decided by its lease. */
  recorderId: Type.Optional(NodeId),
  segments: Type.Array(RecordingSegment, { maxItems: 1000 }),
  /** Times no recorder held the recording (a crash before another took over). */
  gaps: Type.Array(Span, { maxItems: 1000 }),
  tracks: Type.Array(RecordedTrack, { maxItems: 5000 }),
});
export type Recording = Static<typeof Recording>;

/**
 * Who holds an active recording (`strata-recording-leases`, erased when the recording ends, so
 * the pool's sweep reads only active ones). The holder renews `until`; past it, any recorder
 * may take the recording over with a compare-and-set on this entry's revision.
 */
export const RecordingLease = strict({
  recordingId: RecordingId,
  roomId: RoomId,
  recorderId: NodeId,
  segment: Type.Integer({ minimum: 1 }),
  until: Ms,
  /** The holder renewed it last at this time: a takeover records the gap from here. */
  renewedAt: Ms,
});
export type RecordingLease = Static<typeof RecordingLease>;

const ByRoom = { roomId: RoomId };

/**
 * The pool's API (`strata.<region>.recording.<op>`, queue group `strata-recorder`): any
 * recorder answers; start makes the answering one the holder.
 */
export const RecordingStart = defineRpc('recording.start', strict({ ...ByRoom, requestedBy: Type.String({ minLength: 1, maxLength: 256 }) }), Recording);
export const RecordingStop = defineRpc(
  'recording.stop',
  strict({ recordingId: RecordingId, reason: Type.Optional(Type.String({ maxLength: 512 })) }),
  Recording,
);
export const RecordingGet = defineRpc('recording.get', strict({ recordingId: RecordingId }), Recording);
export const RecordingList = defineRpc(
  'recording.list',
  strict({ roomId: Type.Optional(RoomId), active: Type.Optional(Type.Boolean()) }),
  strict({ recordings: Type.Array(Recording) }),
);

/** What the holder is asked directly (`strata.<region>.recorder.<nodeId>.<op>`) by the pool member that took the request. */
export const RecorderStop = defineRpc('recorder.stop', strict({ recordingId: RecordingId, reason: Type.String({ maxLength: 512 }) }), Recording);
