/**
 * The recorder pool against a real nats-server and real JetStream KV: start, stop, list, the
 * errors a caller can get, a takeover after a holder stops renewing (as kill -9 leaves it), and
 * the handover on SIGTERM. The room's media and the track writers are in-memory fakes here
 * (their real counterparts have their own tests); what is under test is who holds what.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Bus } from '@strata/bus';
import { memoryLogger, waitFor } from '@strata/harness';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  MediaEvent,
  Recording,
  RecordingGet,
  RecordingLease,
  RecordingList,
  RecordingStart,
  RecordingStop,
  RoomEvent,
  StrataError,
  buckets,
  subjects,
  type ConsumerInfo,
  type PeerSummary,
} from '@strata/protocol';
import { RecorderPool } from '../src/recorder-pool.js';
import { RecordingStore } from '../src/recording-store.js';
import type { RoomMedia } from '../src/room-media.js';
import type { TrackSink, TrackSinkOptions, TrackSinkStats } from '../src/segment-recorder.js';

const REGION = 'rtest';
const LEASE_MS = 600;

/** One media node's rooms, as a recorder sees them. */
class FakeMedia implements RoomMedia {
  readonly rooms = new Map<string, PeerSummary[]>();
  /** Legs of a room other than the default one node. */
  readonly legsOf = new Map<string, string[]>();
  readonly closedPeers: string[] = [];
  readonly consumed: { peerId: string; producerId: string }[] = [];
  private readonly watchers = new Set<{ roomId: string; room(e: RoomEvent): void; media(e: MediaEvent): void }>();
  private n = 0;

  legs(roomId: string) {
    return Promise.resolve(this.rooms.has(roomId) ? (this.legsOf.get(roomId) ?? ['node-1']) : null);
  }
  roster(_nodeId: string, roomId: string) {
    return Promise.resolve(structuredClone(this.rooms.get(roomId) ?? []));
  }
  plainTransport() {
    const transportId = `t${++this.n}`;
    return Promise.resolve({ transportId, connect: () => Promise.resolve() });
  }
  consume(_n: string, roomId: string, peerId: string, _t: string, producerId: string): Promise<ConsumerInfo> {
    const owner = this.rooms.get(roomId)?.find((p) => p.producers.some((x) => x.producerId === producerId));
    const producer = owner?.producers.find((x) => x.producerId === producerId);
    if (!owner || !producer) return Promise.reject(new StrataError('NOT_FOUND', `no producer ${producerId}`));
    this.consumed.push({ peerId, producerId });
    const audio = producer.kind === 'audio';
    return Promise.resolve({
      consumerId: `c${++this.n}`,
      producerId,
      peerId: owner.peerId,
      kind: producer.kind,
      rtpParameters: {
        codecs: [{ mimeType: audio ? 'audio/opus' : 'video/VP8', payloadType: audio ? 100 : 101, clockRate: audio ? 48000 : 90000 }],
        encodings: [{ ssrc: 1000 + this.n }],
      },
      type: 'simple',
      producerPaused: producer.paused,
    });
  }
  resume() {
    return Promise.resolve();
  }
  closePeer(_n: string, _r: string, peerId: string) {
    this.closedPeers.push(peerId);
    return Promise.resolve();
  }
  watch(roomId: string, _peerId: string, on: { room(e: RoomEvent): void; media(e: MediaEvent): void }) {
    const w = { roomId, ...on };
    this.watchers.add(w);
    return () => this.watchers.delete(w);
  }
  publish(roomId: string, peer: PeerSummary): void {
    const peers = this.rooms.get(roomId) ?? [];
    this.rooms.set(roomId, [...peers.filter((p) => p.peerId !== peer.peerId), peer]);
    for (const w of this.watchers)
      if (w.roomId === roomId) for (const producer of peer.producers) w.room({ type: 'newProducer', roomId, peerId: peer.peerId, producer });
  }
}

/** A writer that counts what the pool asked of it. */
function fakeSinks() {
  const open = new Map<string, { opts: TrackSinkOptions; closed: boolean }>();
  let port = 40000;
  const factory = (opts: TrackSinkOptions): Promise<TrackSink> => {
    const entry = { opts, closed: false };
    open.set(opts.path, entry);
    const t0 = Date.now();
    const stats = (): TrackSinkStats => ({ packets: 10, lost: 0, bytes: 1000, firstPacketAt: t0, lastPacketAt: Date.now(), gaps: [] });
    return Promise.resolve({
      port: port++,
      stats,
      close: () => {
        entry.closed = true;
        return Promise.resolve(stats());
      },
    });
  };
  return { factory, open };
}

