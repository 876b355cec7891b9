import type { Bus, KvBucket } from '@strata/bus';
import {
  MediaConsume,
  MediaConsumerAction,
  MediaEvent,
  MediaPeerClose,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaRoomPeers,
  RoomEvent,
  roomKey,
  subjects,
  type ConsumerInfo,
  type PeerSummary,
  type RequestOf,
  type ResponseOf,
  type RoomPlacement,
  type RpcDef,
} from '@strata/protocol';

/**
 * What the recorder asks of a room's media. It is a subscriber like any other, on one leg of
 * the room: plain transports toward its own UDP ports instead of WebRTC ones, and consumers of
 * every producer. A producer of another leg is pulled to this leg by the media node's cascade,
 * exactly as for a browser on this leg, so the recorder needs to know nothing of legs.
 */
export interface RoomMedia {
  /** The room's legs (media node ids, oldest first), or null when the room is not open in this region. */
  legs(roomId: string): Promise<string[] | null>;
  /** Every member of the room, on every leg, with what they publish (as `nodeId` sees it). */
  roster(nodeId: string, roomId: string): Promise<PeerSummary[]>;
  /** A plain transport for `peerId`, sending to `ip:port` (RTP and RTCP multiplexed). */
  plainTransport(nodeId: string, roomId: string, peerId: string): Promise<{ transportId: string; connect(ip: string, port: number): Promise<void> }>;
  /** A paused consumer of `producerId` on `transportId`. */
  consume(nodeId: string, roomId: string, peerId: string, transportId: string, producerId: string): Promise<ConsumerInfo>;
  /** Resumes a consumer; the media node asks the sender for a key frame on video. */
  resume(nodeId: string, roomId: string, peerId: string, consumerId: string): Promise<void>;
  /** Closes every transport of `peerId` on `nodeId` (its consumers go with them). */
  closePeer(nodeId: string, roomId: string, peerId: string): Promise<void>;
  /** Room events (new producers, peers leaving) and media events about `peerId`'s consumers. */
  watch(roomId: string, peerId: string, on: { room(e: RoomEvent): void; media(e: MediaEvent): void }): () => void;
}

/** What the recorder accepts: Opus and VP8, as it writes them (no RTX, no header extensions it would only skip). */
export const RECORDER_RTP_CAPABILITIES = {
  codecs: [
    { kind: 'audio' as const, mimeType: 'audio/opus', clockRate: 48000, channels: 2, preferredPayloadType: 100, rtcpFeedback: [] },
    {
      kind: 'video' as const,
      mimeType: 'video/VP8',
      clockRate: 90000,
      preferredPayloadType: 101,
      rtcpFeedback: [
        { type: 'nack', parameter: 'pli' },
        { type: 'ccm', parameter: 'fir' },
      ],
    },
  ],
  headerExtensions: [],
};

/** `RoomMedia` over NATS: the media nodes' API and the room's placement in KV (read only: the gateways own it). */
export class NatsRoomMedia implements RoomMedia {
  constructor(
    private readonly bus: Bus,
    private readonly placements: KvBucket<RoomPlacement>,
    private readonly region: string,
    private readonly timeoutMs: number,
  ) {}

  private call<D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> {
    return this.bus.request(def, subjects.media(this.region, nodeId, def.name), req, { timeoutMs: this.timeoutMs });
  }

  async legs(roomId: string): Promise<string[] | null> {
    const e = await this.placements.get(roomKey(this.region, roomId));
    return e ? e.value.nodes.map((n) => n.nodeId) : null;
  }

  async roster(nodeId: string, roomId: string): Promise<PeerSummary[]> {
    return (await this.call(nodeId, MediaRoomPeers, { roomId })).peers;
  }

  async plainTransport(nodeId: string, roomId: string, peerId: string) {
    const { transportId } = await this.call(nodeId, MediaPlainTransportCreate, { roomId, peerId, comedia: false, rtcpMux: true });
    return {
      transportId,
      connect: async (ip: string, port: number) => {
        await this.call(nodeId, MediaPlainTransportConnect, { roomId, peerId, transportId, ip, port });
      },
    };
  }

  consume(nodeId: string, roomId: string, peerId: string, transportId: string, producerId: string): Promise<ConsumerInfo> {
    return this.call(nodeId, MediaConsume, { roomId, peerId, transportId, producerId, rtpCapabilities: RECORDER_RTP_CAPABILITIES });
  }

  async resume(nodeId: string, roomId: string, peerId: string, consumerId: string): Promise<void> {
    await this.call(nodeId, MediaConsumerAction, { roomId, peerId, consumerId, action: 'resume' });
  }

  async closePeer(nodeId: string, roomId: string, peerId: string): Promise<void> {
    await this.call(nodeId, MediaPeerClose, { roomId, peerId });
  }

  watch(roomId: string, peerId: string, on: { room(e: RoomEvent): void; media(e: MediaEvent): void }): () => void {
    const subs = [
      this.bus.subscribe(RoomEvent, subjects.roomEvents(this.region, roomId), (e) => on.room(e)),
      this.bus.subscribe(MediaEvent, subjects.roomMedia(this.region, roomId), (e) => {
        if (e.peerId === peerId) on.media(e);
      }),
    ];
    return () => {
      for (const s of subs) s.unsubscribe();
    };
  }
}
