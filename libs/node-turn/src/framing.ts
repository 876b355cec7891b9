// TURN over a byte stream (TCP or TLS, RFC 8656 section 3.1). Not in node-turn 0.0.6, which was UDP only.
// A stream has no datagram boundaries, so each message is delimited by its own length: a STUN message is
// its 20-byte header plus the header's length (a multiple of 4), a ChannelData message its 4-byte header
// plus the data padded to a multiple of 4 (RFC 8656 section 12.5: the padding is mandatory over TCP).
import { CHANNEL_MAX, MAGIC_COOKIE } from './constants.js';

/** The largest frame: a STUN header and 65535 bytes of attributes (ChannelData is smaller). */
export const MAX_FRAME = 20 + 0xffff;

/**
 * The length of the frame at the start of `buf`: undefined while too few bytes have come to tell,
 * 'invalid' when these bytes cannot begin a STUN or ChannelData message, after which the stream
 * cannot be resynchronised.
 */
export function frameLength(buf: Buffer, offset = 0): number | 'invalid' | undefined {
  const available = buf.length - offset;
  if (available < 4) return undefined;
  const first = buf.readUInt16BE(offset);
  const length = buf.readUInt16BE(offset + 2);
  switch (first >> 14) {
    case 0: {
      // STUN: the length excludes the header and is a multiple of 4 (RFC 8489 section 5).
      if (length % 4 !== 0) return 'invalid';
      if (available < 8) return undefined;
      if (buf.readUInt32BE(offset + 4) !== MAGIC_COOKIE) return 'invalid';
      return 20 + length;
    }
    case 1:
      // 0x7FFF and the rest of 0x4000-0x7FFF above CHANNEL_MAX are never a channel.
      if (first > CHANNEL_MAX) return 'invalid';
      return 4 + length + (length % 4 ? 4 - (length % 4) : 0);
    default:
      // 10 and 11 are neither (RFC 8656 section 12: reserved).
      return 'invalid';
  }
}

/**
 * Cuts a stream into frames: whatever the reads, each frame comes out whole, once, in order. Holds at
 * most one unfinished frame (< MAX_FRAME bytes), so a client cannot make it buffer without bound.
 */
export class FrameReader {
  private pending: Buffer | undefined;

  /** The frames completed by `chunk`, or 'invalid' when the stream holds something that is no frame. */
  push(chunk: Buffer): Buffer[] | 'invalid' {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    const frames: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const length = frameLength(buf, offset);
      if (length === 'invalid') return 'invalid';
      if (length === undefined || offset + length > buf.length) break;
      frames.push(buf.subarray(offset, offset + length));
      offset += length;
    }
    // A copy, so the remainder does not keep a large read's buffer alive.
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
    return frames;
  }

  /** Bytes received of a frame not yet complete. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}
