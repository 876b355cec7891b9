/** Messages between the benchmark and its sink process (node IPC, JSON). */
import type { Ingest } from './media-params.js';

/** Packets and bytes of one SSRC arriving on one sink socket. */
export type StreamCount = [ssrc: number, packets: number, bytes: number];

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
  { cmd: 'open'; tag: string; count: number } | { cmd: 'targets'; ingests: Ingest[] } | { cmd: 'counts'; tag: string } | { cmd: 'close' };

export type SinkResult = { cmd: 'open'; ports: number[] } | { cmd: 'targets' } | { cmd: 'counts'; sinks: SinkCounts[]; relay: RelayCounts } | { cmd: 'close' };

export interface SinkRequest {
  id: number;
  command: SinkCommand;
}

export type SinkReply = { id: number; ok: true; result: SinkResult } | { id: number; ok: false; error: string };

/** First message of the sink process: where ffmpeg must send. */
export interface SinkHello {
  hello: { relayVideoPort: number; relayAudioPort: number };
}
