import type { Bus } from '@strata/bus';
import {
  ActiveSpeakerEvent,
  DEFAULT_SRTP_CRYPTO_SUITE,
  MediaConsume,
  MediaConsumerAction,
  MediaConsumerLayers,
  MediaEvent,
  MediaLinkConnect,
  MediaLinkForward,
  MediaLinkStats,
  MediaLinkStop,
  MediaPeerClose,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaProducerAction,
  MediaRoomClose,
  MediaRoomLeg,
  MediaRoomOpen,
  MediaRoomPeers,
  MediaTransportClose,
  MediaTransportConnect,
  MediaTransportCreate,
  MediaTransportRestartIce,
  MediaTransportStats,
  StrataError,
  subjects,
  type RequestOf,
  type ResponseOf,
  type RpcDef,
} from '@strata/protocol';
import type { types } from 'mediasoup';
import type { Subscription } from 'nats';
import type { RoomRegistry } from './room-registry.js';

// The schemas check these structures field by field; mediasoup checks how they fit together.
const rtpCaps = (x: unknown) => x as types.RtpCapabilities;
const rtpParams = (x: unknown) => x as types.RtpParameters;
const dtls = (x: unknown) => x as types.DtlsParameters;

/** The media node's NATS API: `strata.<region>.media.<nodeId>.<op>`, one subscription per op. */
export function serveMediaApi(bus: Bus, region: string, nodeId: string, rooms: RoomRegistry): Subscription[] {
  const subject = (def: RpcDef) => subjects.media(region, nodeId, def.name);
  return [
    bus.serve(MediaRoomOpen, subject(MediaRoomOpen), async ({ roomId, peer, legs, maxMembers }) => {
      const room = await rooms.open(roomId);
      if (legs) await room.learnLegs(legs); // the answer is the whole room's roster
      if (!peer) return { routerId: room.router.id, rtpCapabilities: room.rtpCapabilities, peers: room.roster() };
      // Checked and admitted in one turn of this process: concurrent joins cannot over-fill the leg.
      if (maxMembers !== undefined && !room.isMember(peer.peerId) && room.memberCount >= maxMembers) {
        throw new StrataError('CAPACITY', `room ${roomId}'s leg on this node is full (${maxMembers} members)`);
      }
      room.admit(peer);
      return {
        routerId: room.router.id,
        rtpCapabilities: room.rtpCapabilities,
        peers: room.roster(),
        self: room.peerMedia(peer.peerId),
        speakers: room.ranking,
      };
    }),
    bus.serve(MediaRoomPeers, subject(MediaRoomPeers), ({ roomId }) => ({ peers: rooms.find(roomId)?.roster() ?? [] })),
    bus.serve(MediaRoomLeg, subject(MediaRoomLeg), ({ roomId }) => rooms.find(roomId)?.legSnapshot() ?? { open: false, seq: 0, peers: [] }),
    // Links between legs: only for rooms open here (a leg asks another it knows of).
    bus.serve(MediaLinkConnect, subject(MediaLinkConnect), async ({ roomId, fromNodeId, fromRegion, tuple }) => ({
      tuple: await rooms.get(roomId).links.connect(fromNodeId, fromRegion, tuple),
    })),
    bus.serve(MediaLinkForward, subject(MediaLinkForward), ({ roomId, fromNodeId, producerId, spatialLayer, paused }) =>
      rooms.get(roomId).links.forward(fromNodeId, producerId, spatialLayer, paused),
    ),
    bus.serve(MediaLinkStop, subject(MediaLinkStop), async ({ roomId, fromNodeId, producerId }) => ({
      stopped: (await rooms.find(roomId)?.links.stop(fromNodeId, producerId)) ?? false,
    })),
    bus.serve(MediaLinkStats, subject(MediaLinkStats), async ({ roomId }) => ({ links: (await rooms.find(roomId)?.links.stats()) ?? [] })),
    bus.serve(MediaRoomClose, subject(MediaRoomClose), ({ roomId }) => ({ closed: rooms.close(roomId) })),
    bus.serve(MediaTransportCreate, subject(MediaTransportCreate), async ({ roomId, peerId, direction, forceTcp }) =>
      (await rooms.open(roomId)).createWebRtcTransport(peerId, direction, forceTcp ?? false),
    ),
    bus.serve(MediaTransportConnect, subject(MediaTransportConnect), async ({ roomId, peerId, transportId, dtlsParameters }) => {
      await rooms.get(roomId).connectWebRtcTransport(peerId, transportId, dtls(dtlsParameters));
      return {};
    }),
    bus.serve(MediaTransportRestartIce, subject(MediaTransportRestartIce), async ({ roomId, peerId, transportId }) => ({
      iceParameters: await rooms.get(roomId).restartIce(peerId, transportId),
    })),
    bus.serve(MediaTransportClose, subject(MediaTransportClose), ({ roomId, peerId, transportId }) => {
      rooms.get(roomId).closeTransport(peerId, transportId);
      return {};
    }),
    bus.serve(MediaTransportStats, subject(MediaTransportStats), async ({ roomId, peerId, transportId }) => ({
      stats: await rooms.get(roomId).transportStats(peerId, transportId),
    })),
    bus.serve(MediaPlainTransportCreate, subject(MediaPlainTransportCreate), async ({ roomId, peerId, comedia, rtcpMux, enableSrtp, srtpCryptoSuite }) => {
      // A suite without SRTP would be silently ignored by mediasoup: say so instead.
      if (srtpCryptoSuite !== undefined && !enableSrtp) throw new StrataError('INVALID_MESSAGE', 'plain.create: srtpCryptoSuite needs enableSrtp: true');
      const srtp = enableSrtp ? { cryptoSuite: srtpCryptoSuite ?? DEFAULT_SRTP_CRYPTO_SUITE } : undefined;
      return (await rooms.open(roomId)).createPlainTransport(peerId, comedia ?? false, rtcpMux ?? true, srtp);
    }),
    bus.serve(MediaPlainTransportConnect, subject(MediaPlainTransportConnect), ({ roomId, peerId, transportId, ip, port, rtcpPort, srtpParameters }) =>
      rooms.get(roomId).connectPlainTransport(peerId, transportId, ip, port, rtcpPort, srtpParameters),
    ),
    bus.serve(MediaProduce, subject(MediaProduce), async ({ roomId, peerId, transportId, kind, rtpParameters, paused, source }) => ({
      producerId: await rooms.get(roomId).produce(peerId, transportId, kind, rtpParams(rtpParameters), paused ?? false, source),
    })),
    bus.serve(MediaProducerAction, subject(MediaProducerAction), async ({ roomId, peerId, producerId, action }) => {
      await rooms.get(roomId).producerAction(peerId, producerId, action);
      return {};
    }),
    bus.serve(MediaConsume, subject(MediaConsume), ({ roomId, peerId, transportId, producerId, rtpCapabilities, preferredLayers }) =>
      rooms.get(roomId).consume(peerId, transportId, producerId, rtpCaps(rtpCapabilities), preferredLayers),
    ),
    bus.serve(MediaConsumerAction, subject(MediaConsumerAction), async ({ roomId, peerId, consumerId, action }) => {
      await rooms.get(roomId).consumerAction(peerId, consumerId, action);
      return {};
    }),
    bus.serve(MediaConsumerLayers, subject(MediaConsumerLayers), async ({ roomId, peerId, consumerId, spatialLayer, temporalLayer }) => {
      await rooms.get(roomId).setPreferredLayers(peerId, consumerId, spatialLayer, temporalLayer);
      return {};
    }),
    bus.serve(MediaPeerClose, subject(MediaPeerClose), ({ roomId, peerId }) => {
      const room = rooms.find(roomId);
      if (!room) return { closedTransports: 0, peersLeft: 0 }; // room already gone: nothing left to close
      const closedTransports = room.closePeer(peerId);
      return { closedTransports, peersLeft: room.memberCount };
    }),
  ];
}

/** How this node's legs reach the other nodes of their rooms. */
export function farLegs(bus: Bus, region: string, timeoutMs: number) {
  return {
    request: <D extends RpcDef>(nodeId: string, def: D, req: RequestOf<D>): Promise<ResponseOf<D>> =>
      bus.request(def, subjects.media(region, nodeId, def.name), req, { timeoutMs }),
  };
}

/** Room events a media node publishes for gateways. */
export function mediaEventPublisher(bus: Bus, region: string, nodeId: string) {
  return (roomId: string) => ({
    media: (e: MediaEvent) => bus.publish(MediaEvent, subjects.roomMedia(region, roomId), e),
    activeSpeaker: (peerId: string, producerId: string) =>
      bus.publish(ActiveSpeakerEvent, subjects.activeSpeaker(region, roomId), { roomId, nodeId, peerId, producerId, ts: Date.now() }),
  });
}
