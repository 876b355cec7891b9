/**
 * The NATS configs in deploy/nats are real: nats-servers started from them, with every port moved
 * to a free one on 127.0.0.1 (the only edit to the copies), make region `a` a 3-node cluster and
 * region `b` a 1-node one, joined by gateways. Then: a message published in one region reaches a
 * subscriber in the other; every service's user publishes and subscribes to its own subjects and
 * is refused another's; the KV buckets each service opens work with its user and refuse the
 * others; and the five services, as processes with their users spread over region a's nodes,
 * become healthy, join two peers through two gateways (TURN credentials included), start a
 * recording, and the geo-router counts a media node of region b, all without one permissions
 * violation in their logs. start.sh refuses an empty password.
 */
import { Type } from '@sinclair/typebox';
import { Bus } from '@strata/bus';
import { memoryLogger, spawnService, untilHealthy, waitFor, type ServiceProcess } from '@strata/harness';
import { freePort, startNatsServer, type NatsServer } from '@strata/nats-server';
import { mintJoinToken } from '@strata/auth';
import { GeoRoute, Health, Heartbeat, SERVICE_KINDS, buckets, subjects, type EventOf, type ServiceKind } from '@strata/protocol';
import { connect, type NatsConnection } from 'nats';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { RawSocket } from '../helpers/raw-socket.js';

const DEPLOY = fileURLToPath(new URL('../../deploy/nats/', import.meta.url));
const START = join(DEPLOY, 'start.sh');
const HOST = '127.0.0.1';
const JWT_SECRET = 'nats-deploy-test-jwt-secret';
const ADMIN_SECRET = 'nats-deploy-test-admin-secret';
const USERS = ['signaling', 'media', 'turn', 'geo-router', 'recorder', 'admin', 'sys'] as const;
type User = (typeof USERS)[number];
// Passwords as compose.sh and operators make them: random hex, which nats-server would parse as a
// number when it begins with digits and an exponent (5853e29…), and one with quotes, a backslash
// and a space. start.sh hands each over quoted.
const PASSWORDS = Object.fromEntries(
  USERS.map((u, i) => [u, u === 'admin' ? `pw "with" \\ quotes ${randomBytes(4).toString('hex')}` : `${5853 + i}e29${randomBytes(20).toString('hex')}`]),
) as Record<User, string>;
const SECRETS = {
  NATS_SIGNALING_PASSWORD: PASSWORDS.signaling,
  NATS_MEDIA_PASSWORD: PASSWORDS.media,
  NATS_TURN_PASSWORD: PASSWORDS.turn,
  NATS_GEO_ROUTER_PASSWORD: PASSWORDS['geo-router'],
  NATS_RECORDER_PASSWORD: PASSWORDS.recorder,
  NATS_ADMIN_PASSWORD: PASSWORDS.admin,
  NATS_SYS_PASSWORD: PASSWORDS.sys,
  NATS_ROUTE_PASSWORD: 'route-pw',
  NATS_GATEWAY_PASSWORD: 'gateway-pw',
};

interface NodePorts {
  client: number;
  cluster: number;
  gateway: number;
  monitor: number;
}

interface Node {
  name: string;
  region: string;
  server: NatsServer;
}

/** A copy of deploy/nats whose listeners are on 127.0.0.1 and the given ports; nothing else changes. */
function remappedCopy(dir: string, ports: NodePorts): string {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(DEPLOY)) if (f.endsWith('.conf')) copyFileSync(join(DEPLOY, f), join(dir, f));
  const edit = (file: string, from: RegExp, to: string): void => {
    const p = join(dir, file);
    const text = readFileSync(p, 'utf8');
    assert.match(text, from, `${file} has ${from}`);
    writeFileSync(p, text.replace(from, to));
  };
  edit('region.conf', /^port: 4222$/m, `host: ${HOST}\nport: ${ports.client}`);
  edit('region.conf', /^http_port: 8222$/m, `http: "${HOST}:${ports.monitor}"`);
  edit('region.conf', /^ {2}port: 6222$/m, `  host: ${HOST}\n  port: ${ports.cluster}`);
  edit('gateway.conf', /^ {2}port: 7222$/m, `  host: ${HOST}\n  port: ${ports.gateway}`);
  return join(dir, 'gateway.conf');
}

