export { Bus } from './bus.js';
export type { BusOptions, HandlerContext, ServeOptions, RequestOptions } from './bus.js';
export { TypedKv } from './kv.js';
export type { KvBucket, KvEntry } from './kv.js';
export { MemoryKv } from './memory-kv.js';
export type { MemoryKvOptions } from './memory-kv.js';
export { injectTrace, extractTrace } from './trace.js';
