/** Messages between the benchmark and its sink process (node IPC, JSON). */
import type { SrtpParameters } from '@strata/protocol';
import type { Ingest } from './media-params.js';

/**
 * One SSRC arriving on one sink socket, counted since the socket opened: packets and bytes;
 * `expected`, the packets its sequence numbers span (highest − first + 1), so that
 * expected − packets is what was lost (RFC 3550 §6.4.1's cumulative loss); and, with SRTP, the
 * sampled packets that authenticated under the consumer transport's key and those that did not.
 */
export type StreamCount = [ssrc: number, packets: number, bytes: number, expected: number, verified: number, failed: number];

export interface SinkCounts {
  port: number;
  rtcpPackets: number;
  streams: StreamCount[];
}

export interface RelayCounts {
  videoRtp: number;
  audioRtp: number;
  /** RTCP coming back from the set-up's producer transports (receiver reports, PLI), dropped. */
  rtcpBack: number;
}

export type SinkCommand =
  | { cmd: 'open'; tag: string; count: number }
  /** The SRTP key each sink's consumer transport encrypts with: from now on the sink authenticates a sample of what it gets. */
  | { cmd: 'keys'; keys: [port: number, srtp: SrtpParameters][] }
  | { cmd: 'targets'; ingests: Ingest[] }
  | { cmd: 'counts'; tag: string }
  | { cmd: 'close' };

export type SinkResult =
  { cmd: 'open'; ports: number[] } | { cmd: 'keys' } | { cmd: 'targets' } | { cmd: 'counts'; sinks: SinkCounts[]; relay: RelayCounts } | { cmd: 'close' };

export interface SinkRequest {
  id: number;
  command: SinkCommand;
}

export type SinkReply = { id: number; ok: true; result: SinkResult } | { id: number; ok: false; error: string };

/** First message of the sink process: where ffmpeg must send. */
export interface SinkHello {
  hello: { relayVideoPort: number; relayAudioPort: number };
}
