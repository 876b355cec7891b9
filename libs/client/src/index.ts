export { Emitter, logListenerError, type EventMap, type ListenerErrorHandler } from './emitter.js';
export { SignalingError, isSignalingError } from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export type { WebSocketConstructor, WebSocketLike } from './socket.js';
export {
  SignalingClient,
  type AppMethod,
  type ConnectionState,
  type JoinResult,
  type NotificationMessage,
  type ResumeResult,
  type SignalingClientEvents,
  type SignalingClientOptions,
} from './signaling-client.js';
export {
  VP8_SIMULCAST_ENCODINGS,
  type ConsumeOptionsLike,
  type ConsumerLike,
  type DeviceLike,
  type EncodingLike,
  type MediaKind,
  type ProduceOptionsLike,
  type ProducerLike,
  type TrackSource,
  type TransportConnectionState,
  type TransportDirection,
  type TransportLike,
  type TransportOptionsLike,
  type WireDtlsParameters,
  type WireIceParameters,
  type WireIceServer,
  type WireRtpCapabilities,
  type WireRtpParameters,
} from './device.js';
export { viewOf, type Speakers, type ViewInput, type ViewPeer } from './room-view.js';
export { turnTransportOf, withTurnTransports, type TurnTransport } from './ice-servers.js';
export {
  RoomClient,
  type Layers,
  type LocalProducer,
  type PublishOptions,
  type RemoteConsumer,
  type RemotePeer,
  type RoomClientEvents,
  type RoomClientOptions,
} from './room-client.js';
