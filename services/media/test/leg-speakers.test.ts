/**
 * One leg's part in the room's speaker ranking: the levels of its own producers, heard by a
 * real mediasoup audio-level observer from RTP sent here, go to the other legs; the other legs'
 * levels come from a channel faked in memory; the ranking of both goes to the gateways.
 */
import { memoryLogger } from '@strata/harness';
import { check, LegLevels, SpeakerRanking } from '@strata/protocol';
import * as mediasoup from 'mediasoup';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { MEDIA_CODECS } from '../src/codecs.js';
import { LegSpeakers, type LegSpeakersOptions, type SpeakerChannel } from '../src/leg-speakers.js';

const AUDIO_LEVEL = 'urn:ietf:params:rtp-hdrext:ssrc-audio-level';
const isAudioLevel = (o: mediasoup.types.RtpObserver): o is mediasoup.types.AudioLevelObserver => o.type === 'audiolevel';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the leg published, and a way to hand it the other legs' levels as the bus would. */
class Channel implements SpeakerChannel {
  readonly levels: LegLevels[] = [];
  readonly rankings: SpeakerRanking[] = [];
  private handler: ((e: LegLevels) => void) | undefined;
  unsubscribed = false;

  publishLevels(e: LegLevels): void {
    assert.ok(check(LegLevels.schema, e).ok, 'a valid leg.levels');
    this.levels.push(e);
  }
  subscribeLevels(on: (e: LegLevels) => void): { unsubscribe(): void } {
    this.handler = on;
    return { unsubscribe: () => void (this.unsubscribed = true) };
  }
  publishRanking(e: SpeakerRanking): void {
    assert.ok(check(SpeakerRanking.schema, e).ok, 'a valid room.ranking');
    this.rankings.push(e);
  }
  deliver(nodeId: string, levels: { peerId: string; volume: number }[]): void {
    this.handler?.({ roomId: 'r', nodeId, levels: levels.map((l) => ({ ...l, producerId: `${l.peerId}-mic` })) });
  }
  get lastRanking(): SpeakerRanking | undefined {
    return this.rankings.at(-1);
  }
}

/** An RTP packet of payload type 100 carrying an RFC 6464 audio level (in -dBov) as extension 1. */
function rtp(seq: number, ssrc: number, level: number): Buffer {
  const b = Buffer.alloc(12 + 8 + 20, 0xab);
  b[0] = 0x90; // version 2, with a header extension
  b[1] = 100;
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE((seq * 960) >>> 0, 4);
  b.writeUInt32BE(ssrc, 8);
  b.writeUInt16BE(0xbede, 12); // one-byte extension headers
  b.writeUInt16BE(1, 14); // one 32-bit word of them
  b[16] = 0x10; // id 1, one byte
  b[17] = 0x80 | level; // voice activity, level
  b[18] = 0;
  b[19] = 0;
  return b;
}

