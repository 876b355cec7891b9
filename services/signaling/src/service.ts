import { Heartbeat, PeerRecord, RoomPlacement, buckets, subjects } from '@strata/protocol';
import { advertisedHost, gauge, type ServiceDefinition } from '@strata/service';
import { fileURLToPath } from 'node:url';
import { signalingConfig } from './config.js';
import { mountAdminRoutes } from './admin-routes.js';
import { mountHttpRoutes } from './http-routes.js';
import { Recordings } from './recordings.js';
import { BusMediaNodes } from './media-client.js';
import { gatewayLoad } from './load.js';
import { MediaDirectory } from './media-directory.js';
import { PeerStore } from './peer-store.js';
import { PlacementStore } from './placement-store.js';
import { RegionStatus } from './region-status.js';
import { RoomHub } from './room-hub.js';
import { RoomPlacer } from './room-placer.js';
import { SessionManager } from './session-manager.js';
import { loadStaticFiles } from './static-files.js';
import { loadNativeUws } from './uws.js';
import { WsGateway } from './ws-gateway.js';

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

export const signalingService: ServiceDefinition<typeof signalingConfig> = {
  kind: 'signaling',
  version: '0.1.0',
  config: signalingConfig,
  ownsHttp: true,
  async start({ config, log, bus, region, nodeId, report, metrics }) {
    const uws = loadNativeUws();
    if (config.SIGNALING_JWT_SECRET === 'strata-dev-secret-change-me')
      log.warn('SIGNALING_JWT_SECRET is the development default: set a real secret outside local development');

    // Wiring: shared state lives in JetStream KV, room traffic on NATS subjects.
    const [roomsKv, peersKv] = await Promise.all([bus.kv(buckets.rooms, RoomPlacement), bus.kv(buckets.peers, PeerRecord)]);
    const status = new RegionStatus();
    // A node silent for three heartbeat intervals is gone, as for every other service.
    const directory = new MediaDirectory(3 * config.HEARTBEAT_INTERVAL);
    const hub = new RoomHub(bus, region);
    const media = new BusMediaNodes(bus, region, config.SIGNALING_REQUEST_TIMEOUT);
    const placer = new RoomPlacer(media, new PlacementStore(roomsKv, region), directory, { legSize: config.SIGNALING_ROOM_LEG_SIZE }, log);
    // A start sets every track of the room up before it answers: more than one media request's time.
    // Reads (get, list) get 1.5 request timeouts in all: 7.5 s by default, inside a client's 10 s.
    const recordings = new Recordings(bus, region, Math.max(15_000, 3 * config.SIGNALING_REQUEST_TIMEOUT), Math.ceil(1.5 * config.SIGNALING_REQUEST_TIMEOUT));
    const sessions = new SessionManager(
      bus,
      media,
      new PeerStore(peersKv),
      placer,
      hub,
      {
        region,
        gatewayId: nodeId,
        jwtSecret: config.SIGNALING_JWT_SECRET,
        graceMs: config.SIGNALING_RESUME_GRACE,
        turn: config.SIGNALING_TURN,
        recordings,
      },
      log,
    );
    await sessions.start();
    // A nats-server restarted without its JetStream state forgot every record and placement: write ours again.
    const offReconnect = bus.onReconnect(
      () => void sessions.storeGeneration().catch((err: unknown) => log.warn({ err }, 'peer store not checked after reconnect')),
    );
    const gateway = new WsGateway(
      sessions,
      {
        maxFrameBytes: config.SIGNALING_MAX_FRAME_BYTES,
        ratePerSec: config.SIGNALING_RATE_LIMIT,
        burst: config.SIGNALING_RATE_BURST,
        idleTimeoutMs: config.SIGNALING_IDLE_TIMEOUT,
      },
      log,
    );
    const subs = [
      bus.subscribe(Heartbeat, subjects.heartbeats(region), (beat) => {
        status.observe(beat);
        if (beat.kind === 'media') directory.observe(beat);
      }),
    ];

    // Sessions of gateways that died. Wait a few heartbeats first: until other gateways have
    // been heard from, every one of them would look dead.
    const sweepStart = Date.now() + Math.max(6000, 3 * config.HEARTBEAT_INTERVAL);
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (Date.now() < sweepStart || sweeping) return;
      sweeping = true;
      sessions
        .sweepIfDue(status.liveIds('signaling'))
        .then((n) => n > 0 && log.info({ removed: n }, 'expired sessions of gone gateways'))
        .catch((err: unknown) => log.warn({ err }, 'orphan sweep failed'))
        .finally(() => (sweeping = false));
    }, config.SIGNALING_SWEEP_INTERVAL);
    sweeper.unref();

    // Sessions whose media node is gone move to a live leg of their room.
    let moving = false;
    const mover = setInterval(() => {
      if (moving) return;
      moving = true;
      sessions
        .moveOffGoneNodes((nodeId) => directory.isGone(nodeId))
        .then((n) => n > 0 && log.info({ moved: n }, 'sessions moved off gone media nodes'))
        .catch((err: unknown) => log.warn({ err }, 'moving sessions off gone media nodes failed'))
        .finally(() => (moving = false));
    }, config.HEARTBEAT_INTERVAL);
    mover.unref();

    const { files, missing } = loadStaticFiles(PUBLIC_DIR, ['index.html', 'demo.js']);
    if (missing.length) log.warn({ missing }, 'demo page files missing: run `npm run build:web -w @strata/signaling`');
    let publicUrl = '';
    const app = uws.App();
    gateway.mount(app);
    mountAdminRoutes(app, { secret: config.SIGNALING_ADMIN_SECRET, recordings, log });
    mountHttpRoutes(app, {
      region,
      report,
      metrics,
      status,
      files,
      devTokens: config.SIGNALING_DEV_TOKENS ? { secret: config.SIGNALING_JWT_SECRET, wsUrl: () => `${publicUrl.replace(/^http/, 'ws')}/rtc` } : undefined,
    });

    const listenSocket = await new Promise<unknown>((resolve, reject) => {
      app.listen(config.HTTP_HOST, config.HTTP_PORT, (socket) =>
        socket ? resolve(socket) : reject(new Error(`cannot listen on ${config.HTTP_HOST}:${config.HTTP_PORT}`)),
      );
    });
    const port = uws.us_socket_local_port(listenSocket as Parameters<typeof uws.us_socket_local_port>[0]);
    publicUrl = config.SIGNALING_PUBLIC_URL || `http://${advertisedHost(config)}:${port}`;
    log.info({ url: publicUrl }, `Strata ${region}: open ${publicUrl}/?room=demo`);

    return {
      endpoints: () => ({ http: publicUrl, ws: `${publicUrl.replace(/^http/, 'ws')}/rtc` }),
      load: (sample) =>
        gatewayLoad(
          {
            sockets: gateway.socketCount,
            sessions: sessions.size,
            connected: sessions.connected,
            graceTimers: sessions.graceTimers,
            rooms: hub.roomCount,
            roomSubscriptions: hub.subscriptionCount,
          },
          config.SIGNALING_SESSION_CAPACITY,
          sample,
        ),
      health: () => ({ mediaNodes: directory.size }),
      metrics: () => [
        gauge('strata_signaling_sockets', 'WebSockets open on this gateway.', gateway.socketCount),
        gauge('strata_signaling_sessions', 'Sessions held by this gateway, connected or within their resume grace.', sessions.size),
        gauge('strata_signaling_sessions_connected', 'Sessions with a socket attached.', sessions.connected),
        gauge('strata_signaling_session_capacity', 'Sessions this gateway is sized for (SIGNALING_SESSION_CAPACITY).', config.SIGNALING_SESSION_CAPACITY),
        gauge('strata_signaling_rooms', 'Rooms this gateway has sessions in.', hub.roomCount),
        gauge('strata_signaling_media_nodes', 'Live media nodes this gateway knows of.', directory.size),
      ],
      async close() {
        offReconnect();
        clearInterval(sweeper);
        clearInterval(mover);
        for (const s of subs) s.unsubscribe();
        uws.us_listen_socket_close(listenSocket as Parameters<typeof uws.us_listen_socket_close>[0]);
        gateway.closeAll();
        await sessions.detachAll();
      },
    };
  },
};
