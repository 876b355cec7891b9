/**
 * "Ours": the real media service (services/media/src/main.ts) as its own process with one
 * worker, driven over NATS through @strata/bus with the media node operations of
 * @strata/protocol, exactly as signaling would drive it. Its CPU is the service's Node process
 * plus its mediasoup worker child, both read from /proc.
 */
import { Bus } from '@strata/bus';
import { startNatsServer, type NatsServer } from '@strata/nats-server';
import { ManagedProcess, ProcessStartError } from '@strata/process';
import {
  Health,
  MediaConsume,
  MediaConsumerAction,
  MediaPlainTransportConnect,
  MediaPlainTransportCreate,
  MediaProduce,
  MediaProducerAction,
  MediaRoomOpen,
  StrataError,
  subjects,
  type RequestOf,
  type ResponseOf,
} from '@strata/protocol';
import { createLogger } from '@strata/telemetry';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childPids, procCpuMs, waitGone } from './cpu.js';
import type { types } from 'mediasoup';
import { linkCapabilities } from '../../services/media/src/link.js';
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

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const IP = '127.0.0.1';
export const REGION = 'bench';
export const NODE_ID = 'bench-media-1';
const ROOM = 'bench-forwarding';
const SENDER = 'sender';

type RtpCaps = ResponseOf<typeof MediaRoomOpen>['rtpCapabilities'];
type WireRtpParameters = RequestOf<typeof MediaProduce>['rtpParameters'];

export interface OursOptions {
  /** Env for the service on top of the benchmark's own (worker port range, capacity...). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** SRTP on every plain transport, asked for through plain.create / plain.connect (bench/forwarding.ts --srtp). */
  srtp?: SrtpMode;
  /** Consumers with the room's capabilities, or a link's (bench/forwarding.ts --caps). */
  caps?: ConsumerCaps;
}

/** The media service process, its log in a temporary file (a pipe nobody reads would block it). */
class MediaServiceProcess extends ManagedProcess {
  readonly #logDir: string;

  constructor(env: Record<string, string>) {
    const logDir = mkdtempSync(join(tmpdir(), 'strata-bench-media-'));
    super({
      command: process.execPath,
      args: ['--conditions=strata-src', '--import', import.meta.resolve('tsx'), 'services/media/src/main.ts'],
      cwd: REPO,
      env,
      name: 'media',
      logFile: join(logDir, 'media.log'),
    });
    this.#logDir = logDir;
  }

  /** Log lines at warn level or above (pino: level >= 40), and anything that is not JSON (stderr). */
  problems(): string[] {
    return this.output()
      .split('\n')
      .filter((line) => {
        if (!line.trim()) return false;
        try {
          const level = (JSON.parse(line) as { level?: unknown }).level;
          return typeof level === 'number' && level >= 40;
        } catch {
          return true;
        }
      });
  }

  removeLog(): void {
    rmSync(this.#logDir, { recursive: true, force: true });
  }
}

export class OursForwarding implements ForwardingSetup {
  readonly name = 'ours';
  readonly receivers: Receiver[] = [];
  private rtpCapabilities: RtpCaps = {};
  private videoProducerId = '';
  private audioProducerId = '';
  ingest: Ingest = { video: { ip: IP, port: 0 }, audio: { ip: IP, port: 0 } };
  private workerPid = 0;

  private constructor(
    private readonly nats: NatsServer,
    private readonly service: MediaServiceProcess,
    private readonly bus: Bus,
    private readonly srtp: SrtpMode | undefined,
    private readonly caps: ConsumerCaps,
  ) {}

