import { ConfigError } from '@strata/config';
import { gauge, type ServiceDefinition } from '@strata/service';
import { mediaConfig } from './config.js';
import { farLegs, mediaEventPublisher, serveMediaApi } from './handlers.js';
import { NodeWatch } from './node-watch.js';
import { RoomRegistry } from './room-registry.js';
import { WorkerPool } from './worker-pool.js';

/** mediasoup's rule of thumb for one worker (one core) with WebRTC consumers. */
const CONSUMERS_PER_WORKER = 500;
/** Requests between the legs of a room: nodes of one region answer in milliseconds; past this one is taken for gone. */
const LINK_REQUEST_TIMEOUT_MS = 3000;
/** How often a leg checks that the legs it has links with are still there. */
const LINK_CHECK_MS = 5000;
/** How long a consume of another leg's producer waits to hear of it (a client may hear first). */
const REMOTE_PRODUCER_WAIT_MS = 1000;

export const mediaService: ServiceDefinition<typeof mediaConfig> = {
  kind: 'media',
  version: '0.1.0',
  config: mediaConfig,
  async start({ config, log, bus, region, nodeId }) {
    if (config.MEDIA_RTC_MIN_PORT > config.MEDIA_RTC_MAX_PORT) throw new ConfigError(['MEDIA_RTC_MIN_PORT: above MEDIA_RTC_MAX_PORT']);
    const pool = await WorkerPool.create(
      {
        numWorkers: config.MEDIA_NUM_WORKERS,
        listenIp: config.MEDIA_LISTEN_IP,
        announcedAddress: config.MEDIA_ANNOUNCED_ADDRESS || undefined,
        rtcPort: config.MEDIA_RTC_PORT,
        rtcMinPort: config.MEDIA_RTC_MIN_PORT,
        rtcMaxPort: config.MEDIA_RTC_MAX_PORT,
        logLevel: config.MEDIA_WORKER_LOG_LEVEL,
      },
      log,
      (worker, err) => log.error({ err, pid: worker.pid }, 'mediasoup worker died; its rooms are gone'),
    );
    const maxConsumers = config.MEDIA_MAX_CONSUMERS || CONSUMERS_PER_WORKER * config.MEDIA_NUM_WORKERS;
    const publish = mediaEventPublisher(bus, region, nodeId);
    const rooms = new RoomRegistry(
      pool,
      {
        nodeId,
        region,
        link: {
          listenIp: config.MEDIA_LINK_LISTEN_IP || config.MEDIA_LISTEN_IP,
          announcedAddress: config.MEDIA_LINK_ANNOUNCED_ADDRESS || undefined,
          srtp: config.MEDIA_LINK_SRTP,
          lingerMs: config.MEDIA_LINK_LINGER,
        },
        remoteProducerWaitMs: REMOTE_PRODUCER_WAIT_MS,
        linkCheckMs: LINK_CHECK_MS,
        bus,
        far: farLegs(bus, region, LINK_REQUEST_TIMEOUT_MS),
        idleTimeoutMs: config.MEDIA_ROOM_IDLE_TIMEOUT,
        speakerIntervalMs: config.MEDIA_ACTIVE_SPEAKER_INTERVAL,
        speakers: {
          k: config.MEDIA_SPEAKERS_K,
          holdMs: config.MEDIA_SPEAKER_HOLD,
          intervalMs: config.MEDIA_AUDIO_LEVEL_INTERVAL,
          threshold: config.MEDIA_AUDIO_LEVEL_THRESHOLD,
          // Two missed reports in a row: that leg's speakers have stopped.
          silentAfterMs: 2 * config.MEDIA_AUDIO_LEVEL_INTERVAL + 100,
        },
        maxConsumers,
        initialOutgoingBitrate: config.MEDIA_INITIAL_OUTGOING_BITRATE,
        listenIp: config.MEDIA_LISTEN_IP,
        announcedAddress: config.MEDIA_ANNOUNCED_ADDRESS || undefined,
      },
      (room) => publish(room.roomId),
      log,
    );
    let workerCpuMicros = 0;
    const cpuTimer = setInterval(() => {
      void pool.cpuMicrosSinceLastSample().then((us) => (workerCpuMicros += us));
    }, config.HEARTBEAT_INTERVAL);
    cpuTimer.unref();

    const subs = serveMediaApi(bus, region, nodeId, rooms);
    const nodes = new NodeWatch(bus, region, nodeId, config.HEARTBEAT_INTERVAL, (gone) => rooms.nodeGone(gone), log);

    return {
      health: () => ({ workers: pool.alive().length, workersOk: pool.alive().length === config.MEDIA_NUM_WORKERS, rooms: rooms.size }),
      load: () => {
        const extraCpuMicros = workerCpuMicros;
        workerCpuMicros = 0;
        const t = rooms.totals();
        return { score: Math.min(1, t.consumers / maxConsumers), extraCpuMicros, details: { workers: pool.alive().length, ...t, maxConsumers } };
      },
      metrics: () => {
        const t = rooms.totals();
        return [
          gauge('strata_media_workers', 'mediasoup workers alive.', pool.alive().length),
          gauge('strata_media_rooms', 'Rooms (mediasoup routers) open on this node.', t.routers),
          gauge('strata_media_transports', 'WebRTC transports open.', t.transports),
          gauge('strata_media_producers', 'Producers (incoming tracks) open.', t.producers),
          gauge('strata_media_consumers', 'Consumers (outgoing tracks) open.', t.consumers),
          gauge(
            'strata_media_consumer_capacity',
            'Consumers this node admits (MEDIA_MAX_CONSUMERS, or a share per worker); its load score is consumers over this.',
            maxConsumers,
          ),
          gauge('strata_media_cascade_links', 'Cascade links to other media nodes.', t.links),
        ];
      },
      async close() {
        clearInterval(cpuTimer);
        nodes.close();
        for (const s of subs) s.unsubscribe();
        rooms.closeAll();
        await pool.close();
      },
    };
  },
};
