/**
 * What the demo page exposes as `window.strataDemo`, for tests driving a browser. Kept free of
 * DOM types so that Node-side tests can import it.
 */
import type { ConnectionState, TransportConnectionState } from '@strata/client';

export type Phase = 'idle' | 'joining' | 'joined' | 'left' | 'failed';

export interface DemoState {
  phase: Phase;
  room: string | undefined;
  name: string | undefined;
  peerId: string | undefined;
  connection: ConnectionState;
  transports: { send: TransportConnectionState | undefined; recv: TransportConnectionState | undefined };
  /** How many times the signaling session was resumed on a new socket. */
  reconnects: number;
  /** ICE restarts the client applied to each transport (one per transport after each resume). */
  iceRestarts: { send: number; recv: number };
  peers: { peerId: string; identity: string; name: string | undefined; producers: number }[];
  producers: { producerId: string; kind: string; source: string | undefined }[];
  consumers: {
    consumerId: string;
    peerId: string;
    kind: string;
    source: string | undefined;
    /** 'simple' | 'simulcast' | 'svc' */
    type: string;
    paused: boolean;
    /** In the room view (out of it: paused, closed after the linger time). */
    inView: boolean;
    spatialLayer: number | null;
    temporalLayer: number | null;
  }[];
  activeSpeaker: string | undefined;
  /** The room's top-K speakers as the gateway last told them. */
  speakers: string[];
  /** Peers whose tile is on screen. */
  shownTiles: string[];
  errors: string[];
}

export interface InboundStats {
  consumerId: string;
  peerId: string;
  kind: string;
  packetsReceived: number;
  bytesReceived: number;
  packetsLost: number;
  framesDecoded: number | undefined;
  frameWidth: number | undefined;
  frameHeight: number | undefined;
}

export interface StrataDemo {
  readonly state: DemoState;
  /** inbound-rtp stats of every consumer, from the browser's own RTCPeerConnection. */
  stats(): Promise<InboundStats[]>;
  /** Kills the signaling socket as a network failure would (the client then resumes). */
  dropConnection(): void;
  leave(): Promise<void>;
}
