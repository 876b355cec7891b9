import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { AlwaysOffSampler, BatchSpanProcessor, NoopSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TelemetryOptions {
  serviceName: string;
  version: string;
  region: string;
  nodeId: string;
  /** OTLP/HTTP base URL (e.g. http://collector:4318). Empty: spans are created and propagated, not exported. */
  otlpEndpoint?: string;
}

export interface Telemetry {
  readonly exporting: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK. Tracing is always on so trace context flows through NATS
 * headers between services; export is opt-in so a local run never tries to reach a collector.
 */
export function startTelemetry(opts: TelemetryOptions): Telemetry {
  const exporting = Boolean(opts.otlpEndpoint);
  const endpoint = opts.otlpEndpoint?.replace(/\/$/, '');
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': `strata-${opts.serviceName}`,
      'service.version': opts.version,
      'service.instance.id': opts.nodeId,
      'strata.region': opts.region,
    }),
    // With no processor at all the SDK would install no tracer provider, and trace ids would
    // not propagate; a no-op processor keeps tracing live without exporting.
    spanProcessors: [exporting ? new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })) : new NoopSpanProcessor()],
    // Spans nobody exports need not be recorded: unsampled, they still carry trace ids through
    // NATS headers and into log lines, at a fraction of the cost (no attributes, no timing).
    // OTEL_TRACES_SAMPLER, when set, decides as the OpenTelemetry spec says.
    ...(!exporting && !process.env['OTEL_TRACES_SAMPLER'] ? { sampler: new AlwaysOffSampler() } : {}),
    instrumentations: [],
  });
  sdk.start();
  return {
    exporting,
    async shutdown() {
      await sdk.shutdown().catch(() => undefined);
    },
  };
}
