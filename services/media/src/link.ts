import { StrataError, type LinkTuple, type SrtpParameters } from '@strata/protocol';
import type { Logger } from '@strata/telemetry';
import type { types } from 'mediasoup';
import { mediasoupCall } from './media-error.js';

export interface LinkSettings {
  /** Where links listen: an address other nodes reach (not necessarily the client-facing one). */
  listenIp: string;
  announcedAddress: string | undefined;
  /** SRTP on every link (`always`) or on those to another region only (`cross-region`). */
  srtp: 'always' | 'cross-region';
}

/** The suite of SRTP links: mediasoup's default, which every SRTP stack speaks. */
const LINK_SRTP_SUITE = 'AES_CM_128_HMAC_SHA1_80' as const;

/**
 * This node's end of the link between two legs of a room: one plain RTP transport (RTCP
 * muxed) that sends what the far leg pulls from here and receives what this leg pulls from
 * there, whichever side asked first. Plain rather than mediasoup's pipe transport because a
 * pipe consumer forwards every simulcast layer, and a plain transport's consumers forward one
 * layer chosen here. There is no bandwidth estimation on a link (its consumers are made
 * without transport-cc or REMB): the layer is what the far leg's subscribers need, not what a
 * congestion controller guesses.
 */
export class Link {
  private remote: LinkTuple | undefined;
  private connecting: Promise<void> | undefined;

  private constructor(
    readonly farNodeId: string,
    readonly transport: types.PlainTransport,
    private readonly announcedAddress: string | undefined,
    private readonly log: Logger,
  ) {}

  /** `srtp`: this end encrypts (and expects the far end to). */
  static async create(router: types.Router, farNodeId: string, settings: LinkSettings, srtp: boolean, log: Logger): Promise<Link> {
    const transport = await mediasoupCall(() =>
      router.createPlainTransport({
        listenInfo: { protocol: 'udp', ip: settings.listenIp, ...(settings.announcedAddress ? { announcedAddress: settings.announcedAddress } : {}) },
        rtcpMux: true,
        comedia: false,
        ...(srtp ? { enableSrtp: true, srtpCryptoSuite: LINK_SRTP_SUITE } : {}),
        appData: { link: farNodeId },
      }),
    );
    return new Link(farNodeId, transport, settings.announcedAddress, log.child({ link: farNodeId, transportId: transport.id }));
  }

  /** Where this end receives, and the key it encrypts with on an SRTP link. */
  get tuple(): LinkTuple {
    const srtp = this.transport.srtpParameters;
    return {
      ip: this.announcedAddress ?? this.transport.tuple.localAddress,
      port: this.transport.tuple.localPort,
      ...(srtp ? { srtpParameters: { ...srtp } as SrtpParameters } : {}),
    };
  }

  get srtp(): boolean {
    return this.transport.srtpParameters !== undefined;
  }

  get connected(): boolean {
    return this.remote !== undefined;
  }

  get closed(): boolean {
    return this.transport.closed;
  }

  /**
   * Sends to the far end at `tuple`. Both ends may learn the other's tuple twice (each asked
   * the other at once): the same tuple again is a no-op, another one is a conflict.
   */
  async connectTo(tuple: LinkTuple): Promise<void> {
    if (this.srtp !== (tuple.srtpParameters !== undefined)) {
      throw new StrataError(
        'CONFLICT',
        `link to ${this.farNodeId}: this end ${this.srtp ? 'uses' : 'does not use'} SRTP and the far end ${this.srtp ? 'does not' : 'does'}`,
      );
    }
    if (this.remote) {
      if (this.remote.ip !== tuple.ip || this.remote.port !== tuple.port) {
        throw new StrataError('CONFLICT', `link to ${this.farNodeId} already sends to ${this.remote.ip}:${this.remote.port}`);
      }
      return this.connecting;
    }
    this.remote = tuple;
    const { srtpParameters } = tuple;
    const connecting = mediasoupCall(() =>
      this.transport.connect({ ip: tuple.ip, port: tuple.port, ...(srtpParameters ? { srtpParameters: { ...srtpParameters } } : {}) }),
    );
    this.connecting = connecting;
    try {
      await connecting;
    } catch (err) {
      // mediasoup keeps a transport it refused a tuple unconnected: so does this end, or it
      // would say it is connected and take no other tuple.
      if (this.connecting === connecting) {
        this.remote = undefined;
        this.connecting = undefined;
      }
      throw err;
    }
    this.log.info({ remote: tuple }, 'link connected');
  }

  close(): void {
    if (this.transport.closed) return;
    this.transport.close();
    this.log.info('link closed');
  }
}

/**
 * The capabilities a link's consumers are made with: the router's own, without what would
 * put a congestion controller on the link (transport-cc, REMB and their header extensions) or
 * tie streams to MIDs (a link demultiplexes by SSRC, as a pipe does).
 */
export function linkCapabilities(caps: types.RtpCapabilities): types.RtpCapabilities {
  const dropExt = new Set([
    'urn:ietf:params:rtp-hdrext:sdes:mid',
    'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  ]);
  return {
    codecs: (caps.codecs ?? []).map((c) => ({ ...c, rtcpFeedback: (c.rtcpFeedback ?? []).filter((f) => f.type !== 'transport-cc' && f.type !== 'goog-remb') })),
    headerExtensions: (caps.headerExtensions ?? []).filter((h) => !dropExt.has(h.uri)),
  };
}
