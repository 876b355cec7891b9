import { bool, duration, oneOf, port, str, url, type ConfigOf } from '@strata/config';
import { ID_PATTERN, type ServiceKind } from '@strata/protocol';
import { hostname } from 'node:os';

const DEFAULT_HTTP_PORT: Record<ServiceKind, number> = {
  signaling: 7880,
  media: 7881,
  turn: 7882,
  'geo-router': 7883,
  recorder: 7884,
};

function defaultNodeId(kind: ServiceKind): string {
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 32);
  return `${kind}-${host}-${process.pid}`;
}

/** Variables every service reads; each service adds its own. */
export function baseConfigSpec(kind: ServiceKind) {
  return {
    NATS_URL: url({ description: 'NATS server(s) to connect to', default: 'nats://127.0.0.1:4222', protocols: ['nats', 'tls', 'ws', 'wss'] }),
    STRATA_REGION: str({ description: 'region this process serves', default: 'local', pattern: new RegExp(ID_PATTERN) }),
    STRATA_NODE_ID: str({ description: 'unique id of this process', default: defaultNodeId(kind), pattern: new RegExp(ID_PATTERN) }),
    HTTP_HOST: str({ description: 'address the HTTP endpoint (health, and for signaling the WebSocket) binds to', default: '127.0.0.1' }),
    HTTP_PORT: port({ description: 'HTTP port for /healthz (0: any free port)', default: DEFAULT_HTTP_PORT[kind] }),
    HEARTBEAT_INTERVAL: duration({ description: 'how often the process announces itself on NATS', default: 2000, min: 100, max: 60_000 }),
    LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, { description: 'pino log level', default: 'info' }),
    LOG_PRETTY: bool({ description: 'human-readable logs instead of JSON lines', default: false }),
    OTEL_EXPORTER_OTLP_ENDPOINT: str({ description: 'OTLP/HTTP collector URL; empty: traces are not exported', default: '' }),
  };
}

export type BaseConfig = ConfigOf<ReturnType<typeof baseConfigSpec>>;