describe('LegSpeakers', () => {
  const { log } = memoryLogger();
  let worker: mediasoup.types.Worker;
  let router: mediasoup.types.Router;
  const opts: LegSpeakersOptions = { k: 2, holdMs: 0, silentAfterMs: 60_000, intervalMs: 250, threshold: -80 };

  before(async () => {
    worker = await mediasoup.createWorker({ logLevel: 'none' });
    router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  });
  after(() => worker.close());

  async function leg(members: Set<string>, options: LegSpeakersOptions = opts) {
    const channel = new Channel();
    const speakers = await LegSpeakers.create(router, 'r', 'n1', channel, options, (p) => members.has(p), log);
    return { channel, speakers };
  }

  it('ranks the other legs’ speakers, loudest first into the top K, and tells the gateways when that changes', async () => {
    const { channel, speakers } = await leg(new Set(['a', 'b', 'c']));
    channel.deliver('n2', [{ peerId: 'a', volume: -30 }]);
    assert.deepEqual(channel.lastRanking, { roomId: 'r', nodeId: 'n1', k: 2, audio: ['a'], order: ['a'] });
    channel.deliver('n3', [
      { peerId: 'b', volume: -10 },
      { peerId: 'c', volume: -20 },
    ]);
    // b and c are both louder than a; with a hold of 0, the loudest two are the top K.
    assert.deepEqual([...(channel.lastRanking?.audio ?? [])].sort(), ['b', 'c']);
    assert.deepEqual(channel.lastRanking?.order.at(-1), 'a', 'a spoke before them');
    const published = channel.rankings.length;
    channel.deliver('n3', [
      { peerId: 'b', volume: -10 },
      { peerId: 'c', volume: -20 },
    ]);
    assert.equal(channel.rankings.length, published, 'the same ranking is not published again');
    assert.deepEqual(speakers.current, { k: 2, audio: channel.lastRanking?.audio, order: channel.lastRanking?.order });
    speakers.close();
  });

  it('ignores its own levels coming back from the bus, and peers who are not members', async () => {
    const { channel, speakers } = await leg(new Set(['a']));
    channel.deliver('n1', [{ peerId: 'a', volume: -10 }]);
    channel.deliver('n2', [{ peerId: 'stranger', volume: -5 }]);
    assert.deepEqual(channel.rankings, []);
    assert.deepEqual(speakers.current.audio, []);
    speakers.close();
  });

  it('when a leg is dropped, its speakers stop counting at once: a quieter speaker takes the place', async () => {
    const { channel, speakers } = await leg(new Set(['loud', 'quiet']), { ...opts, k: 1 });
    channel.deliver('n2', [{ peerId: 'loud', volume: -10 }]);
    channel.deliver('n3', [{ peerId: 'quiet', volume: -40 }]);
    assert.deepEqual(channel.lastRanking?.audio, ['loud'], 'not replaced by a quieter speaker');
    speakers.dropLeg('n2');
    assert.deepEqual(channel.lastRanking?.audio, ['quiet']);
    assert.deepEqual(channel.lastRanking?.order, ['quiet', 'loud']);
    speakers.close();
  });

  it('drops a peer who left from the ranking on its next interval, without any report', async () => {
    const members = new Set(['a', 'b']);
    const { channel, speakers } = await leg(members);
    channel.deliver('n2', [
      { peerId: 'a', volume: -10 },
      { peerId: 'b', volume: -20 },
    ]);
    const published = channel.rankings.length;
    members.delete('a');
    const deadline = Date.now() + 5000;
    while (channel.rankings.length === published && Date.now() < deadline) await sleep(20);
    assert.deepEqual(channel.lastRanking?.audio, ['b']);
    assert.deepEqual(channel.lastRanking?.order, ['b']);
    speakers.close();
  });

  it('publishes nothing once closed, and stops listening to the other legs', async () => {
    const { channel, speakers } = await leg(new Set(['a']));
    speakers.close();
    assert.equal(channel.unsubscribed, true);
    channel.deliver('n2', [{ peerId: 'a', volume: -10 }]);
    speakers.dropLeg('n2');
    assert.deepEqual(channel.rankings, []);
  });

  it('reports its own producers’ levels above the threshold to the other legs, ranks them, and says when it goes silent', { timeout: 30_000 }, async () => {
    const observer = new Promise<mediasoup.types.AudioLevelObserver>((resolve) =>
      router.observer.once('newrtpobserver', (o) => {
        if (isAudioLevel(o)) resolve(o);
      }),
    );
    const { channel, speakers } = await leg(new Set(['me', 'far']));
    const ingest = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
    const rtpParameters = (ssrc: number): mediasoup.types.RtpParameters => ({
      codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }],
      encodings: [{ ssrc }],
      headerExtensions: [{ uri: AUDIO_LEVEL, id: 1 }],
    });
    const mine = await ingest.produce({ kind: 'audio', rtpParameters: rtpParameters(1001), appData: { peerId: 'me' } });
    // Louder, but nobody's: not reported, not ranked.
    const anonymous = await ingest.produce({ kind: 'audio', rtpParameters: rtpParameters(1002) });
    // Under the threshold: never in a report.
    const whisper = await ingest.produce({ kind: 'audio', rtpParameters: rtpParameters(1003), appData: { peerId: 'far' } });
    await speakers.addProducer(mine.id);
    await speakers.addProducer(anonymous.id);
    await speakers.addProducer(whisper.id);
    await speakers.addProducer('no-such-producer'); // logged, not thrown

    const socket = createSocket('udp4');
    const spoken = () => channel.levels.find((e) => e.levels.length > 0);
    try {
      const deadline = Date.now() + 10_000;
      let seq = 1;
      // The observer needs ten packets of a producer in an interval to count it.
      while (!spoken() && Date.now() < deadline) {
        for (let i = 0; i < 10; i++) {
          socket.send(rtp(seq, 1001, 20), ingest.tuple.localPort, '127.0.0.1');
          socket.send(rtp(seq, 1002, 5), ingest.tuple.localPort, '127.0.0.1');
          socket.send(rtp(seq, 1003, 100), ingest.tuple.localPort, '127.0.0.1');
          seq++;
        }
        await sleep(20);
      }
    } finally {
      socket.close();
    }
    // What the leg publishes when its observer next says the leg went silent, now that it spoke.
    const o = await observer;
    const onSilence = new Promise<LegLevels | undefined>((resolve) => o.once('silence', () => resolve(channel.levels.at(-1))));
    assert.deepEqual(spoken(), { roomId: 'r', nodeId: 'n1', levels: [{ peerId: 'me', producerId: mine.id, volume: -20 }] });
    assert.deepEqual(channel.lastRanking?.audio, ['me']);

    assert.deepEqual(await onSilence, { roomId: 'r', nodeId: 'n1', levels: [] }, 'an empty report when the leg goes quiet');
    speakers.close();
    ingest.close();
  });
});
