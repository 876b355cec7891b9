import { capacityShare, loadScore, type LoadSample } from '@strata/service';

/**
 * A recorder runs out of tracks (RECORDER_MAX_TRACKS: past it, it takes no new recording) or of
 * its event loop's time (every packet of every track is depacketized and written in JavaScript):
 * the score is the fuller of the two. With no track limit, only the event loop counts.
 */
export function recorderLoad(
  counts: { recordings: number; tracks: number },
  maxTracks: number,
  sample: LoadSample,
): { score: number; details: Record<string, number> } {
  const shares = maxTracks > 0 ? [capacityShare(counts.tracks, maxTracks), sample.eventLoop] : [sample.eventLoop];
  return { score: loadScore(...shares), details: { ...counts, maxTracks, eventLoop: sample.eventLoop } };
}
