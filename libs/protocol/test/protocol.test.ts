import {
  DtlsParameters,
  GeoRoute,
  Health,
  Heartbeat,
  MAX_JSON_DEPTH,
  PEER_MEDIA_LIMITS,
  PeerMedia,
  RoomPlacement,
  RtpCapabilities,
  RtpParameters,
  SRTP_CRYPTO_SUITES,
  SRTP_KEY_LENGTHS,
  SrtpParameters,
  TurnCredentials,
  check,
  isValidId,
  jsonBoundsProblem,
  roomKey,
  subjects,
  wsMethods,
} from '@strata/protocol';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('ids and subjects', () => {
  it('accepts ids that are safe subject tokens and rejects the rest', () => {
    for (const ok of ['eu-west', 'room_1', 'A', 'x'.repeat(64)]) assert.ok(isValidId(ok), ok);
    for (const bad of ['', 'a.b', 'a*', 'a>', 'a b', 'x'.repeat(65), 'é']) assert.ok(!isValidId(bad), bad);
  });

  it('builds region-first hierarchical subjects', () => {
    assert.equal(subjects.health('eu', 'media', 'm1'), 'strata.eu.svc.media.m1.health');
    assert.equal(subjects.heartbeat('eu', 'turn', 't1'), 'strata.eu.heartbeat.turn.t1');
    assert.equal(subjects.heartbeats('*', 'media'), 'strata.*.heartbeat.media.*');
    assert.equal(subjects.media('eu', 'm1', 'room.open'), 'strata.eu.media.m1.room.open');
    assert.equal(subjects.mediaAll('eu', 'm1'), 'strata.eu.media.m1.>');
    assert.equal(subjects.roomEvents('eu', 'r1'), 'strata.eu.room.r1.events');
    assert.equal(subjects.activeSpeaker('eu', 'r1'), 'strata.eu.room.r1.speaker');
    assert.equal(roomKey('eu', 'r1'), 'eu.r1');
  });

  it('refuses to build a subject from an unsafe id', () => {
    assert.throws(() => subjects.roomEvents('eu', 'a.b'), /invalid room id/);
    assert.throws(() => subjects.health('e*', 'media', 'm1'), /invalid region id/);
    assert.throws(() => subjects.media('eu', 'm1', 'Room.>'), /invalid media op/);
  });
});

describe('message schemas', () => {
  it('validates requests and names the offending path', () => {
    assert.ok(check(Health.request, {}).ok);
    const extra = check(Health.request, { x: 1 });
    assert.ok(!extra.ok);
    const r = check(TurnCredentials.request, { identity: 'a:b', ttlSeconds: 10 });
    assert.ok(!r.ok && r.errors.some((e) => e.startsWith('/identity')) && r.errors.some((e) => e.startsWith('/ttlSeconds')));
    assert.ok(check(GeoRoute.request, { probes: [{ region: 'eu', rttMs: 20 }] }).ok);
    assert.ok(!check(GeoRoute.request, { probes: new Array(33).fill({ region: 'eu', rttMs: 1 }) }).ok, 'bounded arrays');
  });

  it('checks the reply envelope', () => {
    assert.ok(check(TurnCredentials.reply, { ok: false, error: { code: 'FORBIDDEN', message: 'no' } }).ok);
    assert.ok(!check(TurnCredentials.reply, { ok: false, error: { code: 'MADE_UP', message: 'no' } }).ok);
    assert.ok(!check(TurnCredentials.reply, { ok: true, data: { urls: 'x' } }).ok);
  });

  it('lets a room placement name several nodes (cascade) but not none', () => {
    const base = { roomId: 'r', region: 'eu', createdAt: 1 };
    assert.ok(
      check(RoomPlacement, {
        ...base,
        nodes: [
          { nodeId: 'a', region: 'eu', since: 1 },
          { nodeId: 'b', region: 'us', since: 2 },
        ],
      }).ok,
    );
    assert.ok(!check(RoomPlacement, { ...base, nodes: [] }).ok);
  });

  it('rejects heartbeats of unknown service kinds', () => {
    const beat = {
      kind: 'media',
      id: 'm1',
      region: 'eu',
      version: '1',
      startedAt: 1,
      ts: 2,
      intervalMs: 1000,
      endpoints: {},
      load: { score: 0, cpu: 0, rssBytes: 1, details: {} },
      draining: false,
    };
    assert.ok(check(Heartbeat.schema, beat).ok);
    assert.ok(!check(Heartbeat.schema, { ...beat, kind: 'database' }).ok);
  });
});

