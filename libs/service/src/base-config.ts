import { bool, duration, int, list, oneOf, port, str, url, type ConfigOf } from '@strata/config';
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
  const host = hostname()
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 32);
  return `${kind}-${host}-${process.pid}`;
}

/** Variables every service reads; each service adds its own. */
export function baseConfigSpec(kind: ServiceKind) {
  return {
    NATS_URL: list(url({ description: 'a NATS server URL', protocols: ['nats', 'tls'] }), {
      description: 'NATS server URLs to connect to, comma-separated (any one of a cluster will do)',
      default: ['nats://127.0.0.1:4222'],
    }),
    NATS_USER: str({
      description: 'NATS user this process connects as (deploy/nats/accounts.conf has one per service); empty: no authentication',
      default: '',
    }),
    NATS_PASSWORD: str({ description: 'password of NATS_USER', default: '' }),
    NATS_KV_REPLICAS: int({
      description:
        "replicas of a KV bucket this process creates (an existing bucket is used as it is): 1 for a lone nats-server, 3 in a region's 3-node cluster so the buckets outlive one server",
      default: 1,
      min: 1,
      max: 5,
    }),
    STRATA_REGION: str({ description: 'region this process serves', default: 'local', pattern: new RegExp(ID_PATTERN) }),
    STRATA_NODE_ID: str({ description: 'unique id of this process', default: defaultNodeId(kind), pattern: new RegExp(ID_PATTERN) }),
    HTTP_HOST: str({ description: 'address the HTTP endpoint (health, metrics, and for signaling the WebSocket) binds to', default: '127.0.0.1' }),
    HTTP_ADVERTISED_HOST: str({
      description: 'host other processes reach the HTTP endpoint at, in heartbeats; empty: HTTP_HOST, or 127.0.0.1 when that is 0.0.0.0',
      default: '',
    }),
    HTTP_PORT: port({ description: 'HTTP port for /healthz and /metrics (0: any free port)', default: DEFAULT_HTTP_PORT[kind] }),
    HEARTBEAT_INTERVAL: duration({ description: 'how often the process announces itself on NATS', default: 2000, min: 100, max: 60_000 }),
    LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, { description: 'pino log level', default: 'info' }),
    LOG_PRETTY: bool({ description: 'human-readable logs instead of JSON lines', default: false }),
    OTEL_EXPORTER_OTLP_ENDPOINT: str({ description: 'OTLP/HTTP collector URL; empty: traces are not exported', default: '' }),
  };
}

export type BaseConfig = ConfigOf<ReturnType<typeof baseConfigSpec>>;

/** The host to put in URLs for others: binding to every interface says nothing about where to call. */
export function advertisedHost(config: Pick<BaseConfig, 'HTTP_HOST' | 'HTTP_ADVERTISED_HOST'>): string {
  if (config.HTTP_ADVERTISED_HOST) return config.HTTP_ADVERTISED_HOST;
  return config.HTTP_HOST === '0.0.0.0' || config.HTTP_HOST === '::' ? '127.0.0.1' : config.HTTP_HOST;
}
