/**
 * A minimal WebM (Matroska) muxer for live recording: frames as they come, never rewritten, so the
 * file is valid at every moment. The Segment and each Cluster start with the "unknown size" marker
 * (what live WebM from browsers uses); a cluster's real size is patched in once the next one starts,
 * and the Segment's on close. Info's Duration, a float64 at a known offset, is patched at every new
 * cluster and on close: a file left by a killed recorder still reports nearly its real length.
 * On close, Cues (one point per cluster that starts with a video key frame, or per cluster in an
 * audio-only file) go after the last cluster, and a SeekHead naming Info, Tracks and Cues takes the
 * place of a Void reserved for it at the start: players that seek only through Cues (Firefox's
 * WebM reader) can seek a finished file. A file whose recorder died has neither, and players
 * find its clusters by scanning, as in any live WebM.
 *
 * Tracks are declared up front as a list, so an Opus track could sit beside the VP8 one: frames
 * carry their track number and blocks of all tracks go into the same clusters in time order.
 */
import { FileSink } from './file-sink.js';

export type WebmTrack =
  | { number: number; kind: 'video'; codecId: 'V_VP8'; width: number; height: number }
  | { number: number; kind: 'audio'; codecId: 'A_OPUS'; channels: number; sampleRate: number; codecPrivate: Buffer; codecDelayNs?: number };

export interface WebmStats {
  frames: number;
  keyFrames: number;
  clusters: number;
  bytes: number;
  /** Milliseconds, as written to Duration. */
  durationMs: number;
}

export interface WebmWriterOptions {
  tracks: WebmTrack[];
  /** A new cluster at least this often even without a key frame; default 5000 ms (SimpleBlock time offsets are 16-bit ms). */
  maxClusterMs?: number;
  app?: string;
}

// Element IDs (Matroska spec), with their length marker bits, as they appear in the file.
const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  SeekPreRoll: 0x56bb,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  Void: 0xec,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
} as const;

/**
 * Bytes reserved after the Segment's header for the SeekHead written on close: three Seeks of at
 * most 21 bytes each (a 4-byte id, an 8-byte position) in a 5-byte header, and a Void of at least
 * 2 bytes for the rest.
 */
const SEEK_HEAD_SPACE = 96;

/** The 8-byte size that means "unknown" (all value bits set). */
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function idBytes(id: number): Buffer {
  const len = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const b = Buffer.alloc(len);
  b.writeUIntBE(id, 0, len);
  return b;
}

/** EBML variable-length size, shortest form (or `width` bytes). */
export function vint(n: number, width?: number): Buffer {
  let len = 1;
  while (n >= 2 ** (7 * len) - 1) len++;
  if (width !== undefined) {
    if (width < len) throw new Error(`size ${n} does not fit ${width} bytes`);
    len = width;
  }
  const b = Buffer.alloc(len);
  let v = n;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  b[0]! |= 0x80 >> (len - 1);
  return b;
}

