/**
 * Recording, end to end: a real region (gateway, two media nodes holding one room as two
 * legs, three recorders in a pool) and werift peers publishing real Opus (a 440 Hz tone) and
 * VP8 (a test pattern) encoded by ffmpeg. What the recorders wrote is judged by ffprobe and
 * ffmpeg, as a user would: codecs, durations against the wall clock, the tone's level, decoded
 * frames; a paused producer and one that leaves. Finished files go to an S3-protocol server
 * (s3rver). Then the pool: SIGTERM on the holder hands the recording over with playable files,
 * kill -9 on the next one loses nothing recorded before it, and the recording goes on. Last, the
 * media node it records from is killed: the peers move to the other node and the recording goes
 * on from there as its next segment.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { audioRms, decodeErrors, probe, spawnService, startS3rver, untilHealthy, waitFor, type RunningS3rver, type ServiceProcess } from '@strata/harness';
import { PeerRecord, buckets, peerKey, type Recording, type RecordedTrack, type StrataError } from '@strata/protocol';
import { NodePeer } from '../helpers/node-peer.js';
import { startRegion, type Region } from '../helpers/region.js';

const ROOM = 'recorded';
const ADMIN = 'admin-secret-for-tests';

describe('recording (real region, three recorders, peers on two legs publishing encoded media)', () => {
  let region: Region;
  let dir: string;
  let alice: NodePeer;
  let bob: NodePeer;
  let bot: NodePeer;
  const extra: ServiceProcess[] = [];
  let s3: RunningS3rver;
  const env = () => ({
    RECORDER_S3_ENDPOINT: s3.endpoint,
    RECORDER_S3_BUCKET: s3.bucket,
    RECORDER_S3_ACCESS_KEY_ID: s3.accessKeyId,
    RECORDER_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    RECORDER_S3_PREFIX: 'rec/',
    RECORDER_DIR: dir,
    RECORDER_LEASE: '1500ms',
    RECORDER_ROSTER_POLL: '500ms',
    SIGNALING_ADMIN_SECRET: ADMIN,
    SIGNALING_TURN: 'false',
    // Alice and the bot on one leg, Bob on the other media node.
    SIGNALING_ROOM_LEG_SIZE: '2',
  });

  const admin = async (
    method: 'GET' | 'POST',
    path: string,
    secret = ADMIN,
  ): Promise<{ status: number; body: { error?: { code: string; message: string } } & Partial<Recording> }> => {
    const res = await fetch(`${region.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${secret}` } });
    return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } & Partial<Recording> };
  };
  const files = (r: Recording, pred: (t: RecordedTrack) => boolean) => r.tracks.filter(pred).map((t) => ({ t, path: join(dir, r.recordingId, t.file) }));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-recordings-'));
    s3 = await startS3rver();
    region = await startRegion({ region: 'rec', services: ['signaling', 'media', 'recorder'], mediaNodes: 2, recorders: 2, env: env() });
    const token = (identity: string, grants?: { record?: boolean; publish?: boolean }) =>
      region.mintToken({ room: ROOM, identity, ...(grants ? { grants } : {}) });
    alice = await NodePeer.join({ wsUrl: region.wsUrl, token: await token('alice'), name: 'alice', media: 'encoded' });
    bot = await NodePeer.join({
      wsUrl: region.wsUrl,
      token: await token('bot', { record: true, publish: false }),
      name: 'bot',
      publish: { audio: false, video: false },
    });
  });

  after(async () => {
    for (const p of [alice, bob, bot]) await p?.leave().catch(() => undefined);
    for (const p of extra) await p.stop(5000).catch(() => undefined);
    await region?.stop();
    await s3?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses what it must: no grant, unknown room, bad or missing admin secret', async () => {
    await assert.rejects(alice.signaling.request('startRecording', {}), (e: StrataError) => e.code === 'FORBIDDEN' && /record/.test(e.message));
    await assert.rejects(alice.signaling.request('listRecordings', {}), (e: StrataError) => e.code === 'FORBIDDEN');
    const unknown = await admin('POST', '/api/rooms/no-such-room/recordings');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error?.code, 'NOT_FOUND');
    assert.match(unknown.body.error?.message ?? '', /room no-such-room is not open/);
    const wrong = await admin('POST', `/api/rooms/${ROOM}/recordings`, 'not-the-secret');
    assert.equal(wrong.status, 401);
    const bad = await admin('GET', '/api/recordings/not.an.id');
    assert.equal(bad.status, 400);
    assert.equal((await admin('GET', '/api/recordings/RC_nope')).status, 404);
  });

  let recordingId = '';
  let startedAt = 0;

  it('records every track into files ffprobe reads: the tone is not silent, the video decodes, a late producer on another leg gets its offset, a pause and a leave are in the manifest, the files reach the bucket', async () => {
    const started = await bot.signaling.request('startRecording', {});
    startedAt = Date.now();
    recordingId = started.recordingId;
    assert.equal(started.status, 'recording');
    assert.deepEqual(started.tracks.map((t) => `${t.identity}:${t.kind}`).sort(), ['alice:audio', 'alice:video']);
    await assert.rejects(bot.signaling.request('startRecording', {}), (e: StrataError) => e.code === 'CONFLICT');

    // Alice mutes her microphone for a while.
    const aliceAudio = [...alice.room.producers.values()].find((p) => p.producer.kind === 'audio')?.producer.id as string;
    await new Promise((r) => setTimeout(r, 700));
    await alice.room.pauseProducer(aliceAudio);
    await new Promise((r) => setTimeout(r, 1500));
    await alice.room.resumeProducer(aliceAudio);
    await new Promise((r) => setTimeout(r, 300));
    // Bob joins later, and (legs of one) on the other media node: his audio reaches the recorder through the cascade.
    bob = await NodePeer.join({
      wsUrl: region.wsUrl,
      token: await region.mintToken({ room: ROOM, identity: 'bob' }),
      name: 'bob',
      media: 'encoded',
      publish: { audio: true, video: false },
    });
    const bobJoinedAt = Date.now() - startedAt;
    const withBob = await waitFor('bob recorded', async () => {
      const { recordings } = await bot.signaling.request('listRecordings', {});
      const r = recordings.find((x) => x.recordingId === recordingId);
      return r?.tracks.find((t) => t.identity === 'bob' && t.startOffsetMs !== undefined) ? r : undefined;
    });
    const peers = await region.bus.kv(buckets.peers, PeerRecord);
    const bobNode = (await peers.get(peerKey(region.region, ROOM, bob.peerId)))?.value.nodeId;
    assert.ok(bobNode && bobNode !== withBob.segments[0]?.nodeId, `bob on ${bobNode}, recorded from ${withBob.segments[0]?.nodeId}: another leg`);
    const bobTrack = withBob.tracks.find((t) => t.identity === 'bob');
    assert.ok(
      bobTrack && bobTrack.startOffsetMs! >= 2000 && bobTrack.startOffsetMs! <= bobJoinedAt + 3000,
      `bob's offset ${bobTrack?.startOffsetMs} (joined at ${bobJoinedAt})`,
    );

    // Bob leaves before the stop: his track ends there, complete.
    await new Promise((r) => setTimeout(r, 2500));
    await bob.leave();
    const bobLeftAt = Date.now() - startedAt;
    await new Promise((r) => setTimeout(r, 1500));
    const stopped = await bot.signaling.request('stopRecording', { recordingId });
    const wallS = (Date.now() - startedAt) / 1000;
    assert.equal(stopped.status, 'done');
    assert.ok(
      stopped.tracks.every((t) => t.final),
      JSON.stringify(stopped.tracks),
    );
    await assert.rejects(bot.signaling.request('stopRecording', { recordingId }), (e: StrataError) => e.code === 'CONFLICT' && /already done/.test(e.message));

    // The manifest next to the files is the record.
    const manifest = JSON.parse(readFileSync(join(dir, recordingId, 'manifest.json'), 'utf8')) as Recording;
    assert.equal(manifest.status, 'done');
    assert.equal(manifest.tracks.length, 3);
    const aliceTrack = stopped.tracks.find((t) => t.producerId === aliceAudio);
    assert.equal(aliceTrack?.pauses.length, 1, JSON.stringify(aliceTrack?.pauses));
    const pause = aliceTrack!.pauses[0]!;
    assert.ok(pause.toMs - pause.fromMs >= 1000 && pause.toMs - pause.fromMs <= 2500, `pause ${JSON.stringify(pause)}`);
    const bobEnd = stopped.tracks.find((t) => t.identity === 'bob')?.endOffsetMs ?? 0;
    assert.ok(bobEnd <= bobLeftAt + 500 && bobEnd >= bobLeftAt - 1500, `bob's track ends at ${bobEnd} ms, he left at ${bobLeftAt}`);

    for (const { t, path } of files(stopped, () => true)) {
      assert.ok(existsSync(path), path);
      const p = await probe(path);
      const s = p.streams[0];
      const duration = Number(p.format.duration ?? s?.duration);
      // The wall time a track recorded: from its first packet to its last (to the stop, for Alice's).
      const expected = ((t.endOffsetMs ?? 0) - (t.startOffsetMs ?? 0)) / 1000;
      const where = `${t.file}: ${duration} s (start ${p.format['start_time'] as string}) against ${expected} s recorded (${t.startOffsetMs}..${t.endOffsetMs} ms)`;
      assert.ok(Math.abs(duration - expected) <= 0.1 * expected, where);
      // Alice's tracks span the recording: audio from its start, video from the first key frame
      // (mediasoup forwards video from one; ffmpeg's encoder ignores PLI, so it comes with the GOP, ≤ 1 s).
      if (t.identity === 'alice') {
        assert.ok((t.startOffsetMs ?? Infinity) <= (t.kind === 'audio' ? 500 : 1500), `${where}: starts late`);
        assert.ok((t.endOffsetMs ?? 0) >= wallS * 1000 - 1000, `${where}: ends early, the recording lasted ${wallS} s`);
      }
      assert.equal((await decodeErrors(path)).code, 0, `${t.file} decodes`);
      if (t.kind === 'audio') {
        assert.equal(s?.codec_name, 'opus', t.file);
        const rms = await audioRms(path);
        assert.ok(rms > -35, `${t.file}: RMS ${rms} dB (a tone, not silence)`);
      } else {
        assert.equal(s?.codec_name, 'vp8', t.file);
        assert.equal(s?.width, 320);
        const frames = Number(s?.nb_read_frames);
        assert.ok(frames >= 0.8 * 25 * expected, `${t.file}: ${frames} frames decoded in ${expected} s`);
      }
    }

    // Every file and the manifest in the bucket, and the record saying so.
    const uploaded = await waitFor('uploads confirmed', async () => {
      const r = await bot.signaling.request('listRecordings', {});
      const rec = r.recordings.find((x) => x.recordingId === recordingId);
      return rec?.tracks.every((t) => t.uploaded) ? rec : undefined;
    });
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const listed = await waitFor('manifest in the bucket', async () => {
      const out = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `rec/${recordingId}/` }));
      const keys = (out.Contents ?? []).map((o) => o.Key ?? '');
      return keys.includes(`rec/${recordingId}/manifest.json`) ? keys : undefined;
    });
    for (const t of uploaded.tracks) {
      assert.equal(t.uploaded?.key, `rec/${recordingId}/${t.file}`);
      assert.ok(listed.includes(t.uploaded.key), `${t.uploaded.key} in ${listed.join(', ')}`);
    }
    client.destroy();
    // The local copy stays (RECORDER_S3_DELETE_LOCAL is off).
    for (const { path } of files(uploaded, () => true)) assert.ok(existsSync(path), path);
  });

  it('SIGTERM on the holder leaves playable files and another recorder goes on; kill -9 on that one loses nothing recorded before it', async () => {
    const res = await admin('POST', `/api/rooms/${ROOM}/recordings`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const id = res.body.recordingId as string;
    const holder = (id: string | undefined) => [...region.processes, ...extra].find((p) => p.kind === 'recorder' && p.name === id);
    // A third recorder, so that two remain for the kill -9.
    const third = spawnService('recorder', {
      NATS_URL: region.natsUrl,
      STRATA_REGION: region.region,
      HTTP_PORT: '0',
      HEARTBEAT_INTERVAL: '500ms',
      ...env(),
      STRATA_NODE_ID: 'recorder-3',
    });
    extra.push(third);
    await untilHealthy(region.bus, third, region.region, 'recorder-3');

    await new Promise((r) => setTimeout(r, 2500));
    const first = holder(res.body.recorderId);
    assert.ok(first, `holder ${res.body.recorderId}`);
    await first.stop(10_000);
    const handed = await waitFor('handed over', async () => {
      const r = (await admin('GET', `/api/recordings/${id}`)).body as Recording;
      return r.segments.length >= 2 && r.tracks.some((t) => t.segment === 2 && t.startOffsetMs !== undefined) ? r : undefined;
    });
    assert.equal(handed.segments[0]?.end, 'handover');
    for (const { t, path } of files(handed, (t) => t.segment === 1)) {
      assert.ok(t.final, `${t.file} finalized on SIGTERM`);
      assert.equal((await decodeErrors(path)).code, 0, `${t.file} playable`);
      const d = Number((await probe(path)).format.duration);
      assert.ok(d >= 2, `${t.file}: ${d} s kept`);
    }

    await new Promise((r) => setTimeout(r, 2500));
    const second = holder(handed.recorderId);
    assert.ok(second, `holder ${handed.recorderId}`);
    const killedAt = Date.now();
    await second.kill9();
    const taken = await waitFor(
      'taken over after kill -9',
      async () => {
        const r = (await admin('GET', `/api/recordings/${id}`)).body as Recording;
        return r.segments.length >= 3 && r.tracks.some((t) => t.segment === 3 && t.startOffsetMs !== undefined) ? r : undefined;
      },
      15_000,
    );
    assert.ok(Date.now() - killedAt < 8000, `taken over ${Date.now() - killedAt} ms after the kill`);
    assert.equal(taken.segments[1]?.end, 'lost');
    assert.ok(taken.gaps.length >= 1, JSON.stringify(taken.gaps));
    // What the killed recorder wrote stays readable, up to about when it died.
    for (const { t, path } of files(taken, (t) => t.segment === 2)) {
      assert.equal(t.final, false);
      const p = await probe(path);
      const d = Number(p.format.duration ?? p.streams[0]?.duration);
      assert.ok(d >= 1.5, `${t.file}: ${d} s kept after kill -9`);
    }
    await new Promise((r) => setTimeout(r, 1500));
    const done = await admin('POST', `/api/recordings/${id}/stop`);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.status, 'done');
    assert.equal((await admin('POST', `/api/recordings/${id}/stop`)).status, 409);
    for (const { path } of files(done.body as Recording, (t) => t.segment === 3)) assert.equal((await decodeErrors(path)).code, 0, path);
  });

  it('kill -9 of the media node it records from: the peers move to the other node, and the recording goes on from there as the next segment (last: it kills a node)', async () => {
    const res = await admin('POST', `/api/rooms/${ROOM}/recordings`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const id = res.body.recordingId as string;
    const from = res.body.segments?.[0]?.nodeId as string;
    const node = region.processes.find((p) => p.kind === 'media' && p.name === from);
    assert.ok(node, `the process of ${from}`);
    await waitFor('the recording has media', async () => {
      const r = (await admin('GET', `/api/recordings/${id}`)).body as Recording;
      return r.tracks.some((t) => t.identity === 'alice' && t.startOffsetMs !== undefined) ? true : undefined;
    });
    await new Promise((r) => setTimeout(r, 2500));
    await node.kill9();

    const moved = await waitFor(
      'the recording moved to the live node, with alice again',
      async () => {
        const r = (await admin('GET', `/api/recordings/${id}`)).body as Recording;
        const last = r.segments.at(-1);
        return last && last.nodeId !== from && r.tracks.some((t) => t.segment === last.segment && t.identity === 'alice' && t.startOffsetMs !== undefined)
          ? r
          : undefined;
      },
      45_000,
    );
    const [before, after] = moved.segments.slice(-2) as [Recording['segments'][number], Recording['segments'][number]];
    assert.equal(before.nodeId, from);
    assert.equal(before.end, 'moved', JSON.stringify(moved.segments));
    assert.equal(after.recorderId, before.recorderId, 'the same recorder goes on');
    // What was recorded from the dead node stays readable.
    for (const { t, path } of files(moved, (t) => t.segment === before.segment)) {
      const p = await probe(path);
      const d = Number(p.format.duration ?? p.streams[0]?.duration);
      assert.ok(d >= 1.5, `${t.file}: ${d} s recorded before the node died`);
      assert.equal((await decodeErrors(path)).code, 0, `${t.file} playable`);
    }
    await new Promise((r) => setTimeout(r, 2500));
    const done = await admin('POST', `/api/recordings/${id}/stop`);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const next = files(done.body as Recording, (t) => t.segment === after.segment);
    assert.deepEqual(next.map(({ t }) => t.kind).sort(), ['audio', 'video']);
    for (const { t, path } of next) {
      assert.ok(t.final, `${t.file} finalized on stop`);
      assert.equal((await decodeErrors(path)).code, 0, `${t.file} playable`);
      const d = Number((await probe(path)).format.duration);
      assert.ok(d >= 1.5, `${t.file}: ${d} s recorded after the move`);
    }
  });
});
