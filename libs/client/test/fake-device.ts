import type {
  ConsumeOptionsLike,
  ConsumerLike,
  DeviceLike,
  MediaKind,
  ProduceOptionsLike,
  ProducerLike,
  TransportLike,
  TransportOptionsLike,
  WireDtlsParameters,
  WireIceParameters,
  WireRtpCapabilities,
  WireRtpParameters,
} from '@strata/client';

export interface FakeTrack {
  kind: MediaKind;
  id: string;
}

type ConnectListener = (p: { dtlsParameters: WireDtlsParameters }, cb: () => void, eb: (e: Error) => void) => void;
type ProduceListener = (
  p: { kind: MediaKind; rtpParameters: WireRtpParameters; appData: Record<string, unknown> },
  cb: (r: { id: string }) => void,
  eb: (e: Error) => void,
) => void;

/**
 * Behaves like mediasoup-client's transports as far as the signaling goes: `connect` is
 * emitted on the first produce/consume and awaited, `produce` waits for the server's id.
 */
export class FakeTransport implements TransportLike<FakeTrack> {
  closed = false;
  connectionState = 'new';
  readonly restarts: WireIceParameters[] = [];
  readonly consumers: FakeConsumer[] = [];
  #connected: Promise<void> | undefined;
  #onConnect: ConnectListener | undefined;
  #onProduce: ProduceListener | undefined;

  constructor(
    readonly direction: 'send' | 'recv',
    readonly options: TransportOptionsLike,
  ) {}

  get id(): string {
    return this.options.id;
  }

  on(event: 'connect', listener: ConnectListener): unknown;
  on(event: 'produce', listener: ProduceListener): unknown;
  on(event: 'connectionstatechange', listener: (state: 'new' | 'connecting' | 'connected' | 'failed' | 'disconnected' | 'closed') => void): unknown;
  on(event: string, listener: unknown): unknown {
    if (event === 'connect') this.#onConnect = listener as ConnectListener;
    if (event === 'produce') this.#onProduce = listener as ProduceListener;
    return this;
  }

  #connect(): Promise<void> {
    this.#connected ??= new Promise((resolve, reject) =>
      this.#onConnect!({ dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA' }] } }, resolve, reject),
    );
    return this.#connected;
  }

  async produce(options: ProduceOptionsLike<FakeTrack>): Promise<ProducerLike> {
    await this.#connect();
    const kind = (options.track as FakeTrack).kind;
    const { id } = await new Promise<{ id: string }>((resolve, reject) =>
      this.#onProduce!(
        {
          kind,
          rtpParameters: {
            codecs: [
              kind === 'audio'
                ? { mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }
                : { mimeType: 'video/VP8', payloadType: 101, clockRate: 90000 },
            ],
            encodings: (options.encodings ?? []).map((e) => ({ ...e })),
          },
          appData: options.appData ?? {},
        },
        resolve,
        reject,
      ),
    );
    return { id, kind, rtpParameters: { headerExtensions: [] }, closed: false, paused: false, pause() {}, resume() {}, close() {} };
  }

  async consume(options: ConsumeOptionsLike): Promise<ConsumerLike<FakeTrack>> {
    await this.#connect();
    const c = new FakeConsumer(options.id!, options.producerId!, options.kind!);
    this.consumers.push(c);
    return c;
  }

  async restartIce({ iceParameters }: { iceParameters: WireIceParameters }): Promise<void> {
    this.restarts.push(iceParameters);
  }

  close(): void {
    this.closed = true;
  }
}

export class FakeConsumer implements ConsumerLike<FakeTrack> {
  closed = false;
  readonly track: FakeTrack;
  constructor(
    readonly id: string,
    readonly producerId: string,
    readonly kind: MediaKind,
  ) {
    this.track = { kind, id: `track-${id}` };
  }
  close(): void {
    this.closed = true;
  }
  async getStats(): Promise<unknown> {
    return [];
  }
}

export class FakeDevice implements DeviceLike<FakeTrack> {
  loaded = false;
  loadedWith: WireRtpCapabilities | undefined;
  readonly transports: FakeTransport[] = [];
  readonly rtpCapabilities: WireRtpCapabilities = {
    codecs: [
      { mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
      { mimeType: 'video/VP8', clockRate: 90000 },
    ],
  };

  async load({ routerRtpCapabilities }: { routerRtpCapabilities: WireRtpCapabilities }): Promise<void> {
    this.loaded = true;
    this.loadedWith = routerRtpCapabilities;
  }
  canProduce(): boolean {
    return true;
  }
  createSendTransport(options: TransportOptionsLike): FakeTransport {
    const t = new FakeTransport('send', options);
    this.transports.push(t);
    return t;
  }
  createRecvTransport(options: TransportOptionsLike): FakeTransport {
    const t = new FakeTransport('recv', options);
    this.transports.push(t);
    return t;
  }
}