function el(id: number, body: Buffer): Buffer {
  return Buffer.concat([idBytes(id), vint(body.length), body]);
}
function uint(id: number, n: number): Buffer {
  let len = 1;
  while (len < 8 && n >= 2 ** (8 * len)) len++;
  const b = Buffer.alloc(len);
  let v = n;
  for (let i = len - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return el(id, b);
}
function str(id: number, s: string): Buffer {
  return el(id, Buffer.from(s, 'utf8'));
}
/** A Void element of exactly `total` bytes (≥ 2): what readers skip. */
function voidOf(total: number): Buffer {
  // One byte of ID; the size takes one byte up to 127 bytes of body, two up to 16,383.
  const sizeLen = total - 2 <= 126 ? 1 : 2;
  return Buffer.concat([idBytes(ID.Void), vint(total - 1 - sizeLen, sizeLen), Buffer.alloc(total - 1 - sizeLen)]);
}
function float64(id: number, f: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(f);
  return el(id, b);
}

function trackEntry(t: WebmTrack): Buffer {
  const common = [uint(ID.TrackNumber, t.number), uint(ID.TrackUID, t.number), uint(ID.FlagLacing, 0), str(ID.CodecID, t.codecId)];
  if (t.kind === 'video') {
    return el(
      ID.TrackEntry,
      Buffer.concat([...common, uint(ID.TrackType, 1), el(ID.Video, Buffer.concat([uint(ID.PixelWidth, t.width), uint(ID.PixelHeight, t.height)]))]),
    );
  }
  return el(
    ID.TrackEntry,
    Buffer.concat([
      ...common,
      uint(ID.TrackType, 2),
      el(ID.CodecPrivate, t.codecPrivate),
      uint(ID.CodecDelay, t.codecDelayNs ?? 6_500_000),
      uint(ID.SeekPreRoll, 80_000_000),
      el(ID.Audio, Buffer.concat([float64(ID.SamplingFrequency, t.sampleRate), uint(ID.Channels, t.channels)])),
    ]),
  );
}

export class WebmWriter {
  readonly stats: WebmStats = { frames: 0, keyFrames: 0, clusters: 0, bytes: 0, durationMs: 0 };
  readonly #sink: FileSink;
  readonly #maxClusterMs: number;
  /** Track number → kind: a key frame starts a cluster only on video (every Opus frame is a key frame). */
  readonly #tracks: Map<number, WebmTrack['kind']>;
  /** File offset of the Segment's size field, and of its first child (offsets in Matroska are relative to it). */
  readonly #segmentSizeAt: number;
  readonly #segmentDataAt: number;
  /** File offset of Duration's 8-byte float. */
  readonly #durationAt: number;
  /** Offsets of Info and Tracks within the Segment, for the SeekHead. */
  readonly #infoPos: number;
  readonly #tracksPos: number;
  /** The track cue points name: the video track if there is one, else the first. */
  readonly #cueTrack: number;
  readonly #cues: { timeMs: number; clusterPos: number }[] = [];
  #clusterTimecode: number | undefined;
  #clusterSizeAt = 0;
  #lastMs = 0;
  #frameMs = 0;
  #closing: Promise<WebmStats> | undefined;

  constructor(path: string, opts: WebmWriterOptions) {
    // SimpleBlock headers here carry the track number as a 1-byte vint.
    for (const t of opts.tracks) if (!Number.isInteger(t.number) || t.number < 1 || t.number > 126) throw new Error(`track number ${t.number} not in 1–126`);
    this.#tracks = new Map(opts.tracks.map((t) => [t.number, t.kind]));
    const cueTrack = opts.tracks.find((t) => t.kind === 'video') ?? opts.tracks[0];
    if (!cueTrack) throw new Error('a WebM file needs a track');
    this.#cueTrack = cueTrack.number;
    this.#maxClusterMs = Math.min(opts.maxClusterMs ?? 5000, 30_000);
    const app = opts.app ?? 'strata';
    const ebml = el(
      ID.EBML,
      Buffer.concat([
        uint(ID.EBMLVersion, 1),
        uint(ID.EBMLReadVersion, 1),
        uint(ID.EBMLMaxIDLength, 4),
        uint(ID.EBMLMaxSizeLength, 8),
        str(ID.DocType, 'webm'),
        uint(ID.DocTypeVersion, 4),
        uint(ID.DocTypeReadVersion, 2),
      ]),
    );
    const segment = idBytes(ID.Segment);
    const info = el(ID.Info, Buffer.concat([uint(ID.TimecodeScale, 1_000_000), str(ID.MuxingApp, app), str(ID.WritingApp, app), float64(ID.Duration, 0)]));
    const tracks = el(ID.Tracks, Buffer.concat(opts.tracks.map(trackEntry)));
    this.#segmentSizeAt = ebml.length + segment.length;
    this.#segmentDataAt = this.#segmentSizeAt + UNKNOWN_SIZE.length;
    this.#infoPos = SEEK_HEAD_SPACE;
    this.#tracksPos = SEEK_HEAD_SPACE + info.length;
    // Duration is the last element of Info: its float is Info's last 8 bytes.
    this.#durationAt = this.#segmentDataAt + this.#tracksPos - 8;
    this.#sink = new FileSink(path);
    try {
      this.#sink.append(Buffer.concat([ebml, segment, UNKNOWN_SIZE, voidOf(SEEK_HEAD_SPACE), info, tracks]));
    } catch (err) {
      this.#sink.abandon();
      throw err;
    }
    this.stats.bytes = this.#sink.size;
  }

  get path(): string {
    return this.#sink.path;
  }

  /**
   * One frame, timestamps in ms (TimecodeScale 1 ms) from the start of the recording, non-decreasing
   * per track. A key frame of a video track starts a cluster, so that every cluster can be decoded from its start.
   */
  writeFrame(track: number, timeMs: number, keyFrame: boolean, data: Uint8Array): void {
    if (this.#closing) throw new Error(`${this.path} is closed`);
    if (!this.#tracks.has(track)) throw new Error(`no track ${track}`);
    const t = Math.max(0, Math.round(timeMs));
    const rel = this.#clusterTimecode === undefined ? 0 : t - this.#clusterTimecode;
    const videoKey = keyFrame && this.#tracks.get(track) === 'video';
    if (this.#clusterTimecode === undefined || videoKey || rel >= this.#maxClusterMs || rel < -0x8000 || rel > 0x7fff) {
      // A cue only where a player can start decoding: a video key frame, or any cluster of an audio-only file.
      this.#startCluster(t, this.#tracks.get(this.#cueTrack) === 'video' ? videoKey && track === this.#cueTrack : true);
    }
    if (t > this.#lastMs) {
      this.#frameMs = t - this.#lastMs;
      this.#lastMs = t;
    }
    const header = Buffer.alloc(4);
    header[0] = 0x80 | track; // track number as a 1-byte vint (tracks 1–126)
    header.writeInt16BE(t - this.#clusterTimecode!, 1);
    header[3] = keyFrame ? 0x80 : 0;
    this.#sink.append(Buffer.concat([idBytes(ID.SimpleBlock), vint(4 + data.length), header, data]));
    this.stats.frames++;
    if (keyFrame) this.stats.keyFrames++;
    this.stats.bytes = this.#sink.size;
  }

  /** Final Duration and sizes, fsync, close; idempotent. */
  close(): Promise<WebmStats> {
    this.#closing ??= (async () => {
      try {
        this.#closeCluster();
        this.#patchDuration();
        this.#writeCues();
        this.#sink.patch(this.#segmentSizeAt, vint(this.#sink.size - this.#segmentDataAt, 8));
      } finally {
        await this.#sink.close();
      }
      return { ...this.stats };
    })();
    return this.#closing;
  }

  #startCluster(timecode: number, cue: boolean): void {
    this.#closeCluster();
    this.#patchDuration();
    if (cue) this.#cues.push({ timeMs: timecode, clusterPos: this.#sink.size - this.#segmentDataAt });
    this.#sink.append(idBytes(ID.Cluster));
    this.#clusterSizeAt = this.#sink.size;
    this.#sink.append(UNKNOWN_SIZE);
    this.#sink.append(uint(ID.Timecode, timecode));
    this.#clusterTimecode = timecode;
    this.stats.clusters++;
  }

  /** Cues after the last cluster, then the SeekHead over the Void reserved for it. */
  #writeCues(): void {
    if (this.#cues.length === 0) return;
    const cuesPos = this.#sink.size - this.#segmentDataAt;
    const points = this.#cues.map((c) =>
      el(
        ID.CuePoint,
        Buffer.concat([
          uint(ID.CueTime, c.timeMs),
          el(ID.CueTrackPositions, Buffer.concat([uint(ID.CueTrack, this.#cueTrack), uint(ID.CueClusterPosition, c.clusterPos)])),
        ]),
      ),
    );
    this.#sink.append(el(ID.Cues, Buffer.concat(points)));
    const seek = (id: number, pos: number) => el(ID.Seek, Buffer.concat([el(ID.SeekID, idBytes(id)), uint(ID.SeekPosition, pos)]));
    const head = el(ID.SeekHead, Buffer.concat([seek(ID.Info, this.#infoPos), seek(ID.Tracks, this.#tracksPos), seek(ID.Cues, cuesPos)]));
    this.#sink.patch(this.#segmentDataAt, Buffer.concat([head, voidOf(SEEK_HEAD_SPACE - head.length)]));
  }

  #closeCluster(): void {
    if (this.#clusterTimecode === undefined) return;
    this.#sink.patch(this.#clusterSizeAt, vint(this.#sink.size - this.#clusterSizeAt - 8, 8));
  }

  #patchDuration(): void {
    if (this.stats.frames === 0) return;
    // The last frame lasts as long as the one before it.
    this.stats.durationMs = this.#lastMs + this.#frameMs;
    const b = Buffer.alloc(8);
    b.writeDoubleBE(this.stats.durationMs);
    this.#sink.patch(this.#durationAt, b);
  }
}
