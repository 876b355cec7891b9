/**
 * The baseline: the same forwarding set-up written directly against mediasoup, in the
 * benchmark's own process. Same router codecs as the media service (imported from it), same
 * worker log level, the same PlainTransports, producers and consumers; consumers are created
 * paused and then resumed, as the media service does.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from '../../services/media/src/codecs.js';
import { procCpuMs, selfCpuMs, waitGone } from './cpu.js';
import { AUDIO_RTP_PARAMETERS, VIDEO_RTP_PARAMETERS, firstSsrc, type Ingest, type Receiver } from './media-params.js';
import { mapLimit, type CpuSample, type ForwardingSetup } from './setup.js';

const IP = '127.0.0.1';

export interface BareOptions {
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: types.WorkerLogLevel;
}

export class BareForwarding implements ForwardingSetup {
  readonly name = 'bare';
  readonly receivers: Receiver[] = [];
  private readonly transports: types.PlainTransport[] = [];

  private constructor(
    readonly worker: types.Worker,
    readonly router: types.Router,
    readonly ingest: Ingest,
    private readonly videoProducer: types.Producer,
    private readonly audioProducer: types.Producer,
  ) {}

  static async create(opts: BareOptions): Promise<BareForwarding> {
    const worker = await mediasoup.createWorker({ logLevel: opts.logLevel ?? 'warn', rtcMinPort: opts.rtcMinPort, rtcMaxPort: opts.rtcMaxPort });
    try {
      const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      const listenInfo: types.TransportListenInfo = { protocol: 'udp', ip: IP };
      const videoIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
      const audioIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true });
      const videoProducer = await videoIn.produce({ kind: 'video', rtpParameters: VIDEO_RTP_PARAMETERS });
      const audioProducer = await audioIn.produce({ kind: 'audio', rtpParameters: AUDIO_RTP_PARAMETERS });
      const ingest: Ingest = { video: { ip: IP, port: videoIn.tuple.localPort }, audio: { ip: IP, port: audioIn.tuple.localPort } };
      return new BareForwarding(worker, router, ingest, videoProducer, audioProducer);
    } catch (err) {
      worker.close();
      throw err;
    }
  }

  async addReceivers(sinkPorts: number[]): Promise<void> {
    const created = await mapLimit(sinkPorts, 8, async (sinkPort) => {
      const t = await this.router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: IP }, comedia: false, rtcpMux: true });
      this.transports.push(t);
      await t.connect({ ip: IP, port: sinkPort });
      const consume = async (producer: types.Producer): Promise<number> => {
        const c = await t.consume({ producerId: producer.id, rtpCapabilities: this.router.rtpCapabilities, paused: true });
        await c.resume();
        return firstSsrc(c.rtpParameters);
      };
      const videoSsrc = await consume(this.videoProducer);
      const audioSsrc = await consume(this.audioProducer);
      return { sinkPort, transportPort: t.tuple.localPort, videoSsrc, audioSsrc };
    });
    this.receivers.push(...created);
  }

  async setForwarding(on: boolean): Promise<void> {
    for (const p of [this.videoProducer, this.audioProducer]) await (on ? p.resume() : p.pause());
  }

  async cpu(): Promise<CpuSample> {
    const ru = await this.worker.getResourceUsage();
    return { workerMs: ru.ru_utime + ru.ru_stime, controlMs: selfCpuMs() };
  }

  /** The same worker figure read from /proc, to check it against getResourceUsage(). */
  workerProcCpuMs(): number | undefined {
    return procCpuMs(this.worker.pid);
  }

  describe(): string {
    return `bare: worker pid ${this.worker.pid} (getResourceUsage), controller = benchmark pid ${process.pid} (process.cpuUsage)`;
  }

  async close(): Promise<void> {
    if (this.worker.closed) return;
    const closed = new Promise<void>((resolve) => this.worker.observer.once('close', () => resolve()));
    this.worker.close();
    await closed;
    if (!(await waitGone(this.worker.pid))) throw new Error(`mediasoup worker ${this.worker.pid} still there after close()`);
  }
}
