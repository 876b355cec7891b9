/**
 * VP8 over RTP (RFC 7741) back into frames, as a WebM muxer stores them. Packets come in sequence
 * order from the jitter buffer, which also says when some were lost. A frame missing any packet
 * cannot be decoded, and neither can the inter frames that follow it (they predict from it), so
 * after a loss every frame is dropped until the next key frame, and the owner is asked for one.
 * Nothing at all is emitted before the first key frame.
 */

export interface Vp8Descriptor {
  /** N: a frame no other frame references (a decoder can do without it). */
  nonReference: boolean;
  /** S: this packet starts a VP8 partition. */
  start: boolean;
  partitionId: number;
  pictureId?: number;
  tl0PicIdx?: number;
  temporalLayer?: number;
  layerSync?: boolean;
  keyIdx?: number;
  /** Bytes of descriptor before the VP8 payload. */
  length: number;
}

/** RFC 7741 §4.2; undefined if the descriptor runs past the payload or leaves no VP8 data. */
export function parseVp8Descriptor(payload: Uint8Array): Vp8Descriptor | undefined {
  if (payload.length < 1) return undefined;
  const b0 = payload[0]!;
  const d: Vp8Descriptor = { nonReference: (b0 & 0x20) !== 0, start: (b0 & 0x10) !== 0, partitionId: b0 & 0x0f, length: 1 };
  if (b0 & 0x80) {
    if (payload.length < 2) return undefined;
    const x = payload[1]!;
    let i = 2;
    if (x & 0x80) {
      // I: picture id, 7 bits, or 15 bits when the first bit (M) is set.
      if (i >= payload.length) return undefined;
      if (payload[i]! & 0x80) {
        if (i + 1 >= payload.length) return undefined;
        d.pictureId = ((payload[i]! & 0x7f) << 8) | payload[i + 1]!;
        i += 2;
      } else {
        d.pictureId = payload[i]!;
        i += 1;
      }
    }
    if (x & 0x40) {
      // L: TL0PICIDX.
      if (i >= payload.length) return undefined;
      d.tl0PicIdx = payload[i]!;
      i += 1;
    }
    if (x & 0x30) {
      // T and/or K share one byte: TID(2) Y(1) KEYIDX(5).
      if (i >= payload.length) return undefined;
      const b = payload[i]!;
      if (x & 0x20) {
        d.temporalLayer = b >> 6;
        d.layerSync = (b & 0x20) !== 0;
      }
      if (x & 0x10) d.keyIdx = b & 0x1f;
      i += 1;
    }
    d.length = i;
  }
  if (d.length >= payload.length) return undefined;
  return d;
}

export interface Vp8KeyFrameInfo {
  width: number;
  height: number;
  /** Upscaling the decoder is told to apply (2 bits each); the stored size is the coded one. */
  horizontalScale: number;
  verticalScale: number;
}

/** True when the frame tag (RFC 6386 §9.1) says key frame: bit 0 of the first byte is 0. */
export const isVp8KeyFrame = (frame: Uint8Array): boolean => frame.length >= 3 && (frame[0]! & 1) === 0;

/** RFC 6386 §9.1: after the 3-byte frame tag of a key frame, start code 9d 01 2a, then 14-bit width and height (little-endian, 2 bits scale each). */
export function parseVp8KeyFrame(frame: Uint8Array): Vp8KeyFrameInfo | undefined {
  if (frame.length < 10 || !isVp8KeyFrame(frame)) return undefined;
  if (frame[3] !== 0x9d || frame[4] !== 0x01 || frame[5] !== 0x2a) return undefined;
  const w = frame[6]! | (frame[7]! << 8);
  const h = frame[8]! | (frame[9]! << 8);
  const info = { width: w & 0x3fff, height: h & 0x3fff, horizontalScale: w >> 14, verticalScale: h >> 14 };
  return info.width > 0 && info.height > 0 ? info : undefined;
}

export interface Vp8Frame {
  /** RTP timestamp (90 kHz) of the frame's packets. */
  timestamp: number;
  data: Buffer;
  keyFrame: boolean;
  /** RTP packets it was carried in. */
  packets: number;
  /** Key frames only. */
  width?: number;
  height?: number;
}

export interface Vp8Stats {
  frames: number;
  keyFrames: number;
  /** Frames missing a packet, or malformed. */
  framesBroken: number;
  /** Complete inter frames dropped because the frame they depend on was not written. */
  framesSkipped: number;
  keyFrameRequests: number;
  malformed: number;
}

export interface Vp8DepacketizerOptions {
  /** Called each time a loss makes the stream undecodable until a key frame; the owner rate-limits PLIs. */
  onKeyFrameNeeded?: (reason: 'loss' | 'broken-frame') => void;
  /** Largest frame assembled, bytes; a frame growing past it is dropped (bounded memory). Default 4 MB. */
  maxFrameBytes?: number;
}