describe('bounds on untrusted input', () => {
  const nest = (depth: number): unknown => {
    let v: unknown = 0;
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { k: v }; // `depth` arrays and objects, one in the other
    return v;
  };

  it('measures depth and size without recursing', () => {
    assert.equal(jsonBoundsProblem(nest(MAX_JSON_DEPTH)), undefined);
    assert.match(jsonBoundsProblem(nest(MAX_JSON_DEPTH + 1)) ?? '', /nested deeper than 32/);
    assert.match(jsonBoundsProblem(nest(1_000_000)) ?? '', /nested deeper/, 'a million levels: no stack overflow');
    assert.match(jsonBoundsProblem(new Array(30_000).fill(0)) ?? '', /more than 20000 values/);
    assert.equal(jsonBoundsProblem({ a: [1, 'x', null, { b: true }] }), undefined);
  });

  // What Chromium sends through mediasoup-client for Opus, trimmed: it must stay valid.
  const opus = {
    codecs: [
      {
        mimeType: 'audio/opus',
        payloadType: 111,
        clockRate: 48000,
        channels: 2,
        parameters: { minptime: 10, useinbandfec: 1, 'sprop-stereo': 1 },
        rtcpFeedback: [{ type: 'transport-cc', parameter: '' }],
      },
    ],
    headerExtensions: [
      { uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', id: 4, encrypt: false, parameters: {} },
      { uri: 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01', id: 3, encrypt: false, parameters: {} },
    ],
    encodings: [{ ssrc: 3_000_000_000, dtx: false, active: true, maxBitrate: 64000 }],
    rtcp: { cname: 'Gtp/zdA+iQNM3QC8', reducedSize: true, mux: true },
    mid: '0',
  };
  const withEncoding = (e: object) => ({ ...opus, encodings: [e] });
  const withCodec = (c: object) => ({ ...opus, codecs: [{ ...opus.codecs[0], ...c }] });

  it('accepts real RTP parameters and refuses out-of-range ones, naming the field', () => {
    assert.ok(check(RtpParameters, opus).ok);
    assert.ok(check(RtpParameters, withEncoding({ rid: 'r0', scalabilityMode: 'L1T3', rtx: { ssrc: 1 } })).ok);
    const refused: [object, RegExp][] = [
      [withEncoding({ ssrc: -1 }), /\/encodings\/0\/ssrc/],
      [withEncoding({ ssrc: 2 ** 40 }), /\/encodings\/0\/ssrc/],
      [withEncoding({ ssrc: 1.5 }), /\/encodings\/0\/ssrc/],
      [withEncoding({ rid: 'r'.repeat(100) }), /\/encodings\/0\/rid/],
      [withEncoding({ rid: 'a b' }), /\/encodings\/0\/rid/],
      [withEncoding({ rtx: { ssrc: 1, extra: { deep: 1 } } }), /\/encodings\/0\/rtx/],
      [withCodec({ payloadType: 128 }), /\/codecs\/0\/payloadType/],
      [withCodec({ clockRate: 0 }), /\/codecs\/0\/clockRate/],
      [withCodec({ channels: 1000 }), /\/codecs\/0\/channels/],
      [withCodec({ mimeType: 'text/plain' }), /\/codecs\/0\/mimeType/],
      [withCodec({ parameters: { 'x-evil': 'a\r\na=candidate' } }), /\/codecs\/0\/parameters\/x-evil/],
      [withCodec({ parameters: { 'bad key': 1 } }), /\/codecs\/0\/parameters/],
      [
        JSON.parse('{"codecs":[{"mimeType":"audio/opus","payloadType":111,"clockRate":48000,"parameters":{"__proto__":1}}]}') as object,
        /\/codecs\/0\/parameters/,
      ],
      [withCodec({ nested: { a: [1] } }), /\/codecs\/0\/nested: expected a string/],
      [{ ...opus, headerExtensions: [{ uri: 'urn:x', id: 0 }] }, /\/headerExtensions\/0\/id/],
      [{ ...opus, headerExtensions: [{ uri: 'urn:x', id: 256 }] }, /\/headerExtensions\/0\/id/],
      [{ ...opus, rtcp: { cname: 'two words' } }, /\/rtcp\/cname/],
      [{ ...opus, mid: 'm'.repeat(17) }, /\/mid/],
      [{ ...opus, codecs: [] }, /\/codecs/],
      [{ ...opus, extra: 1 }, /\/extra/],
    ];
    for (const [value, path] of refused) {
      const r = check(RtpParameters, value);
      assert.equal(r.ok, false, JSON.stringify(value));
      if (!r.ok) assert.match(r.errors.join('; '), path);
    }
  });

  it('refuses capabilities with payload types past 127 and header extension ids out of range', () => {
    const cap = { kind: 'audio', mimeType: 'audio/opus', preferredPayloadType: 100, clockRate: 48000, channels: 2 };
    assert.ok(check(RtpCapabilities, { codecs: [cap], headerExtensions: [{ kind: 'audio', uri: 'urn:ietf:params:rtp-hdrext:sdes:mid', preferredId: 1 }] }).ok);
    assert.equal(check(RtpCapabilities, { codecs: [{ ...cap, preferredPayloadType: 1e9 }] }).ok, false);
    assert.equal(check(RtpCapabilities, { headerExtensions: [{ kind: 'audio', uri: 'urn:x', preferredId: -3 }] }).ok, false);
  });

  it('says what a union expected instead of "Expected union value"', () => {
    const r = check(wsMethods.createWebRtcTransport.request, { direction: 'sideways' });
    assert.deepEqual(r.ok ? [] : r.errors, ['/direction: expected send or recv']);
  });

  it('accepts RFC 8122 fingerprints of the right length only', () => {
    const hex = (bytes: number, c = 'aB') => Array.from({ length: bytes }, () => c).join(':');
    assert.ok(check(DtlsParameters, { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: hex(32) }] }).ok);
    assert.ok(check(DtlsParameters, { fingerprints: [{ algorithm: 'sha-1', value: hex(20, 'F0') }] }).ok);
    for (const fp of [
      { algorithm: 'sha-256', value: 'zz:zz:zz' },
      { algorithm: 'sha-256', value: hex(20) },
      { algorithm: 'md5', value: hex(16) },
      { algorithm: 'sha-256', value: hex(32), extra: { deep: 1 } },
    ]) {
      const r = check(DtlsParameters, { role: 'client', fingerprints: [fp] });
      assert.equal(r.ok, false, JSON.stringify(fp));
      if (!r.ok) assert.match(r.errors[0]!, /\/fingerprints\/0: expected .*RFC 8122/);
    }
  });

  it("bounds a peer's media by PEER_MEDIA_LIMITS, the gateway's per-peer limits: at them it fits, one more does not", () => {
    const at = {
      transports: Array.from({ length: PEER_MEDIA_LIMITS.transports }, (_, i) => ({ transportId: `t${i}`, direction: 'recv' })),
      producers: Array.from({ length: PEER_MEDIA_LIMITS.producers }, (_, i) => ({ producerId: `p${i}`, kind: 'audio', paused: false })),
      consumers: Array.from({ length: PEER_MEDIA_LIMITS.consumers }, (_, i) => ({ consumerId: `c${i}`, producerId: 'p' })),
    };
    assert.ok(check(PeerMedia, at).ok);
    for (const key of ['transports', 'producers', 'consumers'] as const) {
      const over = { ...at, [key]: [...at[key], at[key][0]] };
      const r = check(PeerMedia, over);
      assert.equal(r.ok, false, key);
      if (!r.ok) assert.match(r.errors[0]!, new RegExp(`/${key}: .*${PEER_MEDIA_LIMITS[key]}`));
    }
  });

  it("accepts SRTP keys of exactly their suite's length, in canonical Base64", () => {
    const key = (bytes: number, fill = 0xa5) => Buffer.alloc(bytes, fill).toString('base64');
    for (const suite of SRTP_CRYPTO_SUITES) {
      const n = SRTP_KEY_LENGTHS[suite];
      for (const fill of [0x00, 0xa5, 0xff]) assert.ok(check(SrtpParameters, { cryptoSuite: suite, keyBase64: key(n, fill) }).ok, `${suite} ${fill}`);
      for (const bad of [key(n - 1), key(n + 1), key(n).slice(0, -1), `${key(n)}=`, key(n).replace(/^./, '-'), '']) {
        const r = check(SrtpParameters, { cryptoSuite: suite, keyBase64: bad });
        assert.equal(r.ok, false, `${suite} ${bad}`);
        if (!r.ok) assert.match(r.errors[0]!, new RegExp(`expected .*${n} bytes for ${suite}`));
      }
    }
    // Padding bits must be zero: "QQ==" and "QR==" decode alike, only the first is canonical.
    const n = SRTP_KEY_LENGTHS.AEAD_AES_128_GCM;
    const canonical = key(n, 0x41);
    assert.ok(check(SrtpParameters, { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: canonical }).ok);
    assert.equal(check(SrtpParameters, { cryptoSuite: 'AEAD_AES_128_GCM', keyBase64: canonical.replace(/Q==$/, 'R==') }).ok, false);
    assert.equal(check(SrtpParameters, { cryptoSuite: 'AES_CM_128_HMAC_SHA1_80', keyBase64: key(30), extra: 1 }).ok, false);
  });
});
