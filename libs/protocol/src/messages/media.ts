import { Type } from '@sinclair/typebox';
import { defineRpc } from '../define.js';
import { RoomId } from '../ids.js';

/**
 * mediasoup's RtpCapabilities as sent over the wire. mediasoup validates their inner structure
 * itself; here we only make sure the shape is an object with codec and extension lists.
 */
export const RtpCapabilities = Type.Object({
  codecs: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 64 })),
  headerExtensions: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 64 })),
});

export const MediaRoomOpen = defineRpc(
  'room.open',
  Type.Object({ roomId: RoomId }, { additionalProperties: false }),
  Type.Object({ routerId: Type.String(), rtpCapabilities: RtpCapabilities }, { additionalProperties: false }),
);

export const MediaRoomClose = defineRpc(
  'room.close',
  Type.Object({ roomId: RoomId }, { additionalProperties: false }),
  Type.Object({ closed: Type.Boolean() }, { additionalProperties: false }),
);
