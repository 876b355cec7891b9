export { ConfigError, loadConfig, loadConfigOrExit } from './load.js';
export type { ConfigSpec, ConfigOf } from './load.js';
export { bool, int, oneOf, port, str, url, duration, list } from './vars.js';
export type { VarSpec } from './vars.js';
export { defaultCell, describeConfig } from './describe.js';
