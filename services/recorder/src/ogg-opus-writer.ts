/**
 * Opus from RTP into an Ogg Opus file (RFC 7845 on RFC 3533) without decoding: RTP Opus payloads
 * are Opus packets as Ogg Opus stores them, one per RTP packet. What the writer adds is the
 * timeline: the granule position counts 48 kHz samples (the Opus RTP clock, RFC 7587), and holes
 * in the RTP timeline (loss, a muted sender that stopped sending, DTX) are filled with tiny silent
 * packets, so the file plays for as long as the track lasted and stays in step with the room's
 * other tracks. Pages are flushed at least every second of audio, and a page is final on disk as
 * soon as it is written: a killed recorder leaves a file that plays up to its last page.
 */
import { FileSink } from './file-sink.js';

/**
 * Encoder delay to drop at the start (RFC 7845 §4.2). 312 samples (6.5 ms) is libopus's look-ahead
 * at 48 kHz, what browsers and ffmpeg encode with; for a recording that joins a stream mid-way it
 * also hides the decoder's first few milliseconds of convergence.
 */
export const DEFAULT_PRE_SKIP = 312;

/**
 * A 20 ms CELT-only full-band mono frame that decodes to digital silence (TOC 0xF8: config 31, one
 * frame; then a range-coder payload whose first symbol is the silence flag). WebRTC sends the same
 * bytes for DTX comfort. Mono packets in a stereo stream are fine: the decoder upmixes.
 */
export const OPUS_SILENCE_20MS = Buffer.from([0xf8, 0xff, 0xfe]);
const SILENCE_SAMPLES = 960;

/** Default bound on the silence inserted for one hole: 10 minutes (~120 KB of file); what is longer is cut out. */
export const DEFAULT_MAX_FILL_MS = 10 * 60_000;

/** Audio per page before it is flushed: at most this much is lost with a killed process. */
const PAGE_SAMPLES = 48_000;
/** A page holds at most 255 lacing values; keep room for one more packet of up to ~16 KB. */
const MAX_PAGE_SEGMENTS = 255 - 64;

export interface OggOpusWriterOptions {
  channels?: number;
  preSkip?: number;
  /** Ogg stream serial number; default random. */
  serial?: number;
  vendor?: string;
  maxFillMs?: number;
}

export interface OggOpusStats {
  packets: number;
  /** Silent packets written to fill holes. */
  silencePackets: number;
  /** Samples of a hole left out because it was longer than maxFillMs. */
  samplesCutOut: number;
  pages: number;
  bytes: number;
  /** 48 kHz samples in the file, pre-skip included (the last granule position). */
  granule: number;
}

/**
 * Samples in one Opus packet (RFC 6716 §3.1: the TOC byte's config gives the frame duration, its
 * code the frame count); undefined when the packet is malformed.
 */
export function opusPacketSamples(packet: Uint8Array): number | undefined {
  if (packet.length < 1) return undefined;
  const toc = packet[0]!;
  const config = toc >> 3;
  let frameSamples: number;
  if (config < 12)
    frameSamples = [480, 960, 1920, 2880][config & 3]!; // SILK: 10, 20, 40, 60 ms
  else if (config < 16)
    frameSamples = (config & 1) === 0 ? 480 : 960; // hybrid: 10, 20 ms
  else frameSamples = [120, 240, 480, 960][config & 3]!; // CELT: 2.5, 5, 10, 20 ms
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code === 1 || code === 2) frames = 2;
  else {
    if (packet.length < 2) return undefined;
    frames = packet[1]! & 0x3f;
    if (frames === 0) return undefined;
  }
  const samples = frames * frameSamples;
  return samples > 5760 ? undefined : samples; // at most 120 ms per packet
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

