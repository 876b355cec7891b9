/**
 * The subset of mediasoup-client's Device that RoomClient drives, typed structurally so that
 * both mediasoup-client (browser, tracks are DOM MediaStreamTracks) and msc-node (Node, werift
 * tracks) fit without an adapter. Parameter types are the wire shapes of @strata/protocol;
 * the libraries' own richer types are compatible with them.
 */
import type { WsRequest, WsResponse } from '@strata/protocol';

export type WireRtpCapabilities = WsRequest<'consume'>['rtpCapabilities'];
export type WireRtpParameters = WsRequest<'produce'>['rtpParameters'];
export type WireDtlsParameters = WsRequest<'connectWebRtcTransport'>['dtlsParameters'];
export type WireIceParameters = WsResponse<'restartIce'>['iceParameters'];
export type WireIceServer = WsResponse<'join'>['iceServers'][number];
export type MediaKind = WsRequest<'produce'>['kind'];
export type TrackSource = NonNullable<WsRequest<'produce'>['source']>;
export type TransportDirection = WsRequest<'createWebRtcTransport'>['direction'];
export type TransportConnectionState = 'new' | 'connecting' | 'connected' | 'failed' | 'disconnected' | 'closed';

export interface TransportOptionsLike {
  id: string;
  iceParameters: WireIceParameters;
  iceCandidates: WsResponse<'createWebRtcTransport'>['iceCandidates'];
  dtlsParameters: WireDtlsParameters;
  /** Wider than the wire's (urls may be one string) so that DOM RTCIceServer fits too. */
  iceServers?: { urls: string | string[]; username?: string; credential?: string }[];
  iceTransportPolicy?: 'all' | 'relay';
  appData?: Record<string, unknown>;
}

export interface EncodingLike {
  rid?: string;
  maxBitrate?: number;
  scaleResolutionDownBy?: number;
  maxFramerate?: number;
  scalabilityMode?: string;
  active?: boolean;
}

export interface ProduceOptionsLike<TTrack> {
  track: TTrack;
  encodings?: EncodingLike[];
  codecOptions?: Record<string, unknown>;
  stopTracks?: boolean;
  appData?: Record<string, unknown>;
}

/** id, producerId and kind are optional only because msc-node declares them so; RoomClient always sets them. */
export interface ConsumeOptionsLike {
  id?: string;
  producerId?: string;
  kind?: MediaKind;
  rtpParameters: WireRtpParameters;
  appData?: Record<string, unknown>;
}

export interface ProducerLike {
  readonly id: string;
  readonly kind: string;
  /** What was negotiated (header extension ids among it). */
  readonly rtpParameters: { readonly headerExtensions?: readonly { readonly uri: string; readonly id: number }[] };
  readonly closed: boolean;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  close(): void;
}

export interface ConsumerLike<TTrack> {
  readonly id: string;
  readonly producerId: string;
  readonly kind: string;
  readonly track: TTrack;
  readonly closed: boolean;
  close(): void;
  getStats(): Promise<unknown>;
}

export interface TransportLike<TTrack> {
  readonly id: string;
  readonly closed: boolean;
  readonly connectionState: string;
  on(event: 'connect', listener: (params: { dtlsParameters: WireDtlsParameters }, callback: () => void, errback: (error: Error) => void) => void): unknown;
  on(
    event: 'produce',
    listener: (
      params: { kind: MediaKind; rtpParameters: WireRtpParameters; appData: Record<string, unknown> },
      callback: (result: { id: string }) => void,
      errback: (error: Error) => void,
    ) => void,
  ): unknown;
  on(event: 'connectionstatechange', listener: (state: TransportConnectionState) => void): unknown;
  produce(options: ProduceOptionsLike<TTrack>): Promise<ProducerLike>;
  consume(options: ConsumeOptionsLike): Promise<ConsumerLike<TTrack>>;
  restartIce(options: { iceParameters: WireIceParameters }): Promise<void>;
  close(): void;
}

export interface DeviceLike<TTrack> {
  readonly loaded: boolean;
  readonly rtpCapabilities: WireRtpCapabilities;
  load(options: { routerRtpCapabilities: WireRtpCapabilities }): Promise<void>;
  canProduce(kind: MediaKind): boolean;
  createSendTransport(options: TransportOptionsLike): TransportLike<TTrack>;
  createRecvTransport(options: TransportOptionsLike): TransportLike<TTrack>;
}

/**
 * Three VP8 simulcast layers (¼, ½ and full resolution), as a browser camera should publish
 * them; the SFU then forwards each subscriber the layer it can take.
 */
export const VP8_SIMULCAST_ENCODINGS: readonly EncodingLike[] = [
  { rid: 'r0', scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: 'r1', scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: 'r2', scaleResolutionDownBy: 1, maxBitrate: 1_500_000 },
];
