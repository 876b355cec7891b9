export { createLogger } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
export { startTelemetry } from './otel.js';
export type { Telemetry, TelemetryOptions } from './otel.js';
