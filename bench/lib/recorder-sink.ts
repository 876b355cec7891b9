/**
 * "Ours" in the recorder benchmark: one process running one TrackRecorder per track, as the
 * recorder service does, each on a UDP port of its own, writing .ogg / .webm files into the
 * directory it is given. From src/ through tsx, or with `--compiled` from services/recorder/dist
 * (after `npm run build`). Started by bench/recorder.ts through IpcChild.
 */
import { join } from 'node:path';
import type { TrackRecorder as TrackRecorderT, TrackStats } from '../../services/recorder/src/track-recorder.js';
import { serveIpc } from './ipc.js';
import { PAYLOAD_TYPE, type Kind } from './rtp-capture.js';

const compiled = process.argv.includes('--compiled');
const mod = (await import(compiled ? '../../services/recorder/dist/track-recorder.js' : '../../services/recorder/src/track-recorder.js')) as {
  TrackRecorder: typeof TrackRecorderT;
};

/** What the benchmark reads of a track's stats. */
export type SinkTrackStats = Pick<
  TrackStats,
  | 'kind'
  | 'file'
  | 'port'
  | 'packetsReceived'
  | 'packetsWritten'
  | 'framesWritten'
  | 'framesDropped'
  | 'lost'
  | 'late'
  | 'duplicates'
  | 'malformed'
  | 'bytesWritten'
> & { error?: string };

let recorders: TrackRecorderT[] = [];

const pick = (s: TrackStats): SinkTrackStats => ({
  kind: s.kind,
  file: s.file,
  port: s.port,
  packetsReceived: s.packetsReceived,
  packetsWritten: s.packetsWritten,
  framesWritten: s.framesWritten,
  framesDropped: s.framesDropped,
  lost: s.lost,
  late: s.late,
  duplicates: s.duplicates,
  malformed: s.malformed,
  bytesWritten: s.bytesWritten,
  ...(s.error !== undefined ? { error: s.error } : {}),
});

serveIpc(async (command) => {
  if (command['cmd'] === 'start') {
    const kinds = command['tracks'] as Kind[];
    const dir = command['dir'] as string;
    recorders = await Promise.all(
      kinds.map((kind, i) => mod.TrackRecorder.start({ kind, payloadType: PAYLOAD_TYPE[kind], basePath: join(dir, `track-${i}`), host: '127.0.0.1' })),
    );
    return recorders.map((r) => r.port);
  }
  if (command['cmd'] === 'stats') return recorders.map((r) => pick(r.stats));
  if (command['cmd'] === 'close') {
    const out = (await Promise.all(recorders.map((r) => r.close()))).map(pick);
    recorders = [];
    return out;
  }
  throw new Error(`unknown command ${String(command['cmd'])}`);
});
