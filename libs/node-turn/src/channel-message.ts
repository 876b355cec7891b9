// ChannelData messages (RFC 8656 section 12.4). Ported from node-turn 0.0.6 lib/channelMessage.js (MIT, Atlantis Software).
import { CHANNEL_MAX, CHANNEL_MIN } from './constants.js';

export class ChannelMessage {
  constructor(
    readonly channelNumber: number,
    readonly data: Buffer,
  ) {}

  /** A ChannelData message, or undefined when `buf` is not one. Never throws: this runs on every received datagram. */
  static read(buf: Buffer): ChannelMessage | undefined {
    if (buf.length < 4) return undefined;
    const channelNumber = buf.readUInt16BE(0);
    if (channelNumber < CHANNEL_MIN || channelNumber > CHANNEL_MAX) return undefined;
    const length = buf.readUInt16BE(2);
    if (length > buf.length - 4) return undefined;
    // node-turn 0.0.6 refused more than 3 bytes after the data.
    if (buf.length - length - 4 > 3) return undefined;
    return new ChannelMessage(channelNumber, buf.subarray(4, 4 + length));
  }

  /** Padded to 4 bytes, as TCP requires and UDP allows. One buffer, written once: this runs on every packet a peer sends. */
  write(): Buffer {
    const length = this.data.length;
    const padded = (length + 3) & ~3;
    const out = Buffer.allocUnsafe(4 + padded);
    out.writeUInt16BE(this.channelNumber, 0);
    out.writeUInt16BE(length, 2);
    this.data.copy(out, 4);
    out.fill(0, 4 + length);
    return out;
  }
}
