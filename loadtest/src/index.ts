/** What a load-test script imports: k6's API (metrics, check, sleep) and Strata's types. */
export { Counter, Gauge, Rate, Trend, builtin, type Tags } from './metrics.js';
export { check, sleep, type VuContext } from './vu.js';
export type { Options, ScenarioOptions, Stage } from './options.js';
export { parseDuration } from './options.js';
export type { SetupContext, ScriptModule } from './runner.js';
export type { Goal, SummaryExport, MetricExport } from './summary.js';
export { Session, type SessionOptions, type Target } from './session.js';
export { ServerSampler, withChildren } from './server-sampler.js';