async function allocPorts(): Promise<NodePorts> {
  return { client: await freePort(), cluster: await freePort(), gateway: await freePort(), monitor: await freePort() };
}

async function monitor<T>(node: Node, path: string): Promise<T> {
  const res = await fetch(`${node.server.monitorUrl}${path}`);
  return (await res.json()) as T;
}

/**
 * What the server refused on `subject` ('publish' or 'subscription'), from the status nats.js
 * reports for a `-ERR 'Permissions Violation ...'` (the connection stays up); undefined after `ms`.
 */
function permissionError(nc: NatsConnection, subject: string, ms = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void (async () => {
      for await (const s of nc.status()) {
        const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (s.type === 'error' && s.data === 'PERMISSIONS_VIOLATION' && ctx?.subject === subject) {
          clearTimeout(timer);
          resolve(ctx.operation);
          return;
        }
      }
    })();
  });
}

describe('deploy/nats configs', { timeout: 90_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'strata-nats-deploy-'));
  const nodes: Node[] = [];
  const conns: NatsConnection[] = [];
  const buses: Bus[] = [];
  const procs: ServiceProcess[] = [];
  const sockets: RawSocket[] = [];
  const { log } = memoryLogger();

  const node = (name: string): Node => nodes.find((n) => n.name === name) as Node;
  const login = async (user: User, on: string): Promise<NatsConnection> => {
    const nc = await connect({ servers: node(on).server.url, user, pass: PASSWORDS[user], inboxPrefix: `_INBOX.${user}` });
    conns.push(nc);
    return nc;
  };
  const bus = async (user: User, on: string): Promise<Bus> => {
    const b = await Bus.connect({
      servers: node(on).server.url,
      name: `test-${user}`,
      logger: log,
      user,
      pass: PASSWORDS[user],
      inboxPrefix: `_INBOX.${user}`,
    });
    buses.push(b);
    return b;
  };

  before(async () => {
    const layout = [
      { region: 'a', names: ['a-1', 'a-2', 'a-3'] },
      { region: 'b', names: ['b-1'] },
    ];
    const ports = new Map<string, NodePorts>();
    for (const r of layout) for (const n of r.names) ports.set(n, await allocPorts());
    const routes = (region: string): string =>
      `[${(layout.find((r) => r.region === region)?.names ?? []).map((n) => `nats-route://route:${SECRETS.NATS_ROUTE_PASSWORD}@${HOST}:${ports.get(n)?.cluster}`).join(', ')}]`;
    const gateways = `[${layout
      .map(
        (r) => `{name: ${r.region}, urls: [${r.names.map((n) => `nats://gw:${SECRETS.NATS_GATEWAY_PASSWORD}@${HOST}:${ports.get(n)?.gateway}`).join(', ')}]}`,
      )
      .join(', ')}]`;
    const starting: Promise<Node>[] = [];
    for (const r of layout) {
      for (const name of r.names) {
        const p = ports.get(name) as NodePorts;
        const conf = remappedCopy(join(root, name), p);
        const env = {
          ...SECRETS,
          NATS_SERVER_NAME: name,
          STRATA_REGION: r.region,
          NATS_CLUSTER_ROUTES: routes(r.region),
          NATS_GATEWAYS: gateways,
          NATS_STORE_DIR: join(root, name, 'jetstream'),
        };
        // Ports come from the config file: the library's -p / -m flags would say them again, identically.
        starting.push(
          startNatsServer({ binary: START, port: p.client, host: HOST, jetstream: false, args: ['-c', conf], env, startTimeoutMs: 15_000 }).then((server) => ({
            name,
            region: r.region,
            server: { ...server, monitorUrl: `http://${HOST}:${p.monitor}` },
          })),
        );
      }
    }
    nodes.push(...(await Promise.all(starting)));

    // What is still missing, said in the failure if it never comes.
    let missing = '';
    await waitFor(
      'routes within a and gateways between a and b',
      async () => {
        for (const n of nodes) {
          const routez = await monitor<{ num_routes: number }>(n, '/routez');
          missing = `${n.name} has ${routez.num_routes} route(s)`;
          if (routez.num_routes !== (n.region === 'a' ? 2 : 0)) return undefined;
          const gw = await monitor<{ outbound_gateways?: Record<string, unknown>; inbound_gateways?: Record<string, unknown> }>(n, '/gatewayz');
          const other = n.region === 'a' ? 'b' : 'a';
          missing = `${n.name} has no outbound gateway to ${other} (it has ${Object.keys(gw.outbound_gateways ?? {}).join(', ') || 'none'})`;
          if (!gw.outbound_gateways?.[other]) return undefined;
        }
        return true;
      },
      20_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}: ${missing}`);
    });
    // JetStream needs a meta leader across the supercluster before a bucket can be made.
    await waitFor(
      'a JetStream meta leader',
      async () => {
        const jsz = await monitor<{ meta_cluster?: { leader?: string } }>(node('a-1'), '/jsz');
        return jsz.meta_cluster?.leader ? true : undefined;
      },
      20_000,
    );
  });

  after(async () => {
    for (const s of sockets) s.close();
    await Promise.all(procs.map((p) => p.stop(5000)));
    await Promise.all(buses.map((b) => b.drain().catch(() => undefined)));
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.server.stop()));
    rmSync(root, { recursive: true, force: true });
  });

  it('start.sh refuses an empty password (nats-server would take it as none)', () => {
    const r = spawnSync(START, ['-c', join(root, 'a-1', 'gateway.conf')], {
      env: {
        ...process.env,
        ...SECRETS,
        NATS_SERVER_NAME: 'x',
        STRATA_REGION: 'a',
        NATS_CLUSTER_ROUTES: '[]',
        NATS_GATEWAYS: '[]',
        NATS_STORE_DIR: root,
        NATS_TURN_PASSWORD: '',
      },
      encoding: 'utf8',
      timeout: 5000,
    });
    assert.equal(r.status, 78, r.stderr);
    assert.match(r.stderr, /not set or empty: NATS_TURN_PASSWORD$/m);
  });

  it('refuses a wrong password and a client without credentials', async () => {
    await assert.rejects(connect({ servers: node('a-1').server.url, user: 'signaling', pass: 'wrong' }), /Authorization/i);
    await assert.rejects(connect({ servers: node('a-1').server.url }), /Authorization/i);
  });

  it('carries a message published in region a to a subscriber in region b', async () => {
    const geo = await login('geo-router', 'b-1');
    const got: string[] = [];
    geo.subscribe(subjects.heartbeats('*', 'media'), { callback: (_e, m) => got.push(m.subject) });
    await geo.flush();
    const media = await login('media', 'a-2');
    const subject = subjects.heartbeat('a', 'media', 'media-a');
    // Gateways learn b's interest shortly after it subscribes: publish until it arrives.
    await waitFor(
      'a heartbeat from a-2 at b-1',
      () => {
        media.publish(subject, 'beat');
        return got.includes(subject) ? true : undefined;
      },
      10_000,
      100,
    );
  });

  /** Per user: subjects it publishes (seen by the admin), another service's subjects it may not publish, nor subscribe to. */
  const matrix: { user: User; publishes: string[]; deniedPublish: string[]; deniedSubscribe: string[] }[] = [
    {
      user: 'signaling',
      publishes: [
        'strata.a.heartbeat.signaling.s1',
        'strata.a.room.r1.events',
        'strata.a.media.m1.room.open',
        'strata.a.turn.credentials',
        'strata.b.recording.start',
      ],
      deniedPublish: ['strata.a.room.r1.media', 'strata.a.heartbeat.media.m1', 'strata.a.recorder.rec1.stop', '$KV.strata-recordings.a.x'],
      deniedSubscribe: ['strata.a.turn.credentials', 'strata.a.media.m1.room.open', '_INBOX.media.>', '>'],
    },
    {
      user: 'media',
      publishes: [
        'strata.a.heartbeat.media.m1',
        'strata.a.room.r1.media',
        'strata.a.room.r1.speaker',
        'strata.a.room.r1.legs',
        'strata.a.media.m2.link.connect',
      ],
      deniedPublish: ['strata.a.room.r1.events', 'strata.a.heartbeat.turn.t1', 'strata.a.recording.start', '$KV.strata-rooms.a.r1'],
      deniedSubscribe: ['strata.a.room.r1.events', 'strata.a.recording.start', '_INBOX.signaling.>'],
    },
    {
      user: 'turn',
      publishes: ['strata.a.heartbeat.turn.t1'],
      deniedPublish: ['strata.a.heartbeat.media.m1', 'strata.a.media.m1.room.open', 'strata.a.turn.credentials', 'strata.a.geo.route'],
      deniedSubscribe: ['strata.a.geo.route', 'strata.a.heartbeat.media.*', 'strata.a.room.r1.events'],
    },
    {
      user: 'geo-router',
      publishes: ['strata.a.heartbeat.geo-router.g1'],
      deniedPublish: ['strata.a.heartbeat.media.m1', 'strata.a.turn.credentials', 'strata.a.room.r1.events'],
      deniedSubscribe: ['strata.a.turn.credentials', 'strata.a.room.r1.media', '_INBOX.turn.>'],
    },
    {
      user: 'recorder',
      publishes: ['strata.a.heartbeat.recorder.rec1', 'strata.a.recorder.rec2.stop', 'strata.a.media.m1.plainTransport.create'],
      deniedPublish: ['strata.a.room.r1.events', 'strata.a.recording.start', 'strata.a.heartbeat.media.m1', '$KV.strata-rooms.a.r1'],
      deniedSubscribe: ['strata.a.media.m1.room.open', 'strata.a.turn.credentials', 'strata.a.heartbeat.media.*'],
    },
  ];

  for (const row of matrix) {
    it(`${row.user}: publishes its own subjects, is refused another service's`, async () => {
      const admin = await login('admin', 'a-3');
      const seen = new Set<string>();
      admin.subscribe('strata.>', { callback: (_e, m) => seen.add(m.subject) });
      admin.subscribe('$KV.>', { callback: (_e, m) => seen.add(m.subject) });
      await admin.flush();
      const nc = await login(row.user, 'a-1');
      for (const s of row.publishes) {
        await waitFor(
          `${row.user} publishing ${s}`,
          async () => {
            nc.publish(s, 'x');
            await nc.flush();
            return seen.has(s) ? true : undefined;
          },
          5000,
          50,
        );
      }
      for (const s of row.deniedPublish) {
        const refused = permissionError(nc, s);
        nc.publish(s, 'x');
        await nc.flush();
        assert.equal(await refused, 'publish', `${row.user} publishing ${s}: expected a permissions violation`);
        assert.ok(!seen.has(s), `${s} reached the admin`);
      }
      for (const s of row.deniedSubscribe) {
        const refused = permissionError(nc, s);
        const subErr = new Promise<unknown>((resolve) => nc.subscribe(s, { callback: (err) => resolve(err) }));
        await nc.flush();
        assert.equal(await refused, 'subscription', `${row.user} subscribing to ${s}: expected a permissions violation`);
        // the subscription itself is told, and closed
        assert.match(String(await subErr), /permissions violation for subscription/i);
      }
      assert.ok(!nc.isClosed(), 'a refused message does not cost the connection');
    });
  }

  const Value = Type.Object({ n: Type.Integer() });

  it('opens the KV buckets each service uses with its user, and refuses the others', async () => {
    // signaling: rooms and peers, created here (bus.kv makes a missing bucket), region b's user through the gateway.
    const signaling = await bus('signaling', 'b-1');
    for (const bucket of [buckets.rooms, buckets.peers]) {
      const kv = await signaling.kv(bucket, Value);
      const rev = await kv.put('a.r1', { n: 1 });
      assert.deepEqual((await kv.get('a.r1'))?.value, { n: 1 });
      assert.equal(await kv.update('a.r1', { n: 2 }, rev), rev + 1);
      assert.equal(await kv.create('a.r1', { n: 3 }), null);
      assert.deepEqual(await kv.keys('a.*'), ['a.r1']);
      assert.equal(await kv.erase('a.r1', rev + 1), true);
      await kv.put('a.r2', { n: 1 });
      assert.equal(await kv.erase('a.r2'), true);
      assert.equal(await kv.get('a.r2'), null);
    }

    // recorder: its two buckets, read and write; strata-rooms opened and read, never written.
    const recorder = await bus('recorder', 'a-2');
    for (const bucket of [buckets.recordings, buckets.recordingLeases]) {
      const kv = await recorder.kv(bucket, Value);
      const rev = await kv.put('a.rec1', { n: 1 });
      assert.deepEqual(await kv.keys('a.*'), ['a.rec1']);
      assert.equal(await kv.erase('a.rec1', rev), true);
    }
    await (await signaling.kv(buckets.rooms, Value)).put('a.r3', { n: 7 });
    const rooms = await recorder.kv(buckets.rooms, Value);
    assert.deepEqual((await rooms.get('a.r3'))?.value, { n: 7 });
    await assert.rejects(rooms.put('a.r3', { n: 8 }), /Permissions Violation for Publish to "\$KV\.strata-rooms\.a\.r3"/);
    assert.deepEqual((await rooms.get('a.r3'))?.value, { n: 7 });

    // No KV for media, turn, geo-router; none for signaling in the recorder's buckets.
    for (const user of ['media', 'turn', 'geo-router'] as const) {
      const b = await bus(user, 'a-3');
      await assert.rejects(b.kv(buckets.rooms, Value), /Permissions Violation for Publish to "\$JS\.API\.INFO"/, `${user} opened ${buckets.rooms}`);
    }
    await assert.rejects(signaling.kv(buckets.recordings, Value), /Permissions Violation for Publish to "\$JS\.API\.STREAM\.INFO\.KV_strata-recordings"/);
  });

  it('runs the five services with their users: all healthy, a join across two gateways, TURN credentials, a recording, and the geo-router sees region b', async () => {
    const admin = await bus('admin', 'a-1');
    const beats = new Map<string, EventOf<typeof Heartbeat>>();
    admin.subscribe(Heartbeat, subjects.heartbeats('a'), (b) => void beats.set(b.id, b));
    const recordings = join(root, 'recordings');
    const base = { STRATA_REGION: 'a', HTTP_PORT: '0', HEARTBEAT_INTERVAL: '500ms', LOG_LEVEL: 'info' };
    const extra: Record<ServiceKind, Record<string, string>> = {
      signaling: { SIGNALING_JWT_SECRET: JWT_SECRET, SIGNALING_ADMIN_SECRET: ADMIN_SECRET },
      media: { MEDIA_NUM_WORKERS: '1' },
      turn: { TURN_PORT: '0', TURN_TLS_PORT: '0', TURN_SECRET: 'nats-deploy-turn-secret' },
      'geo-router': {},
      recorder: { RECORDER_DIR: recordings },
    };
    // Each on another node of region a (the cluster carries what they say to one another), as its own user.
    const on = ['a-1', 'a-2', 'a-3'];
    const started: { kind: ServiceKind; id: string }[] = [
      ...SERVICE_KINDS.map((kind) => ({ kind, id: `${kind}-1` })),
      { kind: 'signaling' as const, id: 'signaling-2' },
    ];
    for (const [i, { kind, id }] of started.entries()) {
      const user = kind as User;
      procs.push(
        spawnService(kind, {
          ...base,
          ...extra[kind],
          NATS_URL: node(on[i % on.length] as string).server.url,
          NATS_USER: user,
          NATS_PASSWORD: PASSWORDS[user],
          STRATA_NODE_ID: id,
        }),
      );
    }
    await Promise.all(started.map(({ id }, i) => untilHealthy(admin, procs[i] as ServiceProcess, 'a', id, 30_000)));

    // Two peers through two gateways: the room lives in strata-rooms and strata-peers, media on media-1.
    const ws = (id: string) => waitFor(`${id}'s WebSocket`, () => beats.get(id)?.endpoints['ws']);
    const alice = await RawSocket.open(await ws('signaling-1'));
    const bob = await RawSocket.open(await ws('signaling-2'));
    sockets.push(alice, bob);
    const a = await alice.request('join', { token: await mintJoinToken(JWT_SECRET, { room: 'deploy', identity: 'alice' }) });
    assert.ok(a.ok, JSON.stringify(a));
    const iceServers = a.data?.['iceServers'] as { urls: string[] }[] | undefined;
    assert.ok(
      iceServers?.some((s) => s.urls.some((u) => u.startsWith('turn:'))),
      `TURN credentials from the turn service: ${JSON.stringify(iceServers)}`,
    );
    const b = await bob.request('join', { token: await mintJoinToken(JWT_SECRET, { room: 'deploy', identity: 'bob' }) });
    assert.ok(b.ok, JSON.stringify(b));
    await alice.notification('peerJoined', (x) => x['peerId'] === b.data?.['peerId']);
    const t = await bob.request('createWebRtcTransport', { direction: 'recv' });
    assert.ok(t.ok, JSON.stringify(t));

    // A recording: signaling asks the recorder pool, the recorder writes its buckets and asks the media node.
    const httpUrl = beats.get('signaling-1')?.endpoints['http'];
    const res = await fetch(`${httpUrl}/api/rooms/deploy/recordings`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_SECRET}` } });
    const rec = (await res.json()) as { recordingId?: string };
    assert.equal(res.status, 200, JSON.stringify(rec));
    const got = await fetch(`${httpUrl}/api/recordings/${rec.recordingId}`, { headers: { authorization: `Bearer ${ADMIN_SECRET}` } });
    assert.equal(got.status, 200);

    // A media node of region b announces itself in b; the geo-router in a counts the region.
    const media = await bus('media', 'b-1');
    const beat = (): EventOf<typeof Heartbeat> => ({
      kind: 'media',
      id: 'media-b',
      region: 'b',
      version: '0.1.0',
      startedAt: Date.now(),
      ts: Date.now(),
      intervalMs: 500,
      endpoints: {},
      load: { score: 0.1, cpu: 0, rssBytes: 1, details: {} },
      draining: false,
    });
    await waitFor(
      'the geo-router in a to know region b',
      async () => {
        media.publish(Heartbeat, subjects.heartbeat('b', 'media', 'media-b'), beat());
        const h = await admin.request(Health, subjects.health('a', 'geo-router', 'geo-router-1'), {}, { timeoutMs: 500 }).catch(() => undefined);
        return h && h.checks['regionsKnown'] === 2 ? h : undefined;
      },
      10_000,
      250,
    );
    const route = await admin.request(GeoRoute, subjects.geoRoute('a'), { probes: [{ region: 'b', rttMs: 10 }] });
    assert.equal(route.region, 'b');

    for (const p of procs) assert.ok(!/PERMISSIONS_VIOLATION|Permissions Violation/i.test(p.output()), `${p.kind} hit a permissions violation:\n${p.output()}`);
  });

  it("keeps a bucket made with NATS_KV_REPLICAS=3 serving when the server leading its stream stops (last: it stops one of a's nodes)", async () => {
    const open = (on: string, kvReplicas?: number) =>
      Bus.connect({
        servers: node(on).server.url,
        name: `test-replicas-${on}`,
        logger: log,
        user: 'admin',
        pass: PASSWORDS.admin,
        inboxPrefix: '_INBOX.admin',
        ...(kvReplicas ? { kvReplicas } : {}),
      });
    const Value = Type.Object({ n: Type.Integer() });
    // A bucket made before with one replica keeps it, and the service says so once, with the fix.
    const earlier = await open('a-2');
    await earlier.kv('test-single', Value);
    await earlier.drain();
    const warned = memoryLogger();
    const upgraded = await Bus.connect({
      servers: node('a-2').server.url,
      name: 'test-replicas-warn',
      logger: warned.log,
      user: 'admin',
      pass: PASSWORDS.admin,
      inboxPrefix: '_INBOX.admin',
      kvReplicas: 3,
    });
    await upgraded.kv('test-single', Value);
    await upgraded.kv('test-single', Value);
    await upgraded.drain();
    const warnings = warned.lines().filter((l) => l['bucket'] === 'test-single');
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(String(warnings[0]?.['msg']), /has 1 replica\(s\), fewer than NATS_KV_REPLICAS.*nats stream edit KV_test-single --replicas 3/);

    const maker = await open('a-1', 3);
    const kv = await maker.kv('test-replicated', Value);
    // A new replicated stream answers once its group has elected a leader (503 "temporarily unavailable" until then).
    await waitFor('a first write to the new stream', () => kv.put('a.before', { n: 1 }).catch(() => undefined), 15_000, 100);
    const jsm = await maker.nc.jetstreamManager();
    const info = await waitFor(
      'the stream info with its leader and both replicas current',
      () =>
        jsm.streams
          .info(kv.stream)
          .then((i) => (i.cluster?.leader && i.cluster.replicas?.length === 2 && i.cluster.replicas.every((r) => r.current) ? i : undefined))
          .catch(() => undefined),
      15_000,
      100,
    );
    assert.equal(info.config.num_replicas, 3);
    assert.equal(info.cluster?.name, 'a');
    const leader = info.cluster?.leader ?? '';
    assert.ok(leader.startsWith('a-'), `leader ${leader}`);
    assert.deepEqual(
      info.cluster?.replicas?.map((r) => r.name).sort(),
      ['a-1', 'a-2', 'a-3'].filter((n) => n !== leader),
    );
    await maker.drain();
    // The hard case, every run: the server that stops leads JetStream's meta group too, so for a
    // while after it stops the stream has a leader again but the cluster has none, and stream info
    // (which listings read) is answered 503 "temporarily unavailable". The meta group steps down
    // until its leader is the stream's (each step elects one of the other two).
    const sys = await login('sys', 'a-1');
    const metaLeader = async (): Promise<string | undefined> =>
      (await monitor<{ meta_cluster?: { leader?: string } }>(node('a-1'), '/jsz')).meta_cluster?.leader;
    for (let step = 0; (await metaLeader()) !== leader; step++) {
      assert.ok(step < 30, `the meta group never elected ${leader}`);
      const before = await metaLeader();
      await sys.request('$JS.API.META.LEADER.STEPDOWN', undefined, { timeout: 5000 }).catch(() => undefined);
      await waitFor(
        'a new meta leader',
        async () => {
          const now = await metaLeader();
          return now && now !== before ? true : undefined;
        },
        15_000,
        100,
      );
    }

    const survivor = ['a-1', 'a-2', 'a-3'].find((n) => n !== leader) as string;
    const reader = await open(survivor);
    try {
      // Opening the bucket right after those elections may go unanswered for a while (TIMEOUT).
      const after = await waitFor('the bucket opened on a survivor', () => reader.kv('test-replicated', Value).catch(() => undefined), 30_000, 250);
      await node(leader).server.stop();
      // A new leader is elected among the two left; writes wait for it, reads come from a replica,
      // and the listing asks again until the meta group has a leader too.
      await waitFor('a write after the leader stopped', () => after.put('a.after', { n: 2 }).catch(() => undefined), 30_000, 250);
      assert.deepEqual((await after.get('a.before'))?.value, { n: 1 });
      assert.deepEqual((await after.get('a.after'))?.value, { n: 2 });
      assert.deepEqual((await after.list('a.*')).map((e) => e.key).sort(), ['a.after', 'a.before']);
      const now = await waitFor(
        'stream info from the new leaders',
        () =>
          reader.nc
            .jetstreamManager()
            .then((m) => m.streams.info(after.stream))
            .catch(() => undefined),
        30_000,
        250,
      );
      assert.ok(now.cluster?.leader && now.cluster.leader !== leader, `new leader ${now.cluster?.leader}`);
    } finally {
      await reader.drain();
    }
  });
});

describe('deploy/nats standalone.conf (one machine, as the compose stack runs it)', { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-nats-standalone-'));
  let server: NatsServer | undefined;
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves JetStream KV alone, with no cluster to wait for, and needs no route variables', async () => {
    const [client, monitorPort] = [await freePort(), await freePort()];
    for (const f of ['standalone.conf', 'accounts.conf']) copyFileSync(join(DEPLOY, f), join(dir, f));
    const conf = join(dir, 'standalone.conf');
    const text = readFileSync(conf, 'utf8');
    assert.match(text, /^port: 4222$/m);
    assert.match(text, /^http_port: 8222$/m);
    writeFileSync(conf, text.replace(/^port: 4222$/m, `host: ${HOST}\nport: ${client}`).replace(/^http_port: 8222$/m, `http: "${HOST}:${monitorPort}"`));
    const { NATS_ROUTE_PASSWORD: _route, NATS_GATEWAY_PASSWORD: _gw, ...secrets } = SECRETS;
    server = await startNatsServer({
      binary: START,
      port: client,
      host: HOST,
      jetstream: false,
      args: ['-c', conf],
      env: { ...secrets, NATS_SERVER_NAME: 'solo-1', STRATA_REGION: 'solo', NATS_STORE_DIR: join(dir, 'jetstream') },
      startTimeoutMs: 15_000,
    });
    const health = await waitFor('the monitor /healthz to answer 200 (JetStream ready)', async () => {
      const res = await fetch(`http://${HOST}:${monitorPort}/healthz`).catch(() => undefined);
      return res?.status === 200 ? res.status : undefined;
    });
    assert.equal(health, 200);
    const nc = await connect({ servers: server.url, user: 'admin', pass: PASSWORDS.admin, inboxPrefix: '_INBOX.admin' });
    try {
      const kv = await nc.jetstream().views.kv('standalone-check');
      await kv.put('k', 'v');
      assert.equal((await kv.get('k'))?.string(), 'v');
    } finally {
      await nc.close();
    }
  });
});