interface Assembly {
  timestamp: number;
  parts: Buffer[];
  bytes: number;
  broken: boolean;
}

const assembly = (timestamp: number, broken: boolean): Assembly => ({ timestamp, parts: [], bytes: 0, broken });

export class Vp8Depacketizer {
  readonly stats: Vp8Stats = { frames: 0, keyFrames: 0, framesBroken: 0, framesSkipped: 0, keyFrameRequests: 0, malformed: 0 };
  readonly #onKeyFrameNeeded: (reason: 'loss' | 'broken-frame') => void;
  readonly #maxFrameBytes: number;
  #current: Assembly | undefined;
  #waitingForKeyFrame = true;
  #seenKeyFrame = false;

  constructor(opts: Vp8DepacketizerOptions = {}) {
    this.#onKeyFrameNeeded = opts.onKeyFrameNeeded ?? (() => {});
    this.#maxFrameBytes = opts.maxFrameBytes ?? 4 << 20;
  }

  /** No key frame yet, or frames lost since the last one: inter frames are being dropped. */
  get waitingForKeyFrame(): boolean {
    return this.#waitingForKeyFrame;
  }

  get seenKeyFrame(): boolean {
    return this.#seenKeyFrame;
  }

  /** One packet, in sequence order; returns the frames it completes (zero, one, or two when a timestamp change ends an unmarked frame). */
  push(pkt: { timestamp: number; marker: boolean; payload: Buffer }): Vp8Frame[] {
    const out: Vp8Frame[] = [];
    if (this.#current && this.#current.timestamp !== pkt.timestamp) this.#finish(out);
    const d = parseVp8Descriptor(pkt.payload);
    if (!d) {
      this.stats.malformed++;
      if (this.#current) this.#current.broken = true;
      else this.#current = assembly(pkt.timestamp, true);
    } else {
      if (d.start && d.partitionId === 0) {
        // A new frame; a frame already begun at this timestamp lost its end (or the sender is confused).
        if (this.#current) {
          this.#current.broken = true;
          this.#finish(out);
        }
        this.#current = assembly(pkt.timestamp, false);
      } else if (!this.#current) {
        // The middle of a frame whose first packet was lost.
        this.#current = assembly(pkt.timestamp, true);
      }
      const c = this.#current;
      if (!c.broken) {
        const data = pkt.payload.subarray(d.length);
        c.bytes += data.length;
        if (c.bytes > this.#maxFrameBytes) {
          c.broken = true;
          c.parts = [];
        } else c.parts.push(data);
      }
    }
    if (pkt.marker) this.#finish(out);
    return out;
  }

  /** The jitter buffer gave up on some packets: whatever they held (end of this frame, whole frames) is gone. */
  lost(): void {
    if (this.#current) this.#current.broken = true;
    else this.#needKeyFrame('loss');
  }

  /** At the end of the stream: a frame still open has no marker and no successor; it is written if complete as far as we know. */
  flush(): Vp8Frame[] {
    const out: Vp8Frame[] = [];
    if (this.#current) this.#finish(out);
    return out;
  }

  #finish(out: Vp8Frame[]): void {
    const c = this.#current;
    this.#current = undefined;
    if (!c) return;
    if (c.broken || c.parts.length === 0) {
      this.stats.framesBroken++;
      this.#needKeyFrame('broken-frame');
      return;
    }
    const data = c.parts.length === 1 ? Buffer.from(c.parts[0]!) : Buffer.concat(c.parts, c.bytes);
    if (isVp8KeyFrame(data)) {
      const info = parseVp8KeyFrame(data);
      if (!info) {
        this.stats.framesBroken++;
        this.stats.malformed++;
        this.#needKeyFrame('broken-frame');
        return;
      }
      this.#waitingForKeyFrame = false;
      this.#seenKeyFrame = true;
      this.stats.frames++;
      this.stats.keyFrames++;
      out.push({ timestamp: c.timestamp, data, keyFrame: true, packets: c.parts.length, width: info.width, height: info.height });
      return;
    }
    if (this.#waitingForKeyFrame) {
      this.stats.framesSkipped++;
      return;
    }
    this.stats.frames++;
    out.push({ timestamp: c.timestamp, data, keyFrame: false, packets: c.parts.length });
  }

  #needKeyFrame(reason: 'loss' | 'broken-frame'): void {
    // Before the first key frame there is nothing to repair; the owner's start-up timer asks then.
    if (!this.#seenKeyFrame) return;
    const first = !this.#waitingForKeyFrame;
    this.#waitingForKeyFrame = true;
    if (first) {
      this.stats.keyFrameRequests++;
      this.#onKeyFrameNeeded(reason);
    }
  }
}
