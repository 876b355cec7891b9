/**
 * The baseline of the recorder benchmark: one bare ffmpeg per track, reading the track's RTP
 * from an SDP file and copying it, without decoding, into WebM (VP8) or Ogg (Opus):
 *   ffmpeg -protocol_whitelist file,udp,rtp -i track.sdp -c copy -f webm|ogg out
 * ffmpeg's RTP input takes RTP on the SDP's port and RTCP on port + 1 (and sends its receiver
 * reports from there), so each gets an even port whose odd neighbour is free too, from a range
 * below the kernel's ephemeral ports.
 */
import { ManagedProcess } from '@strata/process';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { udpDrops } from './cpu.js';
import { CLOCK, PAYLOAD_TYPE, type Kind } from './rtp-capture.js';

const run = promisify(execFile);
const PORTS = { min: 12_000, max: 19_998 };
let cursor = PORTS.min;

async function free(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '0.0.0.0', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      s.close();
    } catch {
      // never bound
    }
  }
}

/** The next even port of the range that is free with its odd neighbour (ffmpeg's RTCP port). */
export async function rtpPortPair(): Promise<number> {
  for (let tries = 0; tries < (PORTS.max - PORTS.min) / 2; tries++) {
    const p = cursor;
    cursor = cursor + 2 > PORTS.max ? PORTS.min : cursor + 2;
    if ((await free(p)) && (await free(p + 1))) return p;
  }
  throw new Error(`no free RTP/RTCP port pair in ${PORTS.min}-${PORTS.max + 1}`);
}

export function sdp(kind: Kind, port: number): string {
  const pt = PAYLOAD_TYPE[kind];
  const media =
    kind === 'audio'
      ? `m=audio ${port} RTP/AVP ${pt}\r\na=rtpmap:${pt} opus/${CLOCK.audio}/2`
      : `m=video ${port} RTP/AVP ${pt}\r\na=rtpmap:${pt} VP8/${CLOCK.video}`;
  return `v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=strata-bench\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${media}\r\n`;
}

export interface FfmpegRecorder {
  kind: Kind;
  port: number;
  file: string;
  proc: ManagedProcess;
}

/**
 * ffmpeg's SDP input gives up when no packet comes for `-listen_timeout` s (default 10): with a
 * few hundred processes starting on two cores, the first ones would time out before the last is
 * up and the sender starts. 10 s + 0.25 s per track; ffmpeg waits as long after the last packet
 * before it exits on SIGTERM (see stopFfmpegRecorders).
 */
export const listenTimeoutS = (tracks: number): number => 10 + Math.ceil(tracks / 4);

export function ffmpegArgs(sdpFile: string, kind: Kind, out: string, tracks: number): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'warning',
    '-protocol_whitelist',
    'file,udp,rtp',
    '-listen_timeout',
    String(listenTimeoutS(tracks)),
    '-i',
    sdpFile,
    '-c',
    'copy',
    '-f',
    kind === 'audio' ? 'ogg' : 'webm',
    '-y',
    out,
  ];
}

/** Starts one ffmpeg per track; resolves once every one has bound its RTP port. */
export async function startFfmpegRecorders(kinds: Kind[], dir: string): Promise<FfmpegRecorder[]> {
  const out: FfmpegRecorder[] = [];
  for (const [i, kind] of kinds.entries()) {
    const port = await rtpPortPair();
    const sdpFile = join(dir, `track-${i}.sdp`);
    writeFileSync(sdpFile, sdp(kind, port));
    const file = join(dir, `track-${i}.${kind === 'audio' ? 'ogg' : 'webm'}`);
    out.push({
      kind,
      port,
      file,
      proc: new ManagedProcess({ command: 'ffmpeg', args: ffmpegArgs(sdpFile, kind, file, kinds.length), name: `ffmpeg-rec-${i}` }),
    });
  }
  // A few hundred ffmpeg processes loading their libraries on two cores take a while.
  const waitMs = 30_000 + 500 * kinds.length;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const bound = udpDrops(true);
    const missing = out.filter((f) => !bound.has(f.port));
    if (!missing.length) return out;
    const dead = out.find((f) => !f.proc.running());
    if (dead) throw new Error(`ffmpeg for port ${dead.port} exited before it bound it:\n${dead.proc.tail()}`);
    if (Date.now() > deadline) throw new Error(`${missing.length} ffmpeg recorders did not bind their port in ${waitMs / 1000} s (first: ${missing[0]?.port})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * SIGTERM to all at once (ffmpeg finishes its file on it), and waits for every one to exit. With
 * no input arriving any more ffmpeg exits only when its read times out (`-listen_timeout` after
 * the last packet); a second signal interrupts the read, but then ffmpeg fails to write the
 * trailer ("Immediate exit requested") and the WebM file does not parse, so the benchmark waits
 * (after its window: the wait costs time, not figures).
 */
export async function stopFfmpegRecorders(rs: FfmpegRecorder[]): Promise<void> {
  await Promise.all(rs.map((r) => r.proc.stop(30_000 + 1000 * listenTimeoutS(rs.length))));
}

/** Packets (Opus packets, VP8 frames) in a file, as ffprobe counts them; 0 when it cannot read it. */
export async function countPackets(file: string): Promise<number> {
  try {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file], {
      timeout: 60_000,
    });
    return Number(stdout.trim().split('\n')[0]) || 0;
  } catch {
    return 0;
  }
}
