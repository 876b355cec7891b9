/**
 * The baseline: the same forwarding set-up written directly against mediasoup, in the
 * benchmark's own process. Same router codecs as the media service (imported from it), same
 * worker log level, the same PlainTransports, producers and consumers; consumers are created
 * paused and then resumed, as the media service does.
 */
import * as mediasoup from 'mediasoup';
import type { SrtpParameters } from '@strata/protocol';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from '../../services/media/src/codecs.js';
import { linkCapabilities } from '../../services/media/src/link.js';
import { procCpuMs, selfCpuMs, waitGone } from './cpu.js';
import { randomSrtpParameters } from '../../libs/harness/src/srtp.js';
import {
  AUDIO_RTP_PARAMETERS,
  INGEST_SRTP_SUITE,
  VIDEO_RTP_PARAMETERS,
  firstSsrc,
  type ConsumerCaps,
  type Ingest,
  type Receiver,
  type SrtpMode,
} from './media-params.js';
import { mapLimit, type CpuSample, type ForwardingSetup } from './setup.js';

const IP = '127.0.0.1';

export interface BareOptions {
  rtcMinPort: number;
  rtcMaxPort: number;
  logLevel?: types.WorkerLogLevel;
  /** SRTP on every transport, as the media service is asked for it (bench/forwarding.ts --srtp). */
  srtp?: SrtpMode;
  /** Consumers with the router's capabilities, or a link's (bench/forwarding.ts --caps). */
  caps?: ConsumerCaps;
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
    private readonly srtp: SrtpMode | undefined,
    private readonly consumerCaps: types.RtpCapabilities,
  ) {}

  static async create(opts: BareOptions): Promise<BareForwarding> {
    const worker = await mediasoup.createWorker({ logLevel: opts.logLevel ?? 'warn', rtcMinPort: opts.rtcMinPort, rtcMaxPort: opts.rtcMaxPort });
    try {
      const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
      const listenInfo: types.TransportListenInfo = { protocol: 'udp', ip: IP };
      const srtpIn = opts.srtp ? { enableSrtp: true, srtpCryptoSuite: INGEST_SRTP_SUITE } : {};
      const videoIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true, ...srtpIn });
      const audioIn = await router.createPlainTransport({ listenInfo, comedia: true, rtcpMux: true, ...srtpIn });
      // comedia: connect() only hands over the key ffmpeg encrypts with.
      if (opts.srtp) for (const t of [videoIn, audioIn]) await t.connect({ srtpParameters: { ...opts.srtp.ingestKey } });
      const videoProducer = await videoIn.produce({ kind: 'video', rtpParameters: VIDEO_RTP_PARAMETERS });
      const audioProducer = await audioIn.produce({ kind: 'audio', rtpParameters: AUDIO_RTP_PARAMETERS });
      const ingest: Ingest = { video: { ip: IP, port: videoIn.tuple.localPort }, audio: { ip: IP, port: audioIn.tuple.localPort } };
      const caps = opts.caps === 'link' ? linkCapabilities(router.rtpCapabilities) : router.rtpCapabilities;
      return new BareForwarding(worker, router, ingest, videoProducer, audioProducer, opts.srtp, caps);
    } catch (err) {
      worker.close();
      throw err;
    }
  }

  async addReceivers(sinkPorts: number[]): Promise<void> {
    const created = await mapLimit(sinkPorts, 8, async (sinkPort) => {
      const srtp = this.srtp;
      const t = await this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: IP },
        comedia: false,
        rtcpMux: true,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp.suite } : {}),
      });
      this.transports.push(t);
      // The sink sends nothing, but an SRTP transport needs the far side's key all the same.
      await t.connect({ ip: IP, port: sinkPort, ...(srtp ? { srtpParameters: { ...randomSrtpParameters(srtp.suite) } } : {}) });
      const consume = async (producer: types.Producer): Promise<number> => {
        const c = await t.consume({ producerId: producer.id, rtpCapabilities: this.consumerCaps, paused: true });
        await c.resume();
        return firstSsrc(c.rtpParameters);
      };
      const videoSsrc = await consume(this.videoProducer);
      const audioSsrc = await consume(this.audioProducer);
      return {
        sinkPort,
        transportPort: t.tuple.localPort,
        videoSsrc,
        audioSsrc,
        ...(t.srtpParameters ? { srtp: { ...t.srtpParameters } as SrtpParameters } : {}),
      };
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
