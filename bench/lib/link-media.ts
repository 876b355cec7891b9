/**
 * What the link benchmarks send: a synthetic simulcast VP8 producer (three layers at
 * libwebrtc's default 720p simulcast targets) and a dense Opus-like probe stream. The payload
 * types and SSRCs here are those the senders of @strata/harness write, or mediasoup drops the
 * packets.
 */
import { OPUS_PT, VP8_PT, type SyntheticLayer } from '@strata/harness';
import type { types } from 'mediasoup';

/**
 * libwebrtc's default targets for 1280x720 with three simulcast layers (simulcast.cc:
 * 320x180 at 150 kbit/s, 640x360 at 500 kbit/s, 1280x720 at 2,500 kbit/s), as bytes per frame
 * at 30 fps. Frames over 1,200 bytes go out as several packets, as a browser's packetizer
 * sends them.
 */
export const LADDER: SyntheticLayer[] = [
  { ssrc: 8001, width: 320, height: 180, frameBytes: 625 },
  { ssrc: 8002, width: 640, height: 360, frameBytes: 2083 },
  { ssrc: 8003, width: 1280, height: 720, frameBytes: 10417 },
];

export const PROBE_SSRC = 9001;

export const simulcastRtpParameters = (layers: SyntheticLayer[] = LADDER): types.RtpParameters => ({
  codecs: [
    {
      mimeType: 'video/VP8',
      payloadType: VP8_PT,
      clockRate: 90000,
      rtcpFeedback: [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }],
    },
  ],
  encodings: layers.map((l) => ({ ssrc: l.ssrc, scalabilityMode: 'L1T1' })),
});

export const opusRtpParameters = (ssrc: number = PROBE_SSRC): types.RtpParameters => ({
  codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PT, clockRate: 48000, channels: 2, parameters: {} }],
  encodings: [{ ssrc }],
});

/** mediasoup's RtpParameters as a protocol message's wire shape (plain JSON). */
export function toWire<T>(p: types.RtpParameters): T {
  return JSON.parse(JSON.stringify(p)) as T;
}
