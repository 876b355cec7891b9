/**
 * The one sender of the benchmark: what ffmpeg sends and what both set-ups are told to expect.
 * The payload types and SSRCs in the producers' rtpParameters must be exactly those ffmpeg
 * writes, or mediasoup drops every packet.
 */
import type { SrtpCryptoSuite, SrtpParameters } from '@strata/protocol';
import type { types } from 'mediasoup';

export const VIDEO = {
  kind: 'video',
  payloadType: 101,
  ssrc: 22_222_222,
  bitrate: '800k',
  /** Keyframe interval in frames (2 s at 30 fps): new and resumed consumers wait for one. */
  gop: 60,
  size: '640x360',
  fps: 30,
} as const;

export const AUDIO = {
  kind: 'audio',
  payloadType: 100,
  ssrc: 11_111_111,
  bitrate: '48k',
} as const;

export const VIDEO_RTP_PARAMETERS: types.RtpParameters = {
  codecs: [
    {
      mimeType: 'video/VP8',
      clockRate: 90000,
      payloadType: VIDEO.payloadType,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: [{ ssrc: VIDEO.ssrc }],
};

export const AUDIO_RTP_PARAMETERS: types.RtpParameters = {
  codecs: [{ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: AUDIO.payloadType }],
  encodings: [{ ssrc: AUDIO.ssrc }],
};

export interface Endpoint {
  ip: string;
  port: number;
}

/** Where a set-up wants the sender's RTP: its two comedia PlainTransports. */
export interface Ingest {
  video: Endpoint;
  audio: Endpoint;
}

/**
 * One receiving peer: one PlainTransport carrying a VP8 and an Opus consumer, sending to one
 * sink socket. Each receiver is two mediasoup consumers.
 */
export interface Receiver {
  sinkPort: number;
  /** The transport's local port (the source port of what the sink receives). */
  transportPort: number;
  videoSsrc: number;
  audioSsrc: number;
  /** With SRTP: the key the receiver's transport encrypts with (after connect), which its sink authenticates with. */
  srtp?: SrtpParameters;
}

/**
 * The SRTP mode: consumer transports use `suite`; the producers' transports take ffmpeg's SRTP,
 * encrypted with `ingestKey` (AES_CM_128_HMAC_SHA1_80: the only suites ffmpeg's srtp muxer has
 * are the AES_CM ones), as both ends of a link between nodes would.
 */
export interface SrtpMode {
  suite: SrtpCryptoSuite;
  ingestKey: SrtpParameters;
}
export const INGEST_SRTP_SUITE: SrtpCryptoSuite = 'AES_CM_128_HMAC_SHA1_80';

/**
 * What the consumers are made with: the router's capabilities (transport-cc and REMB, so a
 * congestion controller runs per transport, as for a client), or a link's (without them, as the
 * cascade makes its link consumers: services/media/src/link.ts).
 */
export type ConsumerCaps = 'router' | 'link';

/** The first encoding's SSRC of a consumer's rtpParameters, whatever their static type. */
export function firstSsrc(rtpParameters: { encodings?: unknown[] | undefined }): number {
  const enc = rtpParameters.encodings?.[0];
  if (typeof enc === 'object' && enc !== null && 'ssrc' in enc && typeof enc.ssrc === 'number') return enc.ssrc;
  throw new Error(`consumer rtpParameters carry no encodings[0].ssrc: ${JSON.stringify(rtpParameters.encodings)}`);
}
