import type { SrtpCryptoSuite, TransportInfo } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { mediasoupCall } from './media-error.js';
import type { PooledWorker } from './worker-pool.js';

export type Direction = 'send' | 'recv';
export type AnyTransport = types.WebRtcTransport | types.PlainTransport;

export interface TransportSettings {
  initialOutgoingBitrate: number;
  listenIp: string;
  announcedAddress: string | undefined;
}

/**
 * Creates the transports peers use: WebRTC ones on the worker's WebRtcServer (one port pair
 * per worker, not per peer), plain RTP ones on the node's listen address. Knows nothing of
 * rooms or owners; the room indexes what this makes.
 */
export class PeerTransports {
  constructor(
    private readonly router: types.Router,
    private readonly worker: PooledWorker,
    private readonly settings: TransportSettings,
    private readonly log: Logger,
  ) {}

  /** `onDtlsEnded` runs once a transport's DTLS failed or closed: it carries nothing any more. */
  async webRtc(
    peerId: string,
    direction: Direction,
    forceTcp: boolean,
    onDtlsEnded: (t: types.WebRtcTransport) => void,
  ): Promise<{ transport: types.WebRtcTransport; info: TransportInfo }> {
    const transport = await mediasoupCall(() =>
      this.router.createWebRtcTransport({
        webRtcServer: this.worker.webRtcServer,
        enableUdp: !forceTcp,
        enableTcp: true,
        preferUdp: !forceTcp,
        initialAvailableOutgoingBitrate: this.settings.initialOutgoingBitrate,
        appData: { peerId, direction },
      }),
    );
    transport.on('dtlsstatechange', (state) => {
      if (state !== 'failed' && state !== 'closed') return;
      // The client can create a new transport once told; this one is dead either way.
      this.log.warn({ peerId, transportId: transport.id, state }, 'DTLS ended; closing transport');
      if (!transport.closed) transport.close();
      onDtlsEnded(transport);
    });
    transport.on('icestatechange', (state) => this.log.debug({ peerId, transportId: transport.id, state }, 'ICE state'));
    const info: TransportInfo = {
      transportId: transport.id,
      iceParameters: { ...transport.iceParameters },
      iceCandidates: transport.iceCandidates.map((c) => ({ ...c })),
      dtlsParameters: { ...transport.dtlsParameters, fingerprints: transport.dtlsParameters.fingerprints.map((f) => ({ ...f })) },
    };
    return { transport, info };
  }

  /** `srtp`: SRTP/SRTCP with that suite; the info then carries the key this transport encrypts with. */
  async plain(peerId: string, comedia: boolean, rtcpMux: boolean, srtp?: { cryptoSuite: SrtpCryptoSuite }) {
    const { listenIp, announcedAddress } = this.settings;
    const transport = await mediasoupCall(() =>
      this.router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: listenIp, ...(announcedAddress ? { announcedAddress } : {}) },
        comedia,
        rtcpMux,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: srtp.cryptoSuite } : {}),
        // comedia is kept to check plain.connect's address; mediasoup does not expose it.
        appData: { peerId, comedia },
      }),
    );
    const info = {
      transportId: transport.id,
      ip: announcedAddress ?? transport.tuple.localAddress,
      port: transport.tuple.localPort,
      ...(transport.rtcpTuple ? { rtcpPort: transport.rtcpTuple.localPort } : {}),
      ...(transport.srtpParameters ? { srtpParameters: { ...transport.srtpParameters } } : {}),
    };
    return { transport, info };
  }
}

/** The direction a WebRTC transport was created for; plain transports have none. */
export function directionOf(transport: AnyTransport): Direction | undefined {
  return (transport.appData as { direction?: Direction }).direction;
}
