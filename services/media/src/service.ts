import { MediaRoomClose, MediaRoomOpen, subjects } from '@strata/protocol';
import type { ServiceDefinition } from '@strata/service';
import { mediaConfig } from './config.js';
import { RoomRegistry } from './rooms.js';
import { WorkerPool } from './worker-pool.js';

export const mediaService: ServiceDefinition<typeof mediaConfig> = {
  kind: 'media',
  version: '0.1.0',
  config: mediaConfig,
  async start({ config, log, bus, region, nodeId }) {
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
    const rooms = new RoomRegistry(pool, log);
    let workerCpuMicros = 0;
    const cpuTimer = setInterval(() => {
      void pool.cpuMicrosSinceLastSample().then((us) => (workerCpuMicros += us));
    }, config.HEARTBEAT_INTERVAL);
    cpuTimer.unref();

    // Handlers
    const subs = [
      bus.serve(MediaRoomOpen, subjects.media(region, nodeId, 'room.open'), async ({ roomId }) => {
        const room = await rooms.open(roomId);
        return { routerId: room.router.id, rtpCapabilities: room.router.rtpCapabilities as Record<string, unknown> };
      }),
      bus.serve(MediaRoomClose, subjects.media(region, nodeId, 'room.close'), ({ roomId }) => ({ closed: rooms.close(roomId) })),
    ];

    return {
      health: () => ({ workers: pool.alive().length, workersOk: pool.alive().length === config.MEDIA_NUM_WORKERS, rooms: rooms.size }),
      load: () => {
        const extraCpuMicros = workerCpuMicros;
        workerCpuMicros = 0;
        return { score: rooms.size === 0 ? 0 : Math.min(1, rooms.size / (config.MEDIA_NUM_WORKERS * 100)), extraCpuMicros, details: { workers: pool.alive().length, routers: rooms.size } };
      },
      async close() {
        clearInterval(cpuTimer);
        for (const s of subs) s.unsubscribe();
        pool.close();
      },
    };
  },
};