/** A store whose lease renewals take `delayMs` (longer than the pool's renewal interval). */
class SlowLeases extends RecordingStore {
  constructor(
    records: ConstructorParameters<typeof RecordingStore>[0],
    leases: ConstructorParameters<typeof RecordingStore>[1],
    region: string,
    private readonly delayMs: number,
  ) {
    super(records, leases, region);
  }
  override async writeLease(...args: Parameters<RecordingStore['writeLease']>): Promise<number | null> {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return super.writeLease(...args);
  }
}

const peer = (peerId: string, producers: PeerSummary['producers']): PeerSummary => ({ peerId, identity: `id-${peerId}`, producers });
const prod = (producerId: string, kind: 'audio' | 'video') => ({ producerId, kind, paused: false });

describe('recorder pool (real NATS and KV, fake media)', () => {
  let nats: NatsServer;
  let client: Bus;
  const buses: Bus[] = [];
  const pools: RecorderPool[] = [];
  const byId = new Map<string, RecorderPool>();
  const media = new FakeMedia();
  const sinks = fakeSinks();
  let dir: string;

  interface PoolSetup {
    region?: string;
    emptyRoomMs?: number;
    maxTracks?: number;
    /** Every lease renewal takes this long (a slow JetStream). */
    leaseWriteMs?: number;
  }
  async function startPool(recorderId: string, setup: PoolSetup = {}): Promise<{ pool: RecorderPool; bus: Bus }> {
    const { region = REGION, emptyRoomMs = 60_000, maxTracks = 0, leaseWriteMs = 0 } = setup;
    const bus = await Bus.connect({ servers: nats.url, name: recorderId, logger: memoryLogger().log, requestTimeoutMs: 3000 });
    buses.push(bus);
    const [records, leases] = await Promise.all([bus.kv(buckets.recordings, Recording), bus.kv(buckets.recordingLeases, RecordingLease)]);
    const pool = new RecorderPool({
      region,
      recorderId,
      dir,
      rtpHost: '127.0.0.1',
      leaseMs: LEASE_MS,
      rosterPollMs: 200,
      emptyRoomMs,
      maxTracks,
      bus,
      store: leaseWriteMs ? new SlowLeases(records, leases, region, leaseWriteMs) : new RecordingStore(records, leases, region),
      media,
      sinks: sinks.factory,
      log: memoryLogger().log,
    });
    pool.start();
    pools.push(pool);
    byId.set(recorderId, pool);
    await bus.nc.flush();
    return { pool, bus };
  }

  /** The pool's requests, as a gateway of `region` sends them. */
  const callIn = (region: string) => ({
    start: (roomId: string) => client.request(RecordingStart, subjects.recording(region, RecordingStart.name), { roomId, requestedBy: 'test' }),
    stop: (recordingId: string) => client.request(RecordingStop, subjects.recording(region, RecordingStop.name), { recordingId }),
    get: (recordingId: string) => client.request(RecordingGet, subjects.recording(region, RecordingGet.name), { recordingId }),
    list: (roomId?: string) => client.request(RecordingList, subjects.recording(region, RecordingList.name), roomId ? { roomId } : {}),
  });
  const call = callIn(REGION);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-rec-pool-'));
    nats = await startNatsServer({ jetstream: true });
    client = await Bus.connect({ servers: nats.url, name: 'client', logger: memoryLogger().log, requestTimeoutMs: 10_000 });
  });

  after(async () => {
    for (const p of pools) await p.close().catch(() => undefined);
    for (const b of buses) await b.drain().catch(() => undefined);
    await client.drain();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a room that is not open, with NOT_FOUND', async () => {
    await startPool('rec-a');
    await assert.rejects(call.start('nowhere'), (e: StrataError) => e.code === 'NOT_FOUND' && /room nowhere is not open/.test(e.message));
  });

  it('records every producer, a later one too; stop finalizes; a second stop is CONFLICT', async () => {
    media.publish('room1', peer('alice', [prod('pa1', 'audio'), prod('pv1', 'video')]));
    const started = await call.start('room1');
    assert.equal(started.status, 'recording');
    assert.equal(started.tracks.length, 2);
    assert.deepEqual(started.tracks.map((t) => t.kind).sort(), ['audio', 'video']);
    await assert.rejects(call.start('room1'), (e: StrataError) => e.code === 'CONFLICT' && e.message.includes(started.recordingId));

    media.publish('room1', peer('bob', [prod('pb1', 'audio')]));
    const withBob = await waitFor('bob recorded', async () => {
      const r = await call.get(started.recordingId);
      return r.tracks.find((t) => t.producerId === 'pb1') ? r : undefined;
    });
    const bob = withBob.tracks.find((t) => t.producerId === 'pb1');
    assert.equal(bob?.identity, 'id-bob');
    assert.equal(bob?.codec, 'audio/opus');

    const stopped = await call.stop(started.recordingId);
    assert.equal(stopped.status, 'done');
    assert.equal(stopped.reason, 'stopped');
    assert.equal(stopped.recorderId, undefined);
    assert.ok(
      stopped.tracks.every((t) => t.final),
      JSON.stringify(stopped.tracks),
    );
    assert.equal(stopped.tracks.length, 3);
    assert.ok(
      [...sinks.open.values()].every((s) => s.closed),
      'every writer closed',
    );
    assert.ok(media.closedPeers.includes(`rec-${started.recordingId}-1`), 'its transports on the media node closed');
    await assert.rejects(call.stop(started.recordingId), (e: StrataError) => e.code === 'CONFLICT' && /already done/.test(e.message));
    await assert.rejects(call.stop('RC_unknown'), (e: StrataError) => e.code === 'NOT_FOUND');

    const manifest = JSON.parse(readFileSync(join(dir, started.recordingId, 'manifest.json'), 'utf8')) as Recording;
    assert.equal(manifest.status, 'done');
    assert.equal(manifest.tracks.length, 3);
    const listed = await call.list('room1');
    assert.deepEqual(
      listed.recordings.map((r) => r.recordingId),
      [started.recordingId],
    );
  });

  it('another recorder takes over a recording whose holder stopped renewing, as a new segment with the gap recorded', async () => {
    const b = await startPool('rec-b');
    media.publish('room2', peer('carol', [prod('pc1', 'audio')]));
    const started = await call.start('room2');
    const holder = started.recorderId;
    assert.ok(holder === 'rec-a' || holder === 'rec-b');
    // The holder's NATS connection dies with it: it renews nothing more.
    const dead = holder === 'rec-b' ? b.bus : buses[0];
    await dead?.nc.close();
    const t0 = Date.now();
    const taken = await waitFor(
      'taken over',
      async () => {
        // A request the queue group handed to the dying connection gets no answer: ask again.
        const r = await client
          .request(RecordingGet, subjects.recording(REGION, RecordingGet.name), { recordingId: started.recordingId }, { timeoutMs: 1000 })
          .catch((e: StrataError) => (e.code === 'TIMEOUT' ? undefined : Promise.reject(e)));
        if (!r) return undefined;
        return r.segments.length === 2 && r.tracks.some((t) => t.segment === 2) ? r : undefined;
      },
      10_000,
      50,
    );
    const other = holder === 'rec-a' ? 'rec-b' : 'rec-a';
    assert.equal(taken.recorderId, other);
    assert.equal(taken.segments[0]?.end, 'lost');
    assert.equal(taken.segments[1]?.recorderId, other);
    assert.equal(taken.gaps.length, 1, JSON.stringify(taken.gaps));
    const gap = taken.gaps[0]!;
    assert.ok(gap.toMs > gap.fromMs, JSON.stringify(gap));
    assert.ok(Date.now() - t0 < 5000, 'within a few seconds');
    // Nothing of segment 1 is forgotten: its track stays in the record (not final: its writer died).
    assert.ok(taken.tracks.some((t) => t.segment === 1 && t.producerId === 'pc1' && !t.final));
    assert.ok(media.closedPeers.includes(`rec-${started.recordingId}-1`), "the dead holder's transports closed");
    const done = await call.stop(started.recordingId);
    assert.equal(done.status, 'done');
  });

  it("moves to another leg, as a new segment, when its leg leaves the room's placement", async () => {
    media.publish('room4', peer('erin', [prod('pe1', 'audio')]));
    media.legsOf.set('room4', ['node-1', 'node-2']);
    const started = await call.start('room4');
    assert.equal(started.segments[0]?.nodeId, 'node-1');
    media.legsOf.set('room4', ['node-2']);
    const moved = await waitFor('moved', async () => {
      const r = await call.get(started.recordingId);
      return r.segments.length === 2 && r.tracks.some((t) => t.segment === 2) ? r : undefined;
    });
    assert.equal(moved.segments[0]?.end, 'moved');
    assert.equal(moved.segments[1]?.nodeId, 'node-2');
    assert.equal(moved.segments[1]?.recorderId, started.recorderId, 'the same recorder goes on');
    assert.deepEqual(moved.gaps, [], 'no lease ran out');
    assert.ok(
      moved.tracks.some((t) => t.segment === 1 && t.final),
      "the first leg's file finalized",
    );
    assert.ok(media.closedPeers.includes(`rec-${started.recordingId}-1`));
    await call.stop(started.recordingId);
  });

  it('stops on its own once the room has been empty for the timeout, whether its roster is empty or its placement gone', async () => {
    await startPool('rec-lonely', { region: 'rtest2', emptyRoomMs: 400 });
    const { start, get } = callIn('rtest2');
    media.publish('room5', peer('gina', [prod('pg1', 'audio')]));
    media.publish('room6', peer('hank', [prod('ph1', 'audio')]));
    const five = await start('room5');
    const six = await start('room6');
    media.rooms.set('room5', []); // everyone left, the room still placed
    media.rooms.delete('room6'); // the last member left and the gateways erased the placement
    for (const id of [five.recordingId, six.recordingId]) {
      const done = await waitFor(`${id} done`, async () => {
        const r = await get(id);
        return r.status === 'done' ? r : undefined;
      });
      assert.equal(done.reason, 'room empty');
      assert.ok(done.stoppedAt! - done.startedAt! >= 400, 'not before the timeout');
    }
  });

  it('on SIGTERM a holder finalizes its files and hands the recording over at once', async () => {
    await startPool('rec-c');
    media.publish('room3', peer('dave', [prod('pd1', 'video')]));
    // Whoever takes it (of the two recorders alive), close that one.
    const started = await call.start('room3');
    const holderPool = byId.get(started.recorderId ?? '');
    assert.ok(holderPool, `holder ${started.recorderId}`);
    const t0 = Date.now();
    await holderPool.close();
    const r1 = await call.get(started.recordingId);
    assert.equal(r1.segments[0]?.end, 'handover');
    assert.ok(
      r1.tracks.filter((t) => t.segment === 1).every((t) => t.final),
      'files of the segment finalized',
    );
    const taken = await waitFor('handed over', async () => {
      const r = await call.get(started.recordingId);
      return r.segments.length === 2 ? r : undefined;
    });
    assert.notEqual(taken.recorderId, started.recorderId);
    assert.equal(taken.status, 'recording');
    // Released, not left to expire: taken within a sweep or two, well before a lease would run out after the close.
    assert.ok(taken.segments[1]!.startedAt - r1.segments[0]!.endedAt! < LEASE_MS, JSON.stringify(taken.segments));
    await call.stop(started.recordingId);
  });

  it('a recorder at its track limit leaves the start queue: new recordings go to one with room, none with room is UNAVAILABLE, and it takes them again once below', async () => {
    const region = 'rcap';
    const [a, b] = [await startPool('cap-a', { region, maxTracks: 2 }), await startPool('cap-b', { region, maxTracks: 2 })];
    const { start, stop } = callIn(region);
    for (const room of ['cap1', 'cap2', 'cap3']) media.publish(room, peer(`${room}-p`, [prod(`${room}-a`, 'audio'), prod(`${room}-v`, 'video')]));

    const first = await start('cap1');
    const full = first.recorderId === 'cap-a' ? a.pool : b.pool;
    assert.equal(full.tracks, 2);
    assert.ok(full.full);
    // Only the other recorder is in the queue now: every start goes there, whoever NATS would have picked.
    const second = await start('cap2');
    assert.notEqual(second.recorderId, first.recorderId);
    assert.ok(a.pool.full && b.pool.full);
    await assert.rejects(start('cap3'), (e: StrataError) => e.code === 'UNAVAILABLE');

    await stop(first.recordingId);
    // Below its limit again, it rejoins the queue at its next sweep.
    const third = await waitFor('a start taken again', () => start('cap3').catch(() => undefined), 5000, 100);
    assert.equal(third.recorderId, first.recorderId);
    for (const r of [second, third]) await stop(r.recordingId);
  });

  it('keeps its recording when renewing a lease takes longer than the renewal interval (one sweep at a time)', async () => {
    const region = 'rslow';
    const slow = callIn(region);
    // Renewed every LEASE_MS / 3 = 200 ms; each renewal takes 350 ms, still within the lease.
    const { pool } = await startPool('slow-a', { region, leaseWriteMs: 350 });
    media.publish('slow1', peer('slow-p', [prod('slow-a1', 'audio')]));
    const started = await slow.start('slow1');
    await new Promise((r) => setTimeout(r, 2000));
    const now = await slow.get(started.recordingId);
    assert.equal(now.status, 'recording');
    assert.equal(now.recorderId, 'slow-a');
    assert.equal(now.segments.length, 1, JSON.stringify(now.segments));
    assert.equal(pool.recordings, 1, 'still held');
    await slow.stop(started.recordingId);
  });
});
