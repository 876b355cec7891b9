import { Bus } from '@strata/bus';
import { loadConfig, ConfigError, type ConfigOf, type ConfigSpec } from '@strata/config';
import { Health, Heartbeat, subjects, type EventOf, type ResponseOf, type ServiceKind } from '@strata/protocol';
import { createLogger, startTelemetry, type Logger } from '@strata/telemetry';
import type { Subscription } from 'nats';
import { advertisedHost, baseConfigSpec, type BaseConfig } from './base-config.js';
import { startHealthHttp, type HealthHttp } from './health-http.js';
import { EventLoopLoad, ProcessLoad } from './load.js';
import { metricsResponse, processMetrics, type MetricFamily, type MetricsResponse } from './metrics.js';

type Checks = Record<string, number | string | boolean>;
export type HealthReport = ResponseOf<typeof Health>;

export interface ServiceContext<C> {
  readonly kind: ServiceKind;
  readonly version: string;
  readonly config: BaseConfig & C;
  readonly region: string;
  readonly nodeId: string;
  readonly log: Logger;
  readonly bus: Bus;
  /** The current health report (what /healthz and the NATS health subject answer). */
  readonly report: () => Promise<HealthReport>;
  /** The answer to `GET /metrics` (what the kit's HTTP server serves, and a service that owns its HTTP serves too). */
  readonly metrics: () => MetricsResponse;
}

export interface ServiceHandle {
  /** Component checks; any `false` value makes the process report itself degraded. */
  health?(): Promise<Checks> | Checks;
  /** Capacity in use (score 0..1, see loadScore) and counts for the heartbeat, given what the kit measured since the last one. */
  load?(sample: LoadSample): { score: number; extraCpuMicros?: number; details: Record<string, number> };
  endpoints?(): Record<string, string>;
  /** The service's own metric families for `GET /metrics`, beside the kit's process ones; read at each scrape. */
  metrics?(): MetricFamily[];
  close(): Promise<void>;
}

/** Measured by the kit for every heartbeat. */
export interface LoadSample {
  /** The event loop's utilisation since the previous heartbeat, 0..1 (EventLoopLoad). */
  eventLoop: number;
}

export interface ServiceDefinition<S extends ConfigSpec> {
  kind: ServiceKind;
  version: string;
  config: S;
  /** The service answers GET /healthz and GET /metrics (ctx.metrics) on its own HTTP server (signaling's uWS app). */
  ownsHttp?: boolean;
  start(ctx: ServiceContext<ConfigOf<S>>): Promise<ServiceHandle>;
}

export interface RunningService<C> {
  readonly ctx: ServiceContext<C>;
  readonly httpPort: number | undefined;
  stop(reason?: string): Promise<void>;
}

