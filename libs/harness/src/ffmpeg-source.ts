/**
 * Real encoded media for recorder tests: Debian's ffmpeg encoding a test tone (Opus) or test
 * pattern (VP8) and sending it as RTP, and ffprobe/ffmpeg to read back what was recorded. Real
 * encoders make the tests meet what a browser sends (TOC bytes, partitions, key-frame headers)
 * rather than what our own synthetic packets assume.
 */
import { ManagedProcess } from '@strata/process';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FfmpegRtpOptions {
  kind: 'audio' | 'video';
  host: string;
  port: number;
  payloadType: number;
  ssrc: number;
  /** Default 3 s. */
  durationS?: number;
  /** Audio: sine frequency, default 440 Hz. */
  toneHz?: number;
  /**
   * Where ffmpeg sends its RTCP sender reports; default the RTP port, as a PlainTransport with
   * rtcp-mux expects (ffmpeg's own default would be port + 1).
   */
  rtcpPort?: number;
  /** Video: picture size, default 320x240; target bit rate, default 300 kbit/s. */
  size?: string;
  videoKbps?: number;
}

export interface FfmpegRtp {
  proc: ManagedProcess;
  stop(): Promise<void>;
  /** Exit code once it has exited (null if killed by a signal). */
  exited: Promise<number | null>;
}

/** ffmpeg -re encoding a lavfi source to RTP at real-time pace: Opus 48 kHz 20 ms frames, or VP8 (default 320x240) at 25 fps with a key frame every second. */
export function startFfmpegRtp(o: FfmpegRtpOptions): FfmpegRtp {
  const duration = String(o.durationS ?? 3);
  const input =
    o.kind === 'audio'
      ? [
          '-f',
          'lavfi',
          '-i',
          `sine=frequency=${o.toneHz ?? 440}:sample_rate=48000`,
          '-c:a',
          'libopus',
          '-b:a',
          '64k',
          '-frame_duration',
          '20',
          '-application',
          'audio',
        ]
      : [
          '-f',
          'lavfi',
          '-i',
          `testsrc=size=${o.size ?? '320x240'}:rate=25`,
          '-c:v',
          'libvpx',
          '-deadline',
          'realtime',
          '-g',
          '25',
          '-b:v',
          `${o.videoKbps ?? 300}k`,
          '-pix_fmt',
          'yuv420p',
        ];
  const query = new URLSearchParams({ rtcpport: String(o.rtcpPort ?? o.port), pkt_size: '1200' });
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-re',
    ...input.slice(0, 4),
    '-t',
    duration,
    ...input.slice(4),
    '-f',
    'rtp',
    '-payload_type',
    String(o.payloadType),
    '-ssrc',
    String(o.ssrc >>> 0),
    `rtp://${o.host}:${o.port}?${query}`,
  ];
  const proc = new ManagedProcess({ command: 'ffmpeg', args, name: `ffmpeg-rtp-${o.kind}` });
  return {
    proc,
    exited: proc.exited.then((s) => s.code),
    stop: async () => {
      await proc.stop(5000);
    },
  };
}

export interface ProbeStream {
  index: number;
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
  channels?: number;
  duration?: string;
  nb_read_frames?: string;
  [key: string]: unknown;
}

export interface ProbeResult {
  streams: ProbeStream[];
  format: { format_name: string; duration?: string; size?: string; [key: string]: unknown };
}

/** ffprobe's view of a file: streams (with decoded frame counts, -count_frames) and format. */
export async function probe(file: string): Promise<ProbeResult> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-show_format', '-of', 'json', file], { timeout: 30_000 });
  return JSON.parse(stdout) as ProbeResult;
}

/** Decodes the whole file; what ffmpeg prints at level error (empty for a clean file), and its exit code. */
export async function decodeErrors(file: string): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { timeout: 30_000 });
    return { code: 0, stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? String(err) };
  }
}

/** Overall RMS level of the decoded audio, dB (ffmpeg's astats "RMS level dB" of the Overall section); -Infinity for digital silence. */
export async function audioRms(file: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-nostdin', '-hide_banner', '-i', file, '-af', 'astats=measure_perchannel=none', '-f', 'null', '-'], {
    timeout: 30_000,
  });
  const m = /Overall[\s\S]*?RMS level dB:\s*(-?inf|-?[\d.]+)/i.exec(stderr);
  if (!m) throw new Error(`no RMS level in ffmpeg astats output:\n${stderr.slice(-2000)}`);
  return /inf/i.test(m[1]!) ? -Infinity : Number(m[1]);
}