/** RFC 3533's CRC: polynomial 0x04c11db7, initial 0, no reflection, no final xor. */
export function oggCrc32(buf: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < buf.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ buf[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

const HEADER_BOS = 0x02;
const HEADER_EOS = 0x04;

/** One Ogg page of whole packets (RFC 3533 §6), CRC filled in. */
export function oggPage(opts: { serial: number; sequence: number; granule: bigint; flags: number; packets: Uint8Array[] }): Buffer {
  const lacing: number[] = [];
  for (const p of opts.packets) {
    for (let n = p.length; ; n -= 255) {
      if (n < 255) {
        lacing.push(n);
        break;
      }
      lacing.push(255);
    }
  }
  if (lacing.length > 255) throw new Error('Ogg page over 255 segments');
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0, 'latin1');
  header[4] = 0;
  header[5] = opts.flags;
  header.writeBigInt64LE(opts.granule, 6);
  header.writeUInt32LE(opts.serial >>> 0, 14);
  header.writeUInt32LE(opts.sequence >>> 0, 18);
  header[26] = lacing.length;
  header.set(lacing, 27);
  const page = Buffer.concat([header, ...opts.packets]);
  page.writeUInt32LE(oggCrc32(page), 22);
  return page;
}

export function opusHead(channels: number, preSkip: number, inputRate = 48_000): Buffer {
  const b = Buffer.alloc(19);
  b.write('OpusHead', 0, 'latin1');
  b[8] = 1; // version
  b[9] = channels;
  b.writeUInt16LE(preSkip, 10);
  b.writeUInt32LE(inputRate, 12);
  b.writeInt16LE(0, 16); // output gain
  b[18] = 0; // channel mapping family 0: mono or stereo, no mapping table
  return b;
}

export function opusTags(vendor: string): Buffer {
  const v = Buffer.from(vendor, 'utf8');
  const b = Buffer.alloc(8 + 4 + v.length + 4);
  b.write('OpusTags', 0, 'latin1');
  b.writeUInt32LE(v.length, 8);
  v.copy(b, 12);
  b.writeUInt32LE(0, 12 + v.length); // no user comments
  return b;
}

export class OggOpusWriter {
  readonly stats: OggOpusStats = { packets: 0, silencePackets: 0, samplesCutOut: 0, pages: 0, bytes: 0, granule: 0 };
  readonly #sink: FileSink;
  readonly #serial: number;
  readonly #preSkip: number;
  readonly #maxFillSamples: number;
  #sequence = 0;
  /** Packets of the page being built, and their lacing count. */
  #pending: Uint8Array[] = [];
  #pendingSegments = 0;
  #pendingFrom = 0;
  /** Samples written (pre-skip not included) and the RTP timeline position they reach. */
  #samples = 0;
  #firstTs: number | undefined;
  #lastTs = 0;
  /** The RTP timestamp unwrapped to a number that keeps counting past 2^32, relative to the first packet. */
  #extTs = 0;
  #closing: Promise<OggOpusStats> | undefined;

  constructor(path: string, opts: OggOpusWriterOptions = {}) {
    this.#sink = new FileSink(path);
    this.#serial = opts.serial ?? (Math.random() * 0x1_0000_0000) >>> 0;
    this.#preSkip = opts.preSkip ?? DEFAULT_PRE_SKIP;
    this.#maxFillSamples = Math.round(((opts.maxFillMs ?? DEFAULT_MAX_FILL_MS) * 48_000) / 1000);
    // RFC 7845 §3: the identification header alone on the first (BOS) page, the comment header on its own page(s), granule 0.
    try {
      this.#writePage([opusHead(opts.channels ?? 2, this.#preSkip)], HEADER_BOS, 0n);
      this.#writePage([opusTags(opts.vendor ?? 'strata')], 0, 0n);
    } catch (err) {
      this.#sink.abandon();
      throw err;
    }
  }

  get path(): string {
    return this.#sink.path;
  }

  /**
   * One Opus packet with its RTP timestamp, in order. Returns false (nothing written) for a packet
   * that is not Opus.
   */
  write(packet: Uint8Array, rtpTimestamp: number): boolean {
    if (this.#closing) return false;
    const samples = opusPacketSamples(packet);
    if (samples === undefined) return false;
    if (this.#firstTs === undefined) {
      this.#firstTs = rtpTimestamp >>> 0;
      this.#lastTs = this.#firstTs;
    }
    // Signed 32-bit difference from the previous packet: wrap-around at 2^32 is a small step forward.
    this.#extTs += (rtpTimestamp - this.#lastTs) | 0;
    this.#lastTs = rtpTimestamp >>> 0;
    // Fill the hole between what is written and where this packet starts, in whole 20 ms frames
    // (the rest, under 20 ms, is absorbed: the file lags the RTP timeline by less than a frame).
    let hole = this.#extTs - this.#samples;
    if (hole >= SILENCE_SAMPLES) {
      if (hole > this.#maxFillSamples) {
        this.stats.samplesCutOut += hole - this.#maxFillSamples;
        // Later packets are measured against the shifted timeline.
        this.#extTs -= hole - this.#maxFillSamples;
        hole = this.#maxFillSamples;
      }
      for (; hole >= SILENCE_SAMPLES; hole -= SILENCE_SAMPLES) {
        this.#add(OPUS_SILENCE_20MS, SILENCE_SAMPLES);
        this.stats.silencePackets++;
      }
    }
    // A packet starting before the written end (overlap, timestamps going back) is still written: dropping audio is worse than a few ms of drift.
    this.#add(packet, samples);
    this.stats.packets++;
    return true;
  }

  /** Writes the page being built, if any (the owner calls it when a stream goes quiet, so the last second reaches the disk). */
  flush(): void {
    if (this.#pending.length === 0) return;
    this.#writePage(this.#pending, 0, BigInt(this.#preSkip + this.#samples));
  }

  /** Last page with EOS, fsync, close; idempotent, resolves once on disk. */
  close(): Promise<OggOpusStats> {
    this.#closing ??= (async () => {
      // RFC 3533: the last page carries EOS; it may hold no packet, its granule is the stream's end.
      try {
        this.#writePage(this.#pending, HEADER_EOS, BigInt(this.#preSkip + this.#samples));
      } finally {
        await this.#sink.close();
      }
      return { ...this.stats };
    })();
    return this.#closing;
  }

  #add(packet: Uint8Array, samples: number): void {
    const segments = Math.floor(packet.length / 255) + 1;
    if (this.#pendingSegments + segments > MAX_PAGE_SEGMENTS) this.flush();
    if (this.#pending.length === 0) this.#pendingFrom = this.#samples;
    this.#pending.push(packet);
    this.#pendingSegments += segments;
    this.#samples += samples;
    if (this.#samples - this.#pendingFrom >= PAGE_SAMPLES) this.flush();
  }

  #writePage(packets: Uint8Array[], flags: number, granule: bigint): void {
    const page = oggPage({ serial: this.#serial, sequence: this.#sequence++, granule, flags, packets });
    this.#sink.append(page);
    this.#pending = [];
    this.#pendingSegments = 0;
    this.stats.pages++;
    this.stats.bytes = this.#sink.size;
    this.stats.granule = Number(granule);
  }
}
