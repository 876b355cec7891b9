import type { TrackSink, TrackSinkFactory, TrackSinkStats } from './segment-recorder.js';
import { TrackRecorder, type TrackStats } from './track-recorder.js';

/** The segment's view of a track writer's stats: counts, arrival times, gaps as wall-clock spans. */
function toSinkStats(s: TrackStats): TrackSinkStats {
  const first = s.firstPacketAt;
  return {
    packets: s.packetsReceived,
    lost: s.lost,
    bytes: s.bytesWritten,
    firstPacketAt: first,
    lastPacketAt: s.lastPacketAt,
    gaps: first === undefined ? [] : s.gaps.map((g) => ({ at: first + g.startMs, durationMs: g.durationMs })),
  };
}

/** Track writers on UDP ports of `host`: one TrackRecorder per track. */
export function trackRecorders(host: string): TrackSinkFactory {
  return async (opts): Promise<TrackSink> => {
    const rec = await TrackRecorder.start({
      kind: opts.kind,
      payloadType: opts.payloadType,
      basePath: opts.path.replace(/\.(ogg|webm)$/, ''),
      host,
    });
    return {
      port: rec.port,
      stats: () => toSinkStats(rec.stats),
      close: async () => toSinkStats(await rec.close()),
    };
  };
}
