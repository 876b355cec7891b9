export { Bus } from './bus.js';
export type { BusOptions, HandlerContext, ServeOptions, RequestOptions } from './bus.js';
export { TypedKv } from './kv.js';
export type { KvEntry } from './kv.js';
export { injectTrace, extractTrace } from './trace.js';
