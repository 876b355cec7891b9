/**
 * The local region as `npm run dev` runs it: a real nats-server and the five services as
 * separate processes. Each must announce itself, answer health over NATS and HTTP, survive
 * malformed and schema-violating messages on its subjects, and stop cleanly on SIGTERM.
 */
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import {
  GeoRoute,
  Health,
  Heartbeat,
  MediaRoomOpen,
  SERVICE_KINDS,
  StrataError,
  TurnCredentials,
  subjects,
  type EventOf,
  type ServiceKind,
} from '@strata/protocol';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../helpers/logger.js';
import { sampleValue, scrape } from '../helpers/prometheus.js';
import { spawnService, waitFor, type ServiceProcess } from '../helpers/processes.js';

const REGION = 'smoke';
type Beat = EventOf<typeof Heartbeat>;

async function rawRequest(bus: Bus, subject: string, payload: string): Promise<{ ok: boolean; error?: { code: string; message: string } }> {
  const msg = await bus.nc.request(subject, new TextEncoder().encode(payload), { timeout: 5000 });
  return JSON.parse(new TextDecoder().decode(msg.data)) as { ok: boolean; error?: { code: string; message: string } };
}

describe('local region smoke test', { timeout: 120_000 }, () => {
  let nats: NatsServer;
  let bus: Bus;
  let recordings: string;
  const procs = new Map<ServiceKind, ServiceProcess>();
  const beats = new Map<ServiceKind, Beat>();
  const draining = new Set<ServiceKind>();

  before(async () => {
    nats = await startNatsServer();
    bus = await Bus.connect({ servers: nats.url, name: 'smoke-test', logger: memoryLogger().log });
    bus.subscribe(Heartbeat, subjects.heartbeats(REGION), (b) => {
      if (b.draining) draining.add(b.kind);
      else beats.set(b.kind, b);
    });
    recordings = mkdtempSync(join(tmpdir(), 'strata-rec-'));
    const common = { NATS_URL: nats.url, STRATA_REGION: REGION, HTTP_PORT: '0', HEARTBEAT_INTERVAL: '500ms' };
    const extra: Record<ServiceKind, Record<string, string>> = {
      signaling: {},
      media: { MEDIA_NUM_WORKERS: '1' },
      turn: { TURN_PORT: '0', TURN_SECRET: 'smoke-secret' },
      'geo-router': {},
      recorder: { RECORDER_DIR: recordings },
    };
    for (const kind of SERVICE_KINDS) procs.set(kind, spawnService(kind, { ...common, STRATA_NODE_ID: `${kind}-1`, ...extra[kind] }));
  });

  after(async () => {
    await Promise.all([...procs.values()].map((p) => p.stop(3000)));
    await bus?.drain();
    await nats?.stop();
    rmSync(recordings, { recursive: true, force: true });
  });

  it('every service announces itself with a heartbeat carrying its load', async () => {
    await waitFor(
      `heartbeats from all of ${SERVICE_KINDS.join(', ')}`,
      () => {
        for (const [kind, p] of procs) if (!p.running()) throw new Error(`${kind} exited early:\n${p.output()}`);
        return SERVICE_KINDS.every((k) => beats.has(k)) ? true : undefined;
      },
      60_000,
    );
    for (const kind of SERVICE_KINDS) {
      const b = beats.get(kind)!;
      assert.equal(b.region, REGION);
      assert.equal(b.id, `${kind}-1`);
      assert.ok(b.load.rssBytes > 0);
      assert.ok(b.endpoints['http'], `${kind} advertises its HTTP endpoint`);
      assert.ok(b.load.score >= 0 && b.load.score <= 1, `${kind} load score ${b.load.score}`);
    }
    for (const kind of ['signaling', 'turn', 'geo-router'] as const) {
      const eventLoop = beats.get(kind)!.load.details['eventLoop'];
      assert.ok(typeof eventLoop === 'number' && eventLoop >= 0 && eventLoop <= 1, `${kind} measures its event loop: ${eventLoop}`);
    }
    assert.equal(beats.get('signaling')!.load.details['sessionCapacity'], 10_000);
    assert.ok(Number(beats.get('media')!.load.details['workers']) >= 1);
  });

  it('answers health over NATS and GET /healthz over HTTP', async () => {
    for (const kind of SERVICE_KINDS) {
      const h = await bus.request(Health, subjects.health(REGION, kind, `${kind}-1`), {});
      assert.equal(h.status, 'ok', `${kind}: ${JSON.stringify(h)}`);
      assert.equal(h.kind, kind);
      const res = await fetch(`${beats.get(kind)!.endpoints['http']}/healthz`);
      assert.equal(res.status, 200, kind);
      const body = (await res.json()) as { kind: string; status: string };
      assert.equal(body.kind, kind);
      assert.equal(body.status, 'ok');
    }
    const media = await bus.request(Health, subjects.health(REGION, 'media', 'media-1'), {});
    assert.equal(media.checks['workers'], 1, 'mediasoup.createWorker() worked inside the media service');
    const rec = await bus.request(Health, subjects.health(REGION, 'recorder', 'recorder-1'), {});
    assert.match(String(rec.checks['ffmpeg']), /ffmpeg version/);
  });

  it('serves GET /metrics in the Prometheus text format 0.0.4 on every service, the TURN counters on turn', async () => {
    const own: Record<ServiceKind, string[]> = {
      signaling: ['strata_signaling_sessions', 'strata_signaling_sockets', 'strata_signaling_session_capacity'],
      media: ['strata_media_workers', 'strata_media_rooms', 'strata_media_consumers'],
      turn: [
        'strata_turn_allocations',
        'strata_turn_relayed_packets_total',
        'strata_turn_relayed_bytes_total',
        'strata_turn_auth_failures_total',
        'strata_turn_stale_nonces_total',
        'strata_turn_quota_rejections_total',
        'strata_turn_peer_denials_total',
        'strata_turn_connection_rejections_total',
        'strata_turn_over_bandwidth_dropped_total',
        'strata_turn_malformed_total',
      ],
      'geo-router': [],
      recorder: ['strata_recorder_recordings', 'strata_recorder_tracks'],
    };
    for (const kind of SERVICE_KINDS) {
      // scrape checks the status and content type, and parses every line strictly.
      const families = await scrape(beats.get(kind)!.endpoints['http']!);
      assert.deepEqual(
        families.get('strata_service_info')?.samples.map((s) => [s.labels, s.value]),
        [[{ kind, region: REGION, node: `${kind}-1`, version: beats.get(kind)!.version }, 1]],
        kind,
      );
      for (const name of [
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_heap_size_used_bytes',
        'process_start_time_seconds',
        'nodejs_eventloop_utilization',
        ...own[kind],
      ])
        assert.ok(families.has(name), `${kind} has ${name}: ${[...families.keys()].join(', ')}`);
      assert.ok(sampleValue(families, 'process_resident_memory_bytes') > 0, kind);
    }
    const turn = await scrape(beats.get('turn')!.endpoints['http']!);
    assert.equal(turn.get('strata_turn_relayed_packets_total')?.type, 'counter');
    assert.equal(turn.get('strata_turn_allocations')?.type, 'gauge');
    for (const direction of ['to_peer', 'to_client']) {
      assert.equal(sampleValue(turn, 'strata_turn_relayed_packets_total', { direction }), 0, 'nothing relayed yet');
      assert.equal(sampleValue(turn, 'strata_turn_relayed_bytes_total', { direction }), 0);
    }
    assert.equal(sampleValue(turn, 'strata_turn_allocations'), 0);
    assert.equal(sampleValue(await scrape(beats.get('signaling')!.endpoints['http']!), 'strata_signaling_session_capacity'), 10_000);
    assert.equal(sampleValue(await scrape(beats.get('media')!.endpoints['http']!), 'strata_media_workers'), 1);
    const missing = await fetch(`${beats.get('geo-router')!.endpoints['http']}/nothing`);
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: { message: string } }).error.message, /GET \/metrics/);
  });

  it('does the real work of each service subject', async () => {
    const room = await bus.request(MediaRoomOpen, subjects.media(REGION, 'media-1', 'room.open'), { roomId: 'smoke-room' });
    assert.ok(room.rtpCapabilities.codecs?.some((c) => c['mimeType'] === 'video/VP8'));
    const creds = await bus.request(TurnCredentials, subjects.turnCredentials(REGION), { identity: 'alice', ttlSeconds: 600 });
    assert.match(creds.username, /^\d+:alice$/);
    assert.ok(creds.urls[0]?.startsWith('turn:'));
    // The geo-router learns regions from media heartbeats: wait until it has heard one.
    const route = await waitFor(
      'a route by RTT',
      async () => {
        const r = await bus.request(GeoRoute, subjects.geoRoute(REGION), { probes: [{ region: REGION, rttMs: 12 }] });
        return r.reason === 'rtt' ? r : undefined;
      },
      5000,
    );
    assert.equal(route.region, REGION);
    assert.equal(route.candidates[0]?.mediaNodes, 1);
  });

  it('answers malformed and schema-violating messages with error codes and keeps serving', async () => {
    const targets: { kind: ServiceKind; subject: string; invalid: string }[] = [
      ...SERVICE_KINDS.map((kind) => ({ kind, subject: subjects.health(REGION, kind, `${kind}-1`), invalid: '{"unexpected":true}' })),
      { kind: 'media', subject: subjects.media(REGION, 'media-1', 'room.open'), invalid: '{"roomId":"no spaces or dots."}' },
      { kind: 'turn', subject: subjects.turnCredentials(REGION), invalid: '{"identity":"a:b","ttlSeconds":5}' },
      { kind: 'geo-router', subject: subjects.geoRoute(REGION), invalid: '{"probes":[{"region":"x","rttMs":-1}]}' },
    ];
    for (const t of targets) {
      const junk = await rawRequest(bus, t.subject, '{"broken json');
      assert.equal(junk.ok, false);
      assert.equal(junk.error?.code, 'BAD_REQUEST', `${t.subject}: ${JSON.stringify(junk)}`);
      const invalid = await rawRequest(bus, t.subject, t.invalid);
      assert.equal(invalid.error?.code, 'INVALID_MESSAGE', `${t.subject}: ${JSON.stringify(invalid)}`);
      assert.ok(invalid.error?.message.length, 'the error says what is wrong');
    }
    // A flood of garbage on the media node's subjects does not take it down either.
    for (let i = 0; i < 500; i++) bus.nc.publish(subjects.media(REGION, 'media-1', 'room.open'), new TextEncoder().encode(i % 2 ? 'x'.repeat(i) : '[]'));
    await bus.nc.flush();
    for (const kind of SERVICE_KINDS) {
      assert.equal(procs.get(kind)!.running(), true, `${kind} is still running`);
      const h = await bus.request(Health, subjects.health(REGION, kind, `${kind}-1`), {});
      assert.equal(h.status, 'ok');
    }
    const room = await bus.request(MediaRoomOpen, subjects.media(REGION, 'media-1', 'room.open'), { roomId: 'smoke-room' });
    assert.ok(room.routerId, 'the room opened before the garbage is still there');
    // The service's logger writes asynchronously: wait for the line rather than read the file once.
    await waitFor('the bad input in the media log', () => (/INVALID_MESSAGE/.test(procs.get('media')!.output()) ? true : undefined), 10_000);
  });

  it('stops cleanly on SIGTERM, announcing that it drains', async () => {
    const results = await Promise.all(SERVICE_KINDS.map(async (kind) => [kind, await procs.get(kind)!.stop(15_000)] as const));
    for (const [kind, r] of results) assert.deepEqual(r, { code: 0, signal: null }, `${kind} exit:\n${procs.get(kind)!.output().slice(-2000)}`);
    await waitFor('draining heartbeats', () => (SERVICE_KINDS.every((k) => draining.has(k)) ? true : undefined), 5000);
    await assert.rejects(
      bus.request(Health, subjects.health(REGION, 'media', 'media-1'), {}, { timeoutMs: 500 }),
      (e: StrataError) => e.code === 'UNAVAILABLE',
    );
  });
});

describe('a bad configuration stops a service with a message naming the variable', () => {
  it('exits 78 on an invalid HTTP_PORT', async () => {
    const p = spawnService('geo-router', { HTTP_PORT: 'eighty', NATS_URL: 'nats://127.0.0.1:1' });
    const r = await p.exited;
    assert.equal(r.code, 78);
    assert.match(p.output(), /HTTP_PORT: "eighty" is not an integer/);
  });

  it('exits 1 naming NATS_KV_REPLICAS when a lone nats-server cannot hold that many replicas', async () => {
    const nats = await startNatsServer();
    try {
      const p = spawnService('signaling', { NATS_URL: nats.url, NATS_KV_REPLICAS: '3', HTTP_PORT: '0' });
      // A gateway that ignored the setting would start and serve: it gets 20 s to exit instead.
      const r = await Promise.race([p.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000).unref())]);
      if (!r) await p.stop(5000);
      assert.equal(r?.code, 1, 'signaling exits');
      assert.match(p.output(), /KV bucket strata-\S+ with 3 replicas \(NATS_KV_REPLICAS\): replicas > 1 not supported in non-clustered mode/);
    } finally {
      await nats.stop();
    }
  });
});
