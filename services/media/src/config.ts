import { duration, int, oneOf, port, str } from '@strata/config';
import { cpus } from 'node:os';

const nodeConfig = {
  MEDIA_NUM_WORKERS: int({ description: 'mediasoup workers (one per core is the norm)', default: cpus().length, min: 1, max: 256 }),
  MEDIA_LISTEN_IP: str({ description: 'IP the WebRtcServers bind to', default: '127.0.0.1' }),
  MEDIA_ANNOUNCED_ADDRESS: str({
    description: 'IP or hostname given to clients in ICE candidates (behind NAT: the public one); empty: MEDIA_LISTEN_IP',
    default: '',
  }),
  MEDIA_RTC_PORT: port({ description: 'first WebRtcServer port; worker i listens on UDP+TCP port MEDIA_RTC_PORT+i (0: any free ports)', default: 0 }),
  MEDIA_LINK_LISTEN_IP: str({
    description: 'IP the links to other media nodes (cascaded rooms) listen on: one the other nodes reach; empty: MEDIA_LISTEN_IP',
    default: '',
  }),
  MEDIA_LINK_SRTP: oneOf(['cross-region', 'always'] as const, {
    description: 'SRTP on links to other media nodes: only to another region, or on every link',
    default: 'cross-region',
  }),
  MEDIA_LINK_ANNOUNCED_ADDRESS: str({ description: 'address other media nodes send link RTP to (behind NAT); empty: MEDIA_LINK_LISTEN_IP', default: '' }),
  MEDIA_RTC_MIN_PORT: port({ description: 'lowest port for PlainTransports/PipeTransports', default: 40000 }),
  MEDIA_RTC_MAX_PORT: port({ description: 'highest port for PlainTransports/PipeTransports', default: 49999 }),
  MEDIA_MAX_CONSUMERS: int({
    description: "consumers this node accepts before refusing new ones with CAPACITY; 0: 500 per worker (mediasoup's guidance for WebRTC)",
    default: 0,
    min: 0,
  }),
  MEDIA_WORKER_LOG_LEVEL: oneOf(['debug', 'warn', 'error', 'none'] as const, { description: 'mediasoup worker log level', default: 'warn' }),
};

const roomConfig = {
  MEDIA_ROOM_IDLE_TIMEOUT: duration({ description: 'a room with no member and no transport on this node for this long is closed', default: 30_000, min: 1000 }),
  MEDIA_ACTIVE_SPEAKER_INTERVAL: duration({ description: 'how often the active-speaker observer re-evaluates', default: 300, min: 100, max: 5000 }),
  MEDIA_LINK_LINGER: duration({
    description: 'a stream another node forwards here keeps flowing this long after nobody here watches it (then paused; closed once no consumer is left)',
    default: 3000,
    min: 0,
    max: 600_000,
  }),
  MEDIA_SPEAKERS_K: int({ description: "how many top speakers' audio every subscriber receives (the room-wide ranking's K)", default: 4, min: 1, max: 64 }),
  MEDIA_SPEAKER_HOLD: duration({
    description: 'a speaker who entered the top K stays at least this long (against flapping)',
    default: 2000,
    min: 0,
    max: 60_000,
  }),
  MEDIA_AUDIO_LEVEL_INTERVAL: duration({
    description: "how often each leg reports its speakers' audio levels to the other legs and re-ranks",
    default: 300,
    min: 50,
    max: 5000,
  }),
  MEDIA_AUDIO_LEVEL_THRESHOLD: int({ description: 'dBov under which a producer counts as silent for the ranking', default: -70, min: -127, max: 0 }),
  MEDIA_INITIAL_OUTGOING_BITRATE: int({ description: 'initial send bitrate estimate per WebRTC transport (bps)', default: 1_000_000, min: 100_000 }),
};

export const mediaConfig = { ...nodeConfig, ...roomConfig };
