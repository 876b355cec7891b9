// RTP/RTCP parsing as the recorder's UDP port sees it: well-formed packets with CSRCs, header
// extensions and padding, and bytes that are not RTP (which must give undefined, never throw).
import { rtpPacket } from '@strata/harness';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { buildEmptyReceiverReport, buildPli, isPli, isRtcp, parseRtcpHeaders, parseRtp } from '../src/rtp.js';

describe('recorder rtp: parse', () => {
  it('reads the header fields and the payload of a plain packet', () => {
    const payload = Buffer.from([1, 2, 3, 4, 5]);
    const p = parseRtp(rtpPacket({ pt: 111, seq: 65535, ts: 0xfffffff0, ssrc: 0xdeadbeef, payload, marker: true }));
    assert.ok(p, 'parsed');
    assert.equal(p.payloadType, 111);
    assert.equal(p.sequenceNumber, 65535);
    assert.equal(p.timestamp, 0xfffffff0);
    assert.equal(p.ssrc, 0xdeadbeef);
    assert.equal(p.marker, true);
    assert.deepEqual([...p.payload], [...payload]);
  });

  it('skips CSRCs and a header extension, and strips padding', () => {
    const header = Buffer.alloc(12);
    header[0] = 0x80 | 0x20 | 0x10 | 2; // V=2, P, X, CC=2
    header[1] = 96;
    header.writeUInt16BE(7, 2);
    header.writeUInt32BE(1000, 4);
    header.writeUInt32BE(42, 8);
    const csrcs = Buffer.alloc(8, 0xaa);
    const ext = Buffer.from([0xbe, 0xde, 0x00, 0x02, 0x10, 0xff, 0, 0, 0x22, 1, 2, 3]);
    const payload = Buffer.from('hello');
    const padding = Buffer.from([0, 0, 3]);
    const p = parseRtp(Buffer.concat([header, csrcs, ext, payload, padding]));
    assert.ok(p, 'parsed');
    assert.equal(p.csrcCount, 2);
    assert.equal(p.payload.toString(), 'hello');
    assert.equal(p.marker, false);
  });

  it('gives undefined for malformed packets', () => {
    const good = rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 1, payload: Buffer.from([9]) });
    const cases: [string, Buffer][] = [
      ['empty', Buffer.alloc(0)],
      ['shorter than a header', good.subarray(0, 11)],
      ['version 1', Buffer.from([0x40, ...good.subarray(1)])],
      ['CSRC count past the end', Buffer.from([0x8f, ...good.subarray(1)])],
      ['extension header cut', Buffer.concat([Buffer.from([0x90]), good.subarray(1, 12), Buffer.from([0xbe, 0xde])])],
      ['extension length past the end', Buffer.concat([Buffer.from([0x90]), good.subarray(1, 12), Buffer.from([0xbe, 0xde, 0, 9, 1, 2, 3, 4])])],
      ['padding count zero', Buffer.concat([Buffer.from([0xa0]), good.subarray(1), Buffer.from([0])])],
      ['padding longer than the packet', Buffer.concat([Buffer.from([0xa0]), good.subarray(1), Buffer.from([200])])],
    ];
    for (const [what, buf] of cases) assert.equal(parseRtp(buf), undefined, what);
  });

  it('never throws on random bytes', () => {
    for (let i = 0; i < 5000; i++) {
      const b = randomBytes(i % 64);
      assert.doesNotThrow(() => {
        parseRtp(b);
        parseRtcpHeaders(b);
        isRtcp(b);
      });
    }
  });
});

describe('recorder rtp: RTCP', () => {
  it('tells RTCP from RTP on a muxed port by the second byte', () => {
    assert.equal(isRtcp(buildPli(1, 2)), true);
    assert.equal(isRtcp(buildEmptyReceiverReport(1)), true);
    assert.equal(isRtcp(rtpPacket({ pt: 111, seq: 1, ts: 1, ssrc: 1, payload: Buffer.alloc(10) })), false);
    // Marker set on PT 96 is 0xe0 = 224: just outside the RTCP range.
    assert.equal(isRtcp(rtpPacket({ pt: 96, seq: 1, ts: 1, ssrc: 1, payload: Buffer.alloc(10), marker: true })), false);
  });

  it('builds a PLI (PT 206, FMT 1, length 2) that parses back with both SSRCs, also inside a compound packet', () => {
    const pli = buildPli(0x11111111, 0x22222222);
    assert.deepEqual([...pli.subarray(0, 4)], [0x81, 206, 0, 2]);
    const hs = parseRtcpHeaders(Buffer.concat([buildEmptyReceiverReport(0x11111111), pli]));
    assert.equal(hs.length, 2);
    assert.equal(hs[0]!.packetType, 201);
    assert.ok(isPli(hs[1]!), 'second packet is a PLI');
    assert.equal(hs[1]!.senderSsrc, 0x11111111);
    assert.equal(hs[1]!.mediaSsrc, 0x22222222);
  });
});
