/**
 * The real RTP source: one ffmpeg sending a VP8 test pattern and an Opus sine tone in real time
 * (`-re`) as RTP, RTCP muxed on the same port (`rtcpport=`), to two UDP ports on 127.0.0.1 (the
 * relay of the sink process, which copies every packet to each set-up's producer transports).
 * `pkt_size=1200` keeps packets under a WebRTC-like MTU.
 */
import { ManagedProcess } from '@strata/process';
import { execFileSync } from 'node:child_process';
import { AUDIO, INGEST_SRTP_SUITE, VIDEO } from './media-params.js';

export function checkFfmpeg(): void {
  let encoders: string;
  try {
    encoders = execFileSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    throw new Error(`ffmpeg is not runnable (apt-get install -y ffmpeg): ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const enc of ['libvpx', 'libopus']) {
    if (!new RegExp(`^\\s*\\S+\\s+${enc}\\s`, 'm').test(encoders)) throw new Error(`this ffmpeg has no ${enc} encoder`);
  }
}

/**
 * With `srtpKey` (Base64 of an AES_CM_128_HMAC_SHA1_80 key and salt), ffmpeg's srtp protocol
 * protects RTP and RTCP with it; its packets stay within pkt_size, tag included.
 */
const rtpUrl = (port: number, srtpKey?: string): string => `${srtpKey ? 'srtp' : 'rtp'}://127.0.0.1:${port}?rtcpport=${port}&pkt_size=1200`;
const VIDEO_ENCODE = [
  '-c:v',
  'libvpx',
  '-deadline',
  'realtime',
  '-cpu-used',
  '8',
  '-b:v',
  VIDEO.bitrate,
  '-g',
  String(VIDEO.gop),
  '-keyint_min',
  String(VIDEO.gop),
  '-pix_fmt',
  'yuv420p',
];
const AUDIO_ENCODE = ['-c:a', 'libopus', '-b:a', AUDIO.bitrate, '-ac', '2', '-ar', '48000'];
const rtpOut = (kind: typeof VIDEO | typeof AUDIO, port: number, srtpKey?: string): string[] => [
  '-ssrc',
  String(kind.ssrc),
  '-payload_type',
  String(kind.payloadType),
  '-f',
  'rtp',
  ...(srtpKey ? ['-srtp_out_suite', INGEST_SRTP_SUITE, '-srtp_out_params', srtpKey] : []),
  rtpUrl(port, srtpKey),
];
const testVideo = (duration?: number): string => `testsrc=size=${VIDEO.size}:rate=${VIDEO.fps}${duration ? `:duration=${duration}` : ''}`;
const testAudio = (duration?: number): string => `sine=frequency=440:sample_rate=48000${duration ? `:duration=${duration}` : ''}`;

/** Live: encode the test pattern and the tone in real time while sending. */
export function liveArgs(videoPort: number, audioPort: number, srtpKey?: string): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-re',
    '-f',
    'lavfi',
    '-i',
    testVideo(),
    '-re',
    '-f',
    'lavfi',
    '-i',
    testAudio(),
    '-map',
    '0:v',
    ...VIDEO_ENCODE,
    ...rtpOut(VIDEO, videoPort, srtpKey),
    '-map',
    '1:a',
    ...AUDIO_ENCODE,
    ...rtpOut(AUDIO, audioPort, srtpKey),
  ];
}

/**
 * Clip: the same encoders, run once before the benchmark into a `seconds`-long file, which is then
 * sent in real time in a loop without re-encoding (`-c copy`). Every window of a multiple of
 * `seconds` then carries the same packets, and no encoder competes with the set-ups for the cores.
 */
export function prepareClip(path: string, seconds: number): void {
  execFileSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      testVideo(seconds),
      '-f',
      'lavfi',
      '-i',
      testAudio(seconds),
      '-map',
      '0:v',
      ...VIDEO_ENCODE,
      '-map',
      '1:a',
      ...AUDIO_ENCODE,
      path,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

export function clipArgs(clip: string, videoPort: number, audioPort: number, srtpKey?: string): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-re',
    '-stream_loop',
    '-1',
    '-i',
    clip,
    '-map',
    '0:v',
    '-c:v',
    'copy',
    ...rtpOut(VIDEO, videoPort, srtpKey),
    '-map',
    '0:a',
    '-c:a',
    'copy',
    ...rtpOut(AUDIO, audioPort, srtpKey),
  ];
}

/** ffmpeg sending from the first packet on: nothing to wait for. Its stderr (warnings) goes to its log. */
export function startRtpSource(args: string[]): ManagedProcess {
  return new ManagedProcess({ command: 'ffmpeg', args, name: 'ffmpeg-rtp-source' });
}