/** Starts a service in this process: config, logger, telemetry, NATS, health, heartbeats. */
export async function startService<S extends ConfigSpec>(
  def: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService<ConfigOf<S>>> {
  const config = loadConfig({ ...baseConfigSpec(def.kind), ...def.config }, env) as BaseConfig & ConfigOf<S>;
  const region = config.STRATA_REGION;
  const nodeId = config.STRATA_NODE_ID;
  const log = createLogger({ service: def.kind, region, nodeId, level: config.LOG_LEVEL, pretty: config.LOG_PRETTY });
  const telemetry = startTelemetry({ serviceName: def.kind, version: def.version, region, nodeId, otlpEndpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT });
  const bus = await Bus.connect({
    servers: config.NATS_URL,
    name: `${def.kind}-${nodeId}`,
    logger: log,
    waitOnFirstConnect: true,
    user: config.NATS_USER,
    pass: config.NATS_PASSWORD,
    inboxPrefix: `_INBOX.${def.kind}`,
    kvReplicas: config.NATS_KV_REPLICAS,
  });

  const startedAt = Date.now();
  const load = new ProcessLoad();
  const eventLoop = new EventLoopLoad();
  let handle: ServiceHandle | undefined;
  let draining = false;
  let lastBeat: { eventLoop: number; score: number } | undefined;

  const report = async (): Promise<HealthReport> => {
    const checks: Checks = { nats: !bus.nc.isClosed() && !bus.nc.isDraining(), ...(handle?.health ? await handle.health() : {}) };
    const healthy = Object.values(checks).every((v) => v !== false);
    return {
      kind: def.kind,
      id: nodeId,
      region,
      version: def.version,
      status: draining ? 'draining' : healthy ? 'ok' : 'degraded',
      uptimeMs: Date.now() - startedAt,
      checks,
    };
  };
  const metrics = (): MetricsResponse =>
    metricsResponse(
      () => [
        ...processMetrics({ kind: def.kind, region, node: nodeId, version: def.version, eventLoop: lastBeat?.eventLoop, loadScore: lastBeat?.score }),
        ...(handle?.metrics?.() ?? []),
      ],
      (err) => log.error({ err }, 'GET /metrics failed'),
    );
  const ctx: ServiceContext<ConfigOf<S>> = { kind: def.kind, version: def.version, config, region, nodeId, log, bus, report, metrics };

  try {
    handle = await def.start(ctx);
  } catch (err) {
    log.fatal({ err }, 'service failed to start');
    await bus.drain().catch(() => undefined);
    await telemetry.shutdown();
    throw err;
  }

  const subs: Subscription[] = [bus.serve(Health, subjects.health(region, def.kind, nodeId), () => report())];
  const http: HealthHttp | undefined = def.ownsHttp ? undefined : await startHealthHttp(config.HTTP_HOST, config.HTTP_PORT, report, metrics);

  const beat = (): void => {
    const loop = eventLoop.sample();
    const l = handle?.load?.({ eventLoop: loop }) ?? { score: 0, details: {} };
    lastBeat = { eventLoop: loop, score: Math.max(0, l.score) };
    const p = load.sample(l.extraCpuMicros ?? 0);
    const event: EventOf<typeof Heartbeat> = {
      kind: def.kind,
      id: nodeId,
      region,
      version: def.version,
      startedAt,
      ts: Date.now(),
      intervalMs: config.HEARTBEAT_INTERVAL,
      endpoints: { ...(http ? { http: `http://${advertisedHost(config)}:${http.port}` } : {}), ...(handle?.endpoints?.() ?? {}) },
      load: { score: lastBeat.score, cpu: p.cpu, rssBytes: p.rssBytes, details: l.details },
      draining,
    };
    try {
      bus.publish(Heartbeat, subjects.heartbeat(region, def.kind, nodeId), event);
    } catch (err) {
      log.error({ err }, 'heartbeat not sent');
    }
  };
  beat();
  const timer = setInterval(beat, config.HEARTBEAT_INTERVAL);
  timer.unref();
  log.info({ httpPort: http?.port, endpoints: handle.endpoints?.() }, `${def.kind} ready`);

  let stopping: Promise<void> | undefined;
  const stop = (reason = 'stop'): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, `${def.kind} shutting down`);
      draining = true;
      clearInterval(timer);
      if (!bus.nc.isClosed()) beat(); // tells peers we are going before we go
      // Health stays up (answering "draining") while the service lets go of its work.
      await handle?.close().catch((err: unknown) => log.error({ err }, 'error while closing'));
      for (const s of subs) s.unsubscribe();
      await http?.close();
      await bus.drain().catch((err: unknown) => log.warn({ err }, 'NATS drain failed'));
      await telemetry.shutdown();
      log.info(`${def.kind} stopped`);
      log.flush();
    })();
    return stopping;
  };
  return { ctx, httpPort: http?.port, stop };
}

/**
 * Entry point for a service process: a bad variable exits 78 with its name, SIGTERM/SIGINT
 * drain and exit 0, an uncaught exception exits 1 after logging.
 */
export async function runService<S extends ConfigSpec>(def: ServiceDefinition<S>): Promise<void> {
  let running: RunningService<ConfigOf<S>>;
  try {
    running = await startService(def);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${def.kind}: ${err.message}\n`);
      process.exit(78);
    }
    process.stderr.write(`${def.kind}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  }
  const { log } = running.ctx;
  const shutdown = (signal: string): void => {
    const force = setTimeout(() => {
      log.error('shutdown took too long; exiting');
      process.exit(1);
    }, 10_000);
    force.unref();
    running.stop(signal).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.on('unhandledRejection', (reason) => log.error({ err: reason }, 'unhandled promise rejection'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception; exiting');
    log.flush();
    process.exit(1);
  });
}