  /** Starts nats-server and the media service, waits for its health, opens the room and the sender. */
  static async create(opts: OursOptions = {}): Promise<OursForwarding> {
    const nats = await startNatsServer();
    let service: MediaServiceProcess | undefined;
    let bus: Bus | undefined;
    try {
      service = new MediaServiceProcess({
        NATS_URL: nats.url,
        STRATA_REGION: REGION,
        STRATA_NODE_ID: NODE_ID,
        HTTP_PORT: '0',
        MEDIA_NUM_WORKERS: '1',
        LOG_PRETTY: 'false',
        ...opts.env,
      });
      bus = await Bus.connect({
        servers: nats.url,
        name: 'bench-forwarding',
        logger: createLogger({ service: 'bench', region: REGION, nodeId: 'bench-client', level: 'warn' }),
        // A worker near saturation answers its channel late; a benchmark that locates saturation waits for it.
        requestTimeoutMs: 60_000,
      });
      const ours = new OursForwarding(nats, service, bus, opts.srtp, opts.caps ?? 'router');
      await ours.waitHealthy(opts.startTimeoutMs ?? 60_000);
      await ours.openSender();
      return ours;
    } catch (err) {
      const log = service && !(err instanceof ProcessStartError) ? `\n--- media service log ---\n${service.tail()}` : '';
      await bus?.drain().catch(() => undefined);
      await service?.stop(10_000);
      service?.removeLog();
      await nats.stop();
      throw new Error(`${err instanceof Error ? err.message : String(err)}${log}`);
    }
  }

  private subject(op: string): string {
    return subjects.media(REGION, NODE_ID, op);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    await this.service.waitReady(
      {
        what: 'health ok over NATS',
        check: async () => {
          try {
            return (await this.bus.request(Health, subjects.health(REGION, 'media', NODE_ID), {}, { timeoutMs: 2000 })).status === 'ok';
          } catch (err) {
            if (err instanceof StrataError) return false; // no responder yet, or a timeout
            throw err;
          }
        },
        everyMs: 200,
      },
      timeoutMs,
    );
    const workers = childPids(this.service.pid, 'mediasoup-work');
    if (workers.length !== 1) throw new Error(`expected one mediasoup worker under the media service (pid ${this.service.pid}), found ${workers.length}`);
    this.workerPid = workers[0] as number;
  }

