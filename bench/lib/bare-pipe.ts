/**
 * The baseline of the link benchmarks: mediasoup's own way of getting a producer of one router
 * to another, `router.pipeToRouter()`, in the benchmark's process with nothing of ours around
 * it. Two workers (two processes, as our two media nodes are), one router each with the media
 * service's codecs; the producer on A from a comedia plain transport, far subscribers on B on
 * plain transports to UDP sockets, exactly like the far subscribers on our node Y.
 */
import * as mediasoup from 'mediasoup';
import type { types } from 'mediasoup';
import { MEDIA_CODECS } from '../../services/media/src/codecs.js';
import { waitGone } from './cpu.js';

const IP = '127.0.0.1';

export interface Piped {
  pipeConsumer: types.Consumer;
  pipeProducer: types.Producer;
}

export class BarePipe {
  /** The pipe transport on A (the sending end), once pipeToRouter() made the pair. */
  pipeTransportA: types.PipeTransport | undefined;

  private constructor(
    readonly workers: [types.Worker, types.Worker],
    readonly routerA: types.Router,
    readonly routerB: types.Router,
  ) {
    // pipeToRouter() keeps its transport pair to itself; the router's observer shows it.
    routerA.observer.on('newtransport', (t) => {
      if (t.type === 'pipe') this.pipeTransportA = t as types.PipeTransport;
    });
  }

  static async create(opts: { rtcMinPort: number; rtcMaxPort: number }): Promise<BarePipe> {
    const settings = { logLevel: 'warn' as const, rtcMinPort: opts.rtcMinPort, rtcMaxPort: opts.rtcMaxPort };
    const workers = [await mediasoup.createWorker(settings), await mediasoup.createWorker(settings)] as [types.Worker, types.Worker];
    try {
      const routerA = await workers[0].createRouter({ mediaCodecs: MEDIA_CODECS });
      const routerB = await workers[1].createRouter({ mediaCodecs: MEDIA_CODECS });
      return new BarePipe(workers, routerA, routerB);
    } catch (err) {
      for (const w of workers) w.close();
      throw err;
    }
  }

  /** A comedia plain transport on A and a producer on it: where a sender sends. */
  async ingest(kind: types.MediaKind, rtpParameters: types.RtpParameters): Promise<{ port: number; producer: types.Producer }> {
    const t = await this.routerA.createPlainTransport({ listenInfo: { protocol: 'udp', ip: IP }, comedia: true, rtcpMux: true });
    const producer = await t.produce({ kind, rtpParameters });
    return { port: t.tuple.localPort, producer };
  }

  pipe(producerId: string): Promise<Piped> {
    return this.routerA.pipeToRouter({ producerId, router: this.routerB, listenInfo: { protocol: 'udp', ip: IP } }) as Promise<Piped>;
  }

  /** A far subscriber's transport on B, sending to `sinkPort`. */
  async subscriberTransport(sinkPort: number): Promise<types.PlainTransport> {
    const t = await this.routerB.createPlainTransport({ listenInfo: { protocol: 'udp', ip: IP }, comedia: false, rtcpMux: true });
    await t.connect({ ip: IP, port: sinkPort });
    return t;
  }

  /** A consumer on B, created paused and then resumed as the media service does, at `spatialLayer` if given. */
  async consume(transport: types.PlainTransport, producerId: string, spatialLayer?: number): Promise<types.Consumer> {
    const c = await transport.consume({ producerId, rtpCapabilities: this.routerB.rtpCapabilities, paused: true });
    if (spatialLayer !== undefined) await c.setPreferredLayers({ spatialLayer });
    await c.resume();
    return c;
  }

  async close(): Promise<void> {
    for (const w of this.workers) {
      if (w.closed) continue;
      w.close();
      if (!(await waitGone(w.pid))) throw new Error(`mediasoup worker ${w.pid} still there after close()`);
    }
  }
}
