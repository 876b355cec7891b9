import type { Logger } from '@strata/telemetry';
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';

export interface PoolOptions {
  numWorkers: number;
  listenIp: string;
  announcedAddress: string | undefined;
  /** 0: every WebRtcServer picks free ports. */
  rtcPort: number;
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel: types.WorkerLogLevel;
}

export interface PooledWorker {
  readonly worker: types.Worker;
  readonly webRtcServer: types.WebRtcServer;
  /** Routers living on this worker; placement picks the worker with the fewest. */
  routers: number;
  /** ru_utime + ru_stime in ms at the last sample. */
  lastCpuMs: number;
}

/**
 * One mediasoup worker per core, each with one WebRtcServer: every WebRTC transport of that
 * worker shares one UDP and one TCP port, so a node needs two open ports per core, not per peer.
 */
export class WorkerPool {
  private constructor(
    readonly workers: PooledWorker[],
    private readonly log: Logger,
  ) {}

  static async create(opts: PoolOptions, log: Logger, onWorkerDied: (w: types.Worker, err: Error) => void): Promise<WorkerPool> {
    const workers: PooledWorker[] = [];
    for (let i = 0; i < opts.numWorkers; i++) {
      const worker = await mediasoup.createWorker({ logLevel: opts.logLevel, rtcMinPort: opts.rtcMinPort, rtcMaxPort: opts.rtcMaxPort, appData: { index: i } });
      worker.on('died', (err) => onWorkerDied(worker, err));
      const listen = (protocol: 'udp' | 'tcp'): types.TransportListenInfo => ({
        protocol,
        ip: opts.listenIp,
        ...(opts.announcedAddress ? { announcedAddress: opts.announcedAddress } : {}),
        ...(opts.rtcPort ? { port: opts.rtcPort + i } : {}),
      });
      const webRtcServer = await worker.createWebRtcServer({ listenInfos: [listen('udp'), listen('tcp')] });
      workers.push({ worker, webRtcServer, routers: 0, lastCpuMs: 0 });
    }
    log.info({ workers: workers.map((w) => w.worker.pid), mediasoup: mediasoup.version }, 'mediasoup workers started');
    return new WorkerPool(workers, log);
  }

  alive(): PooledWorker[] {
    return this.workers.filter((w) => !w.worker.died && !w.worker.closed);
  }

  /** The live worker with the fewest routers. */
  leastLoaded(): PooledWorker | undefined {
    let best: PooledWorker | undefined;
    for (const w of this.alive()) if (!best || w.routers < best.routers) best = w;
    return best;
  }

  /** CPU the workers used since the previous call, in microseconds. */
  async cpuMicrosSinceLastSample(): Promise<number> {
    let total = 0;
    await Promise.all(
      this.alive().map(async (w) => {
        try {
          const ru = await w.worker.getResourceUsage();
          const ms = ru.ru_utime + ru.ru_stime;
          total += Math.max(0, ms - w.lastCpuMs) * 1000;
          w.lastCpuMs = ms;
        } catch (err) {
          this.log.debug({ err, pid: w.worker.pid }, 'resource usage not available');
        }
      }),
    );
    return total;
  }

  /** Closes the workers and waits (up to 2 s) for their processes to exit, so none outlives us. */
  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.worker.subprocessClosed) return resolve();
            const t = setTimeout(resolve, 2000);
            w.worker.once('subprocessclose', () => {
              clearTimeout(t);
              resolve();
            });
            w.worker.close();
          }),
      ),
    );
  }
}
