/**
 * RTP and RTCP on one socket (rtcp-mux, RFC 5761): what the recorder needs to read media packets
 * from a mediasoup PlainTransport and to answer with key-frame requests. Parsing never throws:
 * a recorder port is reachable by anything on the network, so bad bytes are counted, not fatal.
 */

export interface RtpPacket {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  csrcCount: number;
  /** The media payload, a view into the datagram (padding and header extension removed). */
  payload: Buffer;
}

/**
 * RFC 5761 §4: with rtcp-mux, the second byte of RTCP is its packet type 192–223 (SR 200, RR 201,
 * SDES 202, BYE 203, RTPFB 205, PSFB 206…), which as an RTP byte would be marker + PT 64–95, payload
 * types no one may use for media on a muxed port.
 */
export function isRtcp(buf: Uint8Array): boolean {
  return buf.length >= 8 && buf[0]! >> 6 === 2 && buf[1]! >= 192 && buf[1]! <= 223;
}

/** RFC 3550 §5.1; undefined for anything that is not a well-formed version-2 RTP packet. */
export function parseRtp(buf: Buffer): RtpPacket | undefined {
  if (buf.length < 12) return undefined;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== 2) return undefined;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const csrcCount = b0 & 0x0f;
  let offset = 12 + 4 * csrcCount;
  if (offset > buf.length) return undefined;
  if (extension) {
    // RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words, then the words. We skip it:
    // nothing the recorder writes depends on an extension.
    if (offset + 4 > buf.length) return undefined;
    offset += 4 + 4 * buf.readUInt16BE(offset + 2);
    if (offset > buf.length) return undefined;
  }
  let end = buf.length;
  if (padding) {
    // The last byte counts the padding bytes, itself included; zero or more than there is is malformed.
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || offset + pad > end) return undefined;
    end -= pad;
  }
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    csrcCount,
    payload: buf.subarray(offset, end),
  };
}

export interface RtcpHeader {
  packetType: number;
  /** Reception report count, or FMT for feedback messages (RFC 4585 §6.1). */
  count: number;
  senderSsrc: number;
  /** Feedback messages only: the SSRC the feedback is about. */
  mediaSsrc?: number;
}

/** The packets of a compound RTCP datagram (headers only); stops at the first malformed one. */
export function parseRtcpHeaders(buf: Buffer): RtcpHeader[] {
  const out: RtcpHeader[] = [];
  let offset = 0;
  while (offset + 8 <= buf.length) {
    const b0 = buf[offset]!;
    if (b0 >> 6 !== 2) break;
    const len = 4 * (buf.readUInt16BE(offset + 2) + 1);
    if (offset + len > buf.length) break;
    const packetType = buf[offset + 1]!;
    const h: RtcpHeader = { packetType, count: b0 & 0x1f, senderSsrc: buf.readUInt32BE(offset + 4) };
    if ((packetType === RTCP_RTPFB || packetType === RTCP_PSFB) && len >= 12) h.mediaSsrc = buf.readUInt32BE(offset + 8);
    out.push(h);
    offset += len;
  }
  return out;
}

export const RTCP_RR = 201;
export const RTCP_RTPFB = 205;
export const RTCP_PSFB = 206;
export const PSFB_PLI = 1;

export const isPli = (h: RtcpHeader): boolean => h.packetType === RTCP_PSFB && h.count === PSFB_PLI;

/** RFC 4585 §6.3.1: Picture Loss Indication, a payload-specific feedback message with no FCI. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0x80 | PSFB_PLI;
  b[1] = RTCP_PSFB;
  b.writeUInt16BE(2, 2); // length in 32-bit words minus one
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  b.writeUInt32BE(mediaSsrc >>> 0, 8);
  return b;
}

/**
 * RFC 3550 §6.4.2: a Receiver Report with no report block. RFC 4585 feedback is meant to travel in a
 * compound packet that starts with an SR or RR; mediasoup accepts a bare PLI, but a strict sender may not.
 */
export function buildEmptyReceiverReport(senderSsrc: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = 0x80;
  b[1] = RTCP_RR;
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(senderSsrc >>> 0, 4);
  return b;
}