  private async openSender(): Promise<void> {
    const room = await this.bus.request(MediaRoomOpen, this.subject('room.open'), { roomId: ROOM });
    // What a link's consumers are made with is the media node's own choice; asked for here, the
    // node consumes with exactly these.
    this.rtpCapabilities = this.caps === 'link' ? (linkCapabilities(room.rtpCapabilities as types.RtpCapabilities) as RtpCaps) : room.rtpCapabilities;
    const produce = async (kind: 'video' | 'audio', rtpParameters: WireRtpParameters): Promise<{ ip: string; port: number; producerId: string }> => {
      const srtp = this.srtp;
      const t = await this.bus.request(MediaPlainTransportCreate, this.subject('plain.create'), {
        roomId: ROOM,
        peerId: SENDER,
        comedia: true,
        rtcpMux: true,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: INGEST_SRTP_SUITE } : {}),
      });
      // comedia: connect only hands over the key ffmpeg encrypts with.
      if (srtp)
        await this.bus.request(MediaPlainTransportConnect, this.subject('plain.connect'), {
          roomId: ROOM,
          peerId: SENDER,
          transportId: t.transportId,
          srtpParameters: srtp.ingestKey,
        });
      const p = await this.bus.request(MediaProduce, this.subject('producer.create'), {
        roomId: ROOM,
        peerId: SENDER,
        transportId: t.transportId,
        kind,
        rtpParameters,
        source: 'bot',
      });
      return { ip: t.ip, port: t.port, producerId: p.producerId };
    };
    const v = await produce('video', toWire(VIDEO_RTP_PARAMETERS));
    const a = await produce('audio', toWire(AUDIO_RTP_PARAMETERS));
    this.videoProducerId = v.producerId;
    this.audioProducerId = a.producerId;
    this.ingest = { video: { ip: v.ip, port: v.port }, audio: { ip: a.ip, port: a.port } };
  }

  async addReceivers(sinkPorts: number[]): Promise<void> {
    const first = this.receivers.length;
    const created = await mapLimit(sinkPorts, 8, async (sinkPort, i) => {
      const peerId = `recv-${first + i}`;
      const srtp = this.srtp;
      const t = await this.bus.request(MediaPlainTransportCreate, this.subject('plain.create'), {
        roomId: ROOM,
        peerId,
        comedia: false,
        rtcpMux: true,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp.suite } : {}),
      });
      // The sink sends nothing, but an SRTP transport needs the far side's key all the same.
      const connected = await this.bus.request(MediaPlainTransportConnect, this.subject('plain.connect'), {
        roomId: ROOM,
        peerId,
        transportId: t.transportId,
        ip: IP,
        port: sinkPort,
        ...(srtp ? { srtpParameters: randomSrtpParameters(srtp.suite) } : {}),
      });
      if (srtp && !connected.srtpParameters) throw new Error(`plain.connect of SRTP transport ${t.transportId} answered no srtpParameters`);
      const consume = async (producerId: string): Promise<number> => {
        const c = await this.bus.request(MediaConsume, this.subject('consumer.create'), {
          roomId: ROOM,
          peerId,
          transportId: t.transportId,
          producerId,
          rtpCapabilities: this.rtpCapabilities,
        });
        await this.bus.request(MediaConsumerAction, this.subject('consumer.action'), { roomId: ROOM, peerId, consumerId: c.consumerId, action: 'resume' });
        return firstSsrc(c.rtpParameters);
      };
      const videoSsrc = await consume(this.videoProducerId);
      const audioSsrc = await consume(this.audioProducerId);
      return { sinkPort, transportPort: t.port, videoSsrc, audioSsrc, ...(connected.srtpParameters ? { srtp: connected.srtpParameters } : {}) };
    });
    this.receivers.push(...created);
  }

  async setForwarding(on: boolean): Promise<void> {
    for (const producerId of [this.videoProducerId, this.audioProducerId]) {
      await this.bus.request(MediaProducerAction, this.subject('producer.action'), {
        roomId: ROOM,
        peerId: SENDER,
        producerId,
        action: on ? 'resume' : 'pause',
      });
    }
  }

  async cpu(): Promise<CpuSample> {
    const workerMs = procCpuMs(this.workerPid);
    const controlMs = procCpuMs(this.service.pid);
    if (workerMs === undefined || controlMs === undefined) throw new Error(`media service or its worker is gone:\n${this.service.tail()}`);
    return { workerMs, controlMs };
  }

  describe(): string {
    return `ours: worker pid ${this.workerPid}, controller = media service pid ${this.service.pid} (both /proc/<pid>/stat)`;
  }

  /** nats-server's CPU (not part of either figure; reported beside them). */
  natsCpuMs(): number | undefined {
    return procCpuMs(this.nats.process.pid);
  }

  serviceLog(): string {
    return this.service.tail();
  }

  async close(): Promise<void> {
    await this.bus.drain().catch(() => undefined);
    await this.service.stop(10_000);
    const problems = this.service.problems();
    if (problems.length) {
      process.stderr.write(
        `media service logged ${problems.length} warning/error line(s) during the run; first ones:\n${problems
          .slice(0, 5)
          .map((l) => `  ${l.slice(0, 400)}`)
          .join('\n')}\n`,
      );
    }
    this.service.removeLog();
    await this.nats.stop();
    // The service closes its worker on SIGTERM; make sure it did not outlive it.
    if (this.workerPid && !(await waitGone(this.workerPid))) {
      process.kill(this.workerPid, 'SIGKILL');
      throw new Error(`the media service's mediasoup worker ${this.workerPid} outlived the service; killed`);
    }
  }
}

/** mediasoup's RtpParameters as the protocol's wire shape (plain JSON objects). */
function toWire(p: object): WireRtpParameters {
  return JSON.parse(JSON.stringify(p)) as WireRtpParameters;
}
