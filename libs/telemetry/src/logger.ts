import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  service: string;
  region: string;
  nodeId: string;
  level?: string;
  /** Human-readable lines for `npm run dev`; JSON otherwise. */
  pretty?: boolean;
  /** Where JSON lines go; defaults to stdout. Tests pass a stream to read them back. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const base = { service: opts.service, region: opts.region, nodeId: opts.nodeId };
  const options = {
    level: opts.level ?? 'info',
    base,
    // Ties a log line to the trace that caused it, so one can jump from logs to spans.
    mixin() {
      const ctx = trace.getActiveSpan()?.spanContext();
      return ctx ? { traceId: ctx.traceId, spanId: ctx.spanId } : {};
    },
  };
  if (opts.pretty) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname', singleLine: true } } });
  }
  if (opts.destination) return pino(options, opts.destination);
  return pino(options);
}
