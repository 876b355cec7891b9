export { advertisedHost, baseConfigSpec } from './base-config.js';
export type { BaseConfig } from './base-config.js';
export { startService, runService } from './service.js';
export type { ServiceDefinition, ServiceContext, ServiceHandle, RunningService, HealthReport, LoadSample } from './service.js';
export { EventLoopLoad, ProcessLoad, capacityShare, loadScore } from './load.js';
export { startHealthHttp } from './health-http.js';
export { HeartbeatTable } from './heartbeat-table.js';
export type { Beat } from './heartbeat-table.js';
